import { EnvoyCodecError, decodeMessage, decodeMessageByElements, encodeMessage, encodeMessageByElements } from '../src';

const ROUTE_CONFIGURATION = 'envoy.config.route.v3.RouteConfiguration';

function virtualHost(i: number): Record<string, unknown> {
  return {
    name: `vh-${i}`,
    domains: [`host-${i}.example`],
    routes: [{ match: { prefix: `/p-${i}` }, route: { cluster: `svc-${i % 3}`, timeout: '15s' } }],
  };
}

/** Fields on both sides of virtual_hosts (field 2): name is 1, the header lists and validate_clusters come after. */
function routeConfiguration(hosts: number): Record<string, unknown> {
  return {
    name: 'listener-80',
    virtual_hosts: Array.from({ length: hosts }, (_, i) => virtualHost(i)),
    request_headers_to_add: [{ header: { key: 'x-via', value: 'tendril' } }],
    validate_clusters: false,
  };
}

function encodedByElements(obj: Record<string, unknown>, calls: string[] = []): Uint8Array {
  return encodeMessageByElements(ROUTE_CONFIGURATION, obj, 'virtual_hosts', (typeName, element) => {
    calls.push(typeName);
    return encodeMessage(typeName, element);
  });
}

describe('encodeMessageByElements', () => {
  it('writes exactly the bytes encodeMessage writes, encoding each virtual host through the callback', () => {
    const obj = routeConfiguration(5);
    const calls: string[] = [];
    const bytes = encodedByElements(obj, calls);
    expect(Buffer.from(bytes).equals(Buffer.from(encodeMessage(ROUTE_CONFIGURATION, obj)))).toBe(true);
    expect(calls).toEqual(Array(5).fill('envoy.config.route.v3.VirtualHost'));
    expect(decodeMessage(ROUTE_CONFIGURATION, bytes)).toEqual(decodeMessage(ROUTE_CONFIGURATION, encodeMessage(ROUTE_CONFIGURATION, obj)));
  });

  it('matches encodeMessage with no virtual hosts, and with only the split field set', () => {
    for (const obj of [{ name: 'empty', virtual_hosts: [] }, { virtual_hosts: [virtualHost(1), virtualHost(2)] }]) {
      expect(Buffer.from(encodedByElements(obj)).equals(Buffer.from(encodeMessage(ROUTE_CONFIGURATION, obj)))).toBe(true);
    }
  });

  it('reports a bad virtual host with the same field path as encodeMessage', () => {
    const obj = routeConfiguration(4);
    (obj.virtual_hosts as Record<string, unknown>[])[2] = { ...virtualHost(2), domains: 'not-a-list' };
    let error: unknown;
    try {
      encodedByElements(obj);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(EnvoyCodecError);
    expect((error as EnvoyCodecError).message).toBe('RouteConfiguration.virtual_hosts[2].domains: expected an array, got the string "not-a-list"');
  });

  it('reports an unknown top-level field as encodeMessage does', () => {
    const obj = { ...routeConfiguration(2), virtualHosts: [] };
    expect(() => encodedByElements(obj)).toThrow(/RouteConfiguration\.virtualHosts: unknown field \(did you mean virtual_hosts\?\)/);
  });

  it('refuses a field that is not a repeated message field', () => {
    expect(() => encodeMessageByElements(ROUTE_CONFIGURATION, routeConfiguration(1), 'name', encodeMessage)).toThrow(/RouteConfiguration\.name is not a repeated field/);
  });
});

describe('decodeMessageByElements', () => {
  const decodeAll = (bytes: Uint8Array, calls: Uint8Array[] = []): Record<string, unknown> =>
    decodeMessageByElements(ROUTE_CONFIGURATION, bytes, 'virtual_hosts', (typeName, element) => {
      calls.push(element);
      return decodeMessage(typeName, element);
    });

  it('decodes to exactly what decodeMessage gives, keys in the same order, one call per element', () => {
    const bytes = encodeMessage(ROUTE_CONFIGURATION, routeConfiguration(40));
    const calls: Uint8Array[] = [];
    const decoded = decodeAll(bytes, calls);
    expect(JSON.stringify(decoded)).toBe(JSON.stringify(decodeMessage(ROUTE_CONFIGURATION, bytes)));
    expect(calls).toHaveLength(40);
    expect(decodeMessage('envoy.config.route.v3.VirtualHost', calls[7])).toEqual(virtualHost(7));
  });

  it('handles a message without elements and fields repeated across the element records', () => {
    const empty = encodeMessage(ROUTE_CONFIGURATION, { name: 'only-a-name' });
    expect(decodeAll(empty)).toEqual({ name: 'only-a-name' });
    // Two records of the same message, concatenated: protobuf merges them, repeated fields append.
    const twice = Buffer.concat([encodeMessage(ROUTE_CONFIGURATION, routeConfiguration(2)), encodeMessage(ROUTE_CONFIGURATION, routeConfiguration(3))]);
    expect(JSON.stringify(decodeAll(twice))).toBe(JSON.stringify(decodeMessage(ROUTE_CONFIGURATION, twice)));
  });

  it('reports malformed input the way decodeMessage does', () => {
    const bytes = encodeMessage(ROUTE_CONFIGURATION, routeConfiguration(3));
    const truncated = bytes.subarray(0, bytes.length - 5);
    expect(() => decodeMessage(ROUTE_CONFIGURATION, truncated)).toThrow(EnvoyCodecError);
    expect(() => decodeAll(truncated)).toThrow(EnvoyCodecError);
  });
});
