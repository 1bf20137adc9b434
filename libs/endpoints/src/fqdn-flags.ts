import { DEFAULT_FQDN_CACHE_OPTIONS, type FqdnCacheOptions } from './fqdn-cache';

/**
 * cilium-agent's toFQDNs flags as the agent's command line takes them, same names and defaults:
 * integers as integers, the grace period as a Go duration ("0s", "90s", "1m30s", "500ms").
 */
export const FQDN_FLAGS = {
  minTtl: { flag: '--tofqdns-min-ttl <seconds>', description: 'minimum TTL (seconds) of addresses learned from DNS answers for toFQDNs', default: String(DEFAULT_FQDN_CACHE_OPTIONS.minTtlSeconds) },
  maxIpPerHostname: { flag: '--tofqdns-endpoint-max-ip-per-hostname <count>', description: 'addresses an endpoint keeps per DNS name (0: no limit); beyond, the soonest to expire are dropped', default: String(DEFAULT_FQDN_CACHE_OPTIONS.maxIpsPerHostname) },
  idleConnectionGracePeriod: { flag: '--tofqdns-idle-connection-grace-period <duration>', description: 'how long an idle but previously active connection keeps an expired toFQDNs address', default: '0s' },
  maxDeferredConnectionDeletes: { flag: '--tofqdns-max-deferred-connection-deletes <count>', description: 'expired toFQDNs addresses kept for live connections at most', default: String(DEFAULT_FQDN_CACHE_OPTIONS.maxDeferredConnectionDeletes) },
} as const;

export interface FqdnFlagValues {
  readonly tofqdnsMinTtl?: string;
  readonly tofqdnsEndpointMaxIpPerHostname?: string;
  readonly tofqdnsIdleConnectionGracePeriod?: string;
  readonly tofqdnsMaxDeferredConnectionDeletes?: string;
}

const DURATION_UNITS_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** A Go duration (time.ParseDuration: "300ms", "1.5h", "2h45m", "0") in milliseconds; throws a message naming `flag` otherwise. */
export function parseGoDuration(text: string, flag: string): number {
  const fail = (): never => {
    throw new Error(`invalid value ${JSON.stringify(text)} for ${flag}: want a duration such as 30s, 1m30s or 500ms`);
  };
  if (text === '0') return 0;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  if (text.length === 0) fail();
  while (at < text.length) {
    part.lastIndex = at;
    const [, amount, unit] = part.exec(text) ?? [];
    const unitMs = unit === undefined ? undefined : DURATION_UNITS_MS[unit];
    if (amount === undefined || unitMs === undefined) return fail();
    total += Number(amount) * unitMs;
    at = part.lastIndex;
  }
  return total;
}

function parseCount(text: string, flag: string): number {
  if (!/^\d+$/.test(text)) throw new Error(`invalid value ${JSON.stringify(text)} for ${flag}: want a non-negative integer`);
  return Number(text);
}

/** The FqdnCacheOptions the flags ask for; a malformed value throws a message naming its flag. */
export function fqdnOptionsFromFlags(values: FqdnFlagValues): FqdnCacheOptions {
  return {
    ...(values.tofqdnsMinTtl !== undefined ? { minTtlSeconds: parseCount(values.tofqdnsMinTtl, '--tofqdns-min-ttl') } : {}),
    ...(values.tofqdnsEndpointMaxIpPerHostname !== undefined ? { maxIpsPerHostname: parseCount(values.tofqdnsEndpointMaxIpPerHostname, '--tofqdns-endpoint-max-ip-per-hostname') } : {}),
    ...(values.tofqdnsIdleConnectionGracePeriod !== undefined ? { idleConnectionGracePeriodMs: parseGoDuration(values.tofqdnsIdleConnectionGracePeriod, '--tofqdns-idle-connection-grace-period') } : {}),
    ...(values.tofqdnsMaxDeferredConnectionDeletes !== undefined ? { maxDeferredConnectionDeletes: parseCount(values.tofqdnsMaxDeferredConnectionDeletes, '--tofqdns-max-deferred-connection-deletes') } : {}),
  };
}
