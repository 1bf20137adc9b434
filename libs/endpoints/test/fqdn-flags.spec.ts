/** cilium-agent's toFQDNs flags, as tendril-agent takes them: Cilium's names, defaults and value syntax; bad values name the flag. */
import { DEFAULT_FQDN_CACHE_OPTIONS, FQDN_FLAGS, fqdnOptionsFromFlags, parseGoDuration } from '../src';

describe('toFQDNs flags', () => {
  it('carry Cilium’s names and defaults', () => {
    expect(Object.values(FQDN_FLAGS).map((f) => `${f.flag.split(' ')[0]}=${f.default}`)).toEqual([
      '--tofqdns-min-ttl=0',
      '--tofqdns-endpoint-max-ip-per-hostname=50',
      '--tofqdns-idle-connection-grace-period=0s',
      '--tofqdns-max-deferred-connection-deletes=10000',
    ]);
    expect(DEFAULT_FQDN_CACHE_OPTIONS).toEqual({ minTtlSeconds: 0, maxIpsPerHostname: 50, idleConnectionGracePeriodMs: 0, maxDeferredConnectionDeletes: 10_000 });
  });

  it('turn flag values into cache options, the grace period as a Go duration', () => {
    expect(fqdnOptionsFromFlags({ tofqdnsMinTtl: '3600', tofqdnsEndpointMaxIpPerHostname: '0', tofqdnsIdleConnectionGracePeriod: '1m30s', tofqdnsMaxDeferredConnectionDeletes: '5' })).toEqual({
      minTtlSeconds: 3600,
      maxIpsPerHostname: 0,
      idleConnectionGracePeriodMs: 90_000,
      maxDeferredConnectionDeletes: 5,
    });
    expect(fqdnOptionsFromFlags({})).toEqual({});
    expect(parseGoDuration('0', 'x')).toBe(0);
    expect(parseGoDuration('1.5h', 'x')).toBe(5_400_000);
    expect(parseGoDuration('500ms', 'x')).toBe(500);
  });

  it('reject malformed values with the flag’s name', () => {
    expect(() => fqdnOptionsFromFlags({ tofqdnsMinTtl: '-5' })).toThrow('invalid value "-5" for --tofqdns-min-ttl: want a non-negative integer');
    expect(() => fqdnOptionsFromFlags({ tofqdnsEndpointMaxIpPerHostname: 'many' })).toThrow('invalid value "many" for --tofqdns-endpoint-max-ip-per-hostname');
    expect(() => fqdnOptionsFromFlags({ tofqdnsIdleConnectionGracePeriod: '30' })).toThrow('invalid value "30" for --tofqdns-idle-connection-grace-period: want a duration such as 30s, 1m30s or 500ms');
    expect(() => fqdnOptionsFromFlags({ tofqdnsIdleConnectionGracePeriod: '5x' })).toThrow('--tofqdns-idle-connection-grace-period');
    expect(() => fqdnOptionsFromFlags({ tofqdnsIdleConnectionGracePeriod: '' })).toThrow('--tofqdns-idle-connection-grace-period');
  });
});
