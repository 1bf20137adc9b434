import {
  EnvoyCodecError,
  TypeUrl,
  decodeMessage,
  encodeMessage,
  envoyProtoRoot,
  envoyProtoRootLoadMillis,
  loadEnvoyProtoRoot,
  lookupMessageType,
  packAny,
  typeUrlOf,
  typedAny,
  unpackAny,
} from '../src';
import { clusterLoadAssignment, edsCluster, listener, routeConfiguration, secret } from './fixtures';

function roundTrip(typeName: string, obj: object): Record<string, unknown> {
  return decodeMessage(typeName, encodeMessage(typeName, obj));
}

function codecError(fn: () => unknown): EnvoyCodecError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(EnvoyCodecError);
    return err as EnvoyCodecError;
  }
  throw new Error('expected an EnvoyCodecError');
}

describe('Envoy proto root', () => {
  it('loads once and is shared', () => {
    const root = envoyProtoRoot();
    expect(envoyProtoRoot()).toBe(root);
    expect(envoyProtoRootLoadMillis()).toBeGreaterThan(0);
    expect(lookupMessageType('envoy.config.listener.v3.Listener').fullName).toBe('.envoy.config.listener.v3.Listener');
    expect(() => lookupMessageType('envoy.config.listener.v3.Nope')).toThrow(/unknown message type envoy.config.listener.v3.Nope/);
  });

  it('names a .proto file it cannot find', () => {
    expect(() => loadEnvoyProtoRoot({ extraFiles: ['acme/widget/v1/widget.proto'] })).toThrow(
      /^Envoy protos: cannot find acme\/widget\/v1\/widget.proto \(imported from the root file list\) under .*deps\/envoy-api/,
    );
  });
});

describe('encodeMessage / decodeMessage round trip', () => {
  it.each([
    ['Listener with HttpConnectionManager and router', 'envoy.config.listener.v3.Listener', listener],
    ['RouteConfiguration using every contract field', 'envoy.config.route.v3.RouteConfiguration', routeConfiguration],
    ['EDS Cluster with HttpProtocolOptions', 'envoy.config.cluster.v3.Cluster', edsCluster],
    ['ClusterLoadAssignment', 'envoy.config.endpoint.v3.ClusterLoadAssignment', clusterLoadAssignment],
    ['Secret', 'envoy.extensions.transport_sockets.tls.v3.Secret', secret],
  ])('%s', (_label, typeName, resource) => {
    expect(roundTrip(typeName, resource)).toEqual(resource);
  });

  it('produces the bytes protobuf expects (Any holds the packed typed_config)', () => {
    const root = envoyProtoRoot();
    const type = root.lookupType('envoy.config.listener.v3.Listener');
    const raw = type.toObject(type.decode(encodeMessage('envoy.config.listener.v3.Listener', listener)), { longs: Number });
    const any = raw['filter_chains'][0].filters[0].typed_config;
    expect(any.type_url).toBe('type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
    const hcmType = root.lookupType('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
    const hcm = hcmType.toObject(hcmType.decode(any.value), { enums: String, longs: Number });
    expect(hcm['stat_prefix']).toBe('default/eg/http');
    expect(hcm['codec_type']).toBe('AUTO');
    expect(hcm['stream_idle_timeout']).toEqual({ seconds: 300 });
  });

  it('writes durations, wrappers, enums, bytes and 64-bit ints in Envoy JSON form', () => {
    const cluster = roundTrip('envoy.config.cluster.v3.Cluster', {
      name: 'c',
      connect_timeout: '1.5s',
      per_connection_buffer_limit_bytes: 0,
      lb_policy: 1,
      common_lb_config: { healthy_panic_threshold: { value: 50 } },
      circuit_breakers: { thresholds: [{ max_connections: 100, retry_budget: { budget_percent: { value: 12.5 } } }] },
      dns_refresh_rate: '0.000001s',
      ignore_health_on_host_removal: false,
      max_requests_per_connection: 1000,
    });
    expect(cluster).toEqual({
      name: 'c',
      connect_timeout: '1.500s',
      per_connection_buffer_limit_bytes: 0,
      lb_policy: 'LEAST_REQUEST',
      common_lb_config: { healthy_panic_threshold: { value: 50 } },
      circuit_breakers: { thresholds: [{ max_connections: 100, retry_budget: { budget_percent: { value: 12.5 } } }] },
      dns_refresh_rate: '0.000001s',
      ignore_health_on_host_removal: false,
      max_requests_per_connection: 1000,
    });
    const runtime = roundTrip('envoy.config.core.v3.RuntimeUInt32', { default_value: 7, runtime_key: 'k' });
    expect(runtime).toEqual({ default_value: 7, runtime_key: 'k' });
    const header = roundTrip('envoy.config.core.v3.HeaderValue', { key: 'x', raw_value: Buffer.from([0, 255, 1]).toString('base64') });
    expect(header).toEqual({ key: 'x', raw_value: 'AP8B' });
    const request = roundTrip('envoy.service.discovery.v3.DeltaDiscoveryResponse', {
      resources: [{ name: 'r', ttl: '60s', resource: { '@type': TypeUrl.ClusterLoadAssignment, cluster_name: 'r' } }],
    });
    expect(request).toEqual({ resources: [{ name: 'r', ttl: '60s', resource: { '@type': TypeUrl.ClusterLoadAssignment, cluster_name: 'r' } }] });
    const fractional = roundTrip('envoy.type.v3.FractionalPercent', { numerator: 3, denominator: 'MILLION' });
    expect(fractional).toEqual({ numerator: 3, denominator: 'MILLION' });
  });

  it('keeps an int64 as a number and accepts a decimal string on input', () => {
    const value = roundTrip('envoy.config.route.v3.RouteAction.MaxStreamDuration', { max_stream_duration: '2s' });
    expect(value).toEqual({ max_stream_duration: '2s' });
    const status = roundTrip('envoy.type.v3.Int64Range', { start: '-5', end: 9007199254740991 });
    expect(status).toEqual({ start: -5, end: 9007199254740991 });
  });

  it('maps wrapper types to plain values and Struct to plain JSON', () => {
    const route = roundTrip('envoy.config.route.v3.VirtualHost', {
      name: 'v',
      domains: ['*'],
      include_request_attempt_count: true,
      per_request_buffer_limit_bytes: 1024,
      metadata: { filter_metadata: { x: { a: null, b: [1, 'two', false, { c: {} }] } } },
    });
    expect(route).toEqual({
      name: 'v',
      domains: ['*'],
      include_request_attempt_count: true,
      per_request_buffer_limit_bytes: 1024,
      metadata: { filter_metadata: { x: { a: null, b: [1, 'two', false, { c: {} }] } } },
    });
  });

  it('encodes equal content to equal bytes whatever the key order of maps and Structs', () => {
    const a = { name: 'c', metadata: { filter_metadata: { b: { y: 1, x: 2 }, a: { k: 'v' } } } };
    const b = { metadata: { filter_metadata: { a: { k: 'v' }, b: { x: 2, y: 1 } } }, name: 'c' };
    expect(Buffer.from(encodeMessage('envoy.config.cluster.v3.Cluster', a))).toEqual(Buffer.from(encodeMessage('envoy.config.cluster.v3.Cluster', b)));
  });

  it('packs a well-known type inside an Any as { @type, value }', () => {
    const typed = roundTrip('envoy.config.core.v3.TypedExtensionConfig', {
      name: 'n',
      typed_config: { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '3s' },
    });
    expect(typed).toEqual({ name: 'n', typed_config: { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '3s' } });
    const struct = { '@type': 'type.googleapis.com/google.protobuf.Struct', value: { a: [1, { b: null }] } };
    expect(unpackAny(packAny(struct))).toEqual(struct);
  });
});

describe('packAny / unpackAny', () => {
  it('packs a resource by its @type and unpacks it back', () => {
    const resource = { '@type': TypeUrl.Cluster, ...edsCluster };
    const any = packAny(resource);
    expect(any.type_url).toBe(TypeUrl.Cluster);
    expect(any.value).toBeInstanceOf(Uint8Array);
    expect(unpackAny(any)).toEqual(resource);
  });

  it('packs by an explicit type URL when the object has no @type', () => {
    const any = packAny(clusterLoadAssignment, TypeUrl.ClusterLoadAssignment);
    expect(decodeMessage('envoy.config.endpoint.v3.ClusterLoadAssignment', any.value)).toEqual(clusterLoadAssignment);
  });

  it('rejects a missing or conflicting @type', () => {
    expect(codecError(() => packAny({ name: 'x' })).message).toMatch(/'@type' is required/);
    expect(codecError(() => packAny({ '@type': TypeUrl.Listener, name: 'x' }, TypeUrl.Cluster)).message).toMatch(/does not match the type URL/);
  });

  it('names an unknown type URL when unpacking', () => {
    const err = codecError(() => unpackAny({ type_url: 'type.googleapis.com/acme.Widget', value: new Uint8Array(0) }));
    expect(err.message).toContain('unknown type type.googleapis.com/acme.Widget');
  });

  it('builds type URLs from message names', () => {
    expect(typeUrlOf('envoy.config.listener.v3.Listener')).toBe(TypeUrl.Listener);
  });
});

describe('encode errors name the field path', () => {
  const L = 'envoy.config.listener.v3.Listener';

  it('unknown @type inside a nested Any', () => {
    const bad = {
      name: 'l',
      filter_chains: [{ filters: [{ name: 'f', typed_config: { '@type': 'type.googleapis.com/acme.Widget' } }] }],
    };
    const err = codecError(() => encodeMessage(L, bad));
    expect(err.path).toBe('Listener.filter_chains[0].filters[0].typed_config');
    expect(err.message).toBe('Listener.filter_chains[0].filters[0].typed_config: unknown type type.googleapis.com/acme.Widget (not among the loaded Envoy protos)');
  });

  it('unknown field, with a hint for camelCase', () => {
    expect(codecError(() => encodeMessage(L, { name: 'l', bogus: 1 })).message).toBe(
      'Listener.bogus: unknown field: envoy.config.listener.v3.Listener has no field "bogus"',
    );
    const err = codecError(() => encodeMessage(L, { statPrefix: 'x' }));
    expect(err.message).toContain('did you mean stat_prefix?');
  });

  it('unknown field inside an Any payload', () => {
    const bad = structuredClone(listener) as { filter_chains: { filters: { typed_config: Record<string, unknown> }[] }[] };
    delete bad.filter_chains[0].filters[0].typed_config['rds'];
    bad.filter_chains[0].filters[0].typed_config['route_config'] = { virtual_hosts: [{ name: 'v', routes: [{ match: { prefx: '/' } }] }] };
    const err = codecError(() => encodeMessage(L, bad));
    expect(err.path).toBe('Listener.filter_chains[0].filters[0].typed_config.route_config.virtual_hosts[0].routes[0].match.prefx');
  });

  it('wrong JSON types', () => {
    expect(codecError(() => encodeMessage(L, { address: { socket_address: { port_value: '80' } } })).message).toBe(
      'Listener.address.socket_address.port_value: expected uint32 (an integer from 0 to 4294967295), got the string "80"',
    );
    expect(codecError(() => encodeMessage(L, { filter_chains: {} })).message).toBe('Listener.filter_chains: expected an array, got an object');
    expect(codecError(() => encodeMessage(L, { name: 5 })).path).toBe('Listener.name');
    expect(codecError(() => encodeMessage(L, { per_connection_buffer_limit_bytes: -1 })).path).toBe('Listener.per_connection_buffer_limit_bytes');
    expect(codecError(() => encodeMessage(L, { listener_filters_timeout: 5 })).message).toContain('expected a duration string like "1.5s"');
    expect(codecError(() => encodeMessage(L, { listener_filters_timeout: '5ms' })).path).toBe('Listener.listener_filters_timeout');
  });

  it('unknown enum names list the known ones', () => {
    const err = codecError(() => encodeMessage('envoy.config.cluster.v3.Cluster', { lb_policy: 'FASTEST' }));
    expect(err.path).toBe('Cluster.lb_policy');
    expect(err.message).toContain('unknown LbPolicy value "FASTEST" (known: ROUND_ROBIN, LEAST_REQUEST');
  });

  it('two members of one oneof', () => {
    const err = codecError(() =>
      encodeMessage('envoy.config.route.v3.RouteConfiguration', { virtual_hosts: [{ routes: [{ match: { prefix: '/', path: '/a' } }] }] }),
    );
    expect(err.path).toBe('RouteConfiguration.virtual_hosts[0].routes[0].match.path');
    expect(err.message).toContain('only one of prefix, path, safe_regex');
  });

  it('a map value with the wrong type names the key', () => {
    const err = codecError(() =>
      encodeMessage('envoy.config.cluster.v3.Cluster', { typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { explicit_http_config: {} } } }),
    );
    expect(err.message).toBe(
      'Cluster.typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]: \'@type\' is required in a google.protobuf.Any',
    );
  });

  it('a top-level @type must match the message', () => {
    expect(() => encodeMessage(L, { '@type': TypeUrl.Listener, name: 'l' })).not.toThrow();
    expect(codecError(() => encodeMessage(L, { '@type': TypeUrl.Cluster, name: 'l' })).message).toContain('does not match');
  });

  it('bad base64 and non-object messages', () => {
    expect(codecError(() => encodeMessage('envoy.config.core.v3.HeaderValue', { raw_value: 'not base64!' })).path).toBe('HeaderValue.raw_value');
    expect(codecError(() => encodeMessage(L, 'listener')).message).toBe('Listener: expected an object (envoy.config.listener.v3.Listener), got the string "listener"');
  });
});

describe('decode errors', () => {
  it('reports malformed bytes as a codec error', () => {
    const err = codecError(() => decodeMessage('envoy.config.listener.v3.Listener', Uint8Array.from([0x0a, 0x10, 0x41])));
    expect(err.path).toBe('Listener');
    expect(err.message).toContain('cannot decode envoy.config.listener.v3.Listener');
  });
});

describe('typedAny', () => {
  it('builds an Any with the type URL of the named message', () => {
    const hcm = typedAny('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', {
      stat_prefix: 'http',
      http_filters: [{ name: 'envoy.filters.http.router', typed_config: typedAny('envoy.extensions.filters.http.router.v3.Router', {}) }],
    });
    expect(hcm).toEqual({
      '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      stat_prefix: 'http',
      http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
    });
    expect(unpackAny(packAny(hcm))).toEqual(hcm);
  });
});
