import * as path from 'node:path';
import { TypeUrl, loadEnvoyProtoRoot, validateMessage, validateResource } from '../src';
import type { ValidationError, envoy } from '../src';
import { clusterLoadAssignment, edsCluster, listener, routeConfiguration, secret } from './fixtures';

const RC = 'envoy.config.route.v3.RouteConfiguration';
const CLUSTER = 'envoy.config.cluster.v3.Cluster';
const LISTENER = 'envoy.config.listener.v3.Listener';

/** The errors' [path, rule] pairs, for compact assertions. */
function failures(errors: ValidationError[]): [string, string][] {
  return errors.map((e) => [e.path, e.rule]);
}

function route(extra: Partial<envoy.config.route.v3.Route>): envoy.config.route.v3.RouteConfiguration {
  return {
    name: 'rc',
    virtual_hosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c' }, ...extra }] }],
  };
}

describe('validateMessage on valid resources', () => {
  it.each([
    [LISTENER, listener],
    [RC, routeConfiguration],
    [CLUSTER, edsCluster],
    ['envoy.config.endpoint.v3.ClusterLoadAssignment', clusterLoadAssignment],
    ['envoy.extensions.transport_sockets.tls.v3.Secret', secret],
  ])('%s gives no errors', (typeName, resource) => {
    expect(validateMessage(typeName, resource)).toEqual([]);
  });
});

describe('validateMessage catches each rule kind the Envoy protos use', () => {
  it('string.min_len on an absent proto3 string (checked as "")', () => {
    const errors = validateMessage(RC, { virtual_hosts: [{ domains: ['*'] }] });
    expect(errors).toEqual([
      { path: 'RouteConfiguration.virtual_hosts[0].name', rule: 'string.min_len', message: 'value length must be at least 1 characters' },
    ]);
  });

  it('repeated.min_items and repeated items rules', () => {
    expect(failures(validateMessage(RC, { virtual_hosts: [{ name: 'v', domains: [] }] }))).toEqual([
      ['RouteConfiguration.virtual_hosts[0].domains', 'repeated.min_items'],
    ]);
    expect(failures(validateMessage(RC, { virtual_hosts: [{ name: 'v', domains: ['ok', 'bad\nhost'] }] }))).toEqual([
      ['RouteConfiguration.virtual_hosts[0].domains[1]', 'string.well_known_regex'],
    ]);
  });

  it('repeated.max_items', () => {
    const tooMany = Array.from({ length: 1001 }, (_, i) => ({ header: { key: `x-${i}`, value: 'v' } }));
    expect(failures(validateMessage(RC, { name: 'rc', response_headers_to_add: tooMany }))).toEqual([
      ['RouteConfiguration.response_headers_to_add', 'repeated.max_items'],
    ]);
  });

  it('repeated.unique', () => {
    const rc = route({ route: { cluster: 'c', internal_redirect_policy: { response_headers_to_copy: ['x-a', 'x-a'] } } });
    expect(failures(validateMessage(RC, rc))).toEqual([
      ['RouteConfiguration.virtual_hosts[0].routes[0].route.internal_redirect_policy.response_headers_to_copy[1]', 'repeated.unique'],
    ]);
  });

  it('oneof required (RouteMatch.path_specifier, Route.action)', () => {
    const rc = { name: 'rc', virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: {} }] }] };
    expect(failures(validateMessage(RC, rc))).toEqual([
      ['RouteConfiguration.virtual_hosts[0].routes[0].action', 'oneof.required'],
      ['RouteConfiguration.virtual_hosts[0].routes[0].match.path_specifier', 'oneof.required'],
    ]);
  });

  it('string.pattern (path_separated_prefix must not end in /)', () => {
    const errors = validateMessage(RC, route({ match: { path_separated_prefix: '/foo/' } }));
    expect(failures(errors)).toEqual([['RouteConfiguration.virtual_hosts[0].routes[0].match.path_separated_prefix', 'string.pattern']]);
  });

  it('uint32 gte / lt on a plain field', () => {
    const low = validateMessage(RC, route({ route: undefined, direct_response: { status: 99 } }));
    expect(low).toEqual([
      { path: 'RouteConfiguration.virtual_hosts[0].routes[0].direct_response.status', rule: 'uint32.gte', message: 'value must be greater than or equal to 200' },
    ]);
    const high = validateMessage(RC, route({ route: undefined, direct_response: { status: 600 } }));
    expect(failures(high)).toEqual([['RouteConfiguration.virtual_hosts[0].routes[0].direct_response.status', 'uint32.lt']]);
  });

  it('string.max_bytes', () => {
    const errors = validateMessage(RC, route({ match: { prefix: '/', query_parameters: [{ name: 'q'.repeat(1025), present_match: true }] } }));
    expect(failures(errors)).toEqual([['RouteConfiguration.virtual_hosts[0].routes[0].match.query_parameters[0].name', 'string.max_bytes']]);
  });

  it('enum.defined_only (a number that is no enum value)', () => {
    const errors = validateMessage(RC, { name: 'rc', virtual_hosts: [{ name: 'v', domains: ['*'], require_tls: 7 }] });
    expect(failures(errors)).toEqual([['RouteConfiguration.virtual_hosts[0].require_tls', 'enum.defined_only']]);
  });

  it('message.required', () => {
    expect(failures(validateMessage(RC, { name: 'rc', vhds: {} }))).toEqual([['RouteConfiguration.vhds.config_source', 'message.required']]);
  });

  it('duration.gt and duration.required', () => {
    expect(failures(validateMessage(CLUSTER, { ...edsCluster, connect_timeout: '0s' }))).toEqual([['Cluster.connect_timeout', 'duration.gt']]);
    const healthCheck = { interval: '5s', healthy_threshold: 1, unhealthy_threshold: 1, tcp_health_check: {} };
    expect(failures(validateMessage(CLUSTER, { ...edsCluster, health_checks: [healthCheck] }))).toEqual([['Cluster.health_checks[0].timeout', 'duration.required']]);
  });

  it('strict HTTP header value (HttpHealthCheck.host) vs. the loose check', () => {
    const healthCheck = { timeout: '1s', interval: '5s', healthy_threshold: 1, unhealthy_threshold: 1, http_health_check: { path: '/healthz', host: 'a\u0001b' } };
    const errors = validateMessage(CLUSTER, { ...edsCluster, health_checks: [healthCheck] });
    expect(errors).toEqual([
      { path: 'Cluster.health_checks[0].http_health_check.host', rule: 'string.well_known_regex', message: 'value must be a valid HTTP header value' },
    ]);
    // HeaderMatcher.name is non-strict: only NUL, CR and LF are rejected.
    expect(validateMessage(RC, route({ match: { prefix: '/', headers: [{ name: 'x\u0001y', present_match: true }] } }))).toEqual([]);
  });

  it('double range on a wrapper field', () => {
    const errors = validateMessage(CLUSTER, { ...edsCluster, preconnect_policy: { per_upstream_preconnect_ratio: 5 } });
    expect(failures(errors)).toEqual([['Cluster.preconnect_policy.per_upstream_preconnect_ratio', 'double.lte']]);
  });

  it('any.required', () => {
    const errors = validateMessage(CLUSTER, { ...edsCluster, typed_dns_resolver_config: { name: 'dns' } });
    expect(failures(errors)).toEqual([['Cluster.typed_dns_resolver_config.typed_config', 'any.required']]);
  });

  it('map keys rules', () => {
    const errors = validateMessage(CLUSTER, { ...edsCluster, metadata: { filter_metadata: { '': { a: 1 } } } });
    expect(failures(errors)).toEqual([['Cluster.metadata.filter_metadata[""]', 'string.min_len']]);
  });

  it('bool.const', () => {
    const errors = validateMessage(LISTENER, { ...listener, listener_filters: [{ name: 'tls', filter_disabled: { any_match: false } }] });
    expect(failures(errors)).toEqual([['Listener.listener_filters[0].filter_disabled.any_match', 'bool.const']]);
  });

  it('recurses into Any payloads: wrapper uint32 range inside an HttpConnectionManager', () => {
    const bad = structuredClone(listener) as { filter_chains: { filters: { typed_config: Record<string, unknown> }[] }[] };
    const hcm = bad.filter_chains[0].filters[0].typed_config;
    delete hcm['stat_prefix'];
    hcm['max_request_headers_kb'] = 0;
    hcm['http_filters'] = [{ name: '' }];
    expect(failures(validateMessage(LISTENER, bad))).toEqual([
      ['Listener.filter_chains[0].filters[0].typed_config.stat_prefix', 'string.min_len'],
      ['Listener.filter_chains[0].filters[0].typed_config.http_filters[0].name', 'string.min_len'],
      ['Listener.filter_chains[0].filters[0].typed_config.max_request_headers_kb', 'uint32.gt'],
    ]);
  });

  it('reports a resource that cannot be encoded as one codec error', () => {
    expect(validateMessage(LISTENER, { name: 'l', bogus: true })).toEqual([
      { path: 'Listener.bogus', rule: 'codec', message: 'unknown field: envoy.config.listener.v3.Listener has no field "bogus"' },
    ]);
  });

  it('validateResource picks the type from @type or a given type URL', () => {
    expect(failures(validateResource({ '@type': TypeUrl.RouteConfiguration, virtual_hosts: [{ domains: ['*'] }] }))).toEqual([
      ['RouteConfiguration.virtual_hosts[0].name', 'string.min_len'],
    ]);
    expect(validateResource(clusterLoadAssignment, TypeUrl.ClusterLoadAssignment)).toEqual([]);
    expect(failures(validateResource({ name: 'x' }))).toEqual([['', 'codec']]);
    expect(validateResource({ '@type': 'type.googleapis.com/acme.Widget' })[0].message).toContain('unknown type type.googleapis.com/acme.Widget');
  });
});

describe('validateMessage on the remaining rule kinds (test proto)', () => {
  const root = loadEnvoyProtoRoot({ extraFiles: [path.join(__dirname, 'protos', 'pgv_rules.proto')] });
  const T = 'tendril.test.pgv.Everything';
  const valid = {
    min_bytes: 'ab€',
    prefix: '/x',
    strict_header_name: 'x-ok',
    int32_range: 10,
    uint32_const: 7,
    outside: -1,
    pairs: { a: '1', b: '2' },
    a: 'chosen',
  };
  const check = (patch: Record<string, unknown>): [string, string][] => failures(validateMessage(T, { ...valid, ...patch }, root));

  it('accepts the valid baseline', () => {
    expect(validateMessage(T, valid, root)).toEqual([]);
  });

  it.each([
    [{ max_len: 'abcd' }, 'Everything.max_len', 'string.max_len'],
    [{ min_bytes: 'abc' }, 'Everything.min_bytes', 'string.min_bytes'],
    [{ prefix: 'x' }, 'Everything.prefix', 'string.prefix'],
    [{ strict_header_name: 'has space' }, 'Everything.strict_header_name', 'string.well_known_regex'],
    [{ int32_range: 0 }, 'Everything.int32_range', 'int32.gt'],
    [{ int32_range: 11 }, 'Everything.int32_range', 'int32.lte'],
    [{ int64_gte: -6 }, 'Everything.int64_gte', 'int64.gte'],
    [{ double_lt: 1.5 }, 'Everything.double_lt', 'double.lt'],
    [{ uint32_const: 8 }, 'Everything.uint32_const', 'uint32.const'],
    [{ outside: 5 }, 'Everything.outside', 'int32.lt_gt'],
    [{ pairs: { a: '1' } }, 'Everything.pairs', 'map.min_pairs'],
    [{ short: '1s' }, 'Everything.short', 'duration.lt'],
    [{ bounded: '0.000999s' }, 'Everything.bounded', 'duration.gte'],
    [{ bounded: '5.000000001s' }, 'Everything.bounded', 'duration.lte'],
    [{ ports: [1, 2, 3] }, 'Everything.ports', 'repeated.max_items'],
    [{ ports: [70000] }, 'Everything.ports[0]', 'uint32.lte'],
    [{ only_durations: { '@type': 'type.googleapis.com/google.protobuf.Empty' } }, 'Everything.only_durations', 'any.in'],
    [{ ignored_when_empty: 'abc' }, 'Everything.ignored_when_empty', 'string.min_len'],
    [{ a: undefined }, 'Everything.choice', 'oneof.required'],
    [{ a: undefined, b: 'x' }, 'Everything.b', 'string.min_len'],
    [{ child: { ...valid, prefix: 'nope' } }, 'Everything.child.prefix', 'string.prefix'],
  ])('%j fails %s with %s', (patch, expectedPath, rule) => {
    expect(check(patch)).toEqual([[expectedPath, rule]]);
  });

  it('skips ignore_empty strings and in-range values', () => {
    expect(check({ ignored_when_empty: '', outside: 11, short: '0.999s', bounded: '5s', ports: [65535] })).toEqual([]);
  });
});
