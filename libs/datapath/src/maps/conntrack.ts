import { BpfMap } from '../bpf-map';
import { formatIpv4 } from '../ipv4';

/** `struct ct_key`: saddr, daddr (network order), sport, dport (network order), protocol, 3 bytes pad. */
const KEY_SIZE = 16;
/** `struct ct_entry`: src_identity, flags (u32, host order), last_seen (u64 ns, CLOCK_MONOTONIC). */
const VALUE_SIZE = 16;

const CT_FLAG_PROXY_REDIRECT = 1;
const CT_FLAG_CLOSING = 2;
const IPPROTO_TCP = 6;

/**
 * How long an entry lives after its last packet, as Cilium's conntrack lifetimes
 * (bpf/lib/conntrack.h): an established TCP connection 6 h, one that began closing 10 s, anything
 * else 60 s.
 */
export const CONNTRACK_LIFETIMES_MS = { tcpOpen: 21_600_000, tcpClosing: 10_000, nonTcp: 60_000 } as const;

/** One connection the datapath tracks, as its first packet carried it. */
export interface TrackedConnection {
  readonly source: string;
  readonly destination: string;
  readonly sourcePort: number;
  readonly destinationPort: number;
  readonly protocol: number;
  readonly sourceIdentity: number;
  readonly proxyRedirect: boolean;
  /** Still open: TCP without a FIN or RST seen, anything else while within its lifetime. */
  readonly open: boolean;
  /** Its latest packet, either direction (ms since the epoch). */
  readonly lastSeenMs: number;
}

/**
 * The conntrack map (`tendril_ct_v2`). The tc programs write an entry per connection and refresh it on
 * every packet; nothing in the kernel removes one (it is an LRU map), so the agent's conntrack GC
 * (collect) removes those whose lifetime ran out, as Cilium's CT GC does.
 */
export class ConntrackMap {
  static readonly pinName = 'tendril_ct_v2';

  constructor(private readonly map: BpfMap) {}

  static open(openMap: (name: string, keySize: number, valueSize: number) => BpfMap): ConntrackMap {
    return new ConntrackMap(openMap(ConntrackMap.pinName, KEY_SIZE, VALUE_SIZE));
  }

  /** Every tracked connection; `monotonicNowNs` and `nowMs` read the two clocks at one moment (defaults: now). */
  list(monotonicNowNs: bigint = process.hrtime.bigint(), nowMs: number = Date.now()): TrackedConnection[] {
    const connections: TrackedConnection[] = [];
    for (const key of [...this.map.keys()]) {
      const value = this.map.lookup(key);
      if (value) connections.push(decode(key, value, monotonicNowNs, nowMs));
    }
    return connections;
  }

  /**
   * One GC pass: removes the entries whose lifetime ran out and returns the connections left.
   * process.hrtime and bpf_ktime_get_ns both read CLOCK_MONOTONIC, so ages compare directly.
   */
  collect(monotonicNowNs: bigint = process.hrtime.bigint(), nowMs: number = Date.now()): TrackedConnection[] {
    const left: TrackedConnection[] = [];
    for (const key of [...this.map.keys()]) {
      const value = this.map.lookup(key);
      if (!value) continue;
      const connection = decode(key, value, monotonicNowNs, nowMs);
      if (nowMs - connection.lastSeenMs > lifetimeMs(connection, value.readUInt32LE(4))) this.map.delete(key);
      else left.push(connection);
    }
    return left;
  }

  close(): void {
    this.map.close();
  }
}

function lifetimeMs(connection: TrackedConnection, flags: number): number {
  if (connection.protocol !== IPPROTO_TCP) return CONNTRACK_LIFETIMES_MS.nonTcp;
  return flags & CT_FLAG_CLOSING ? CONNTRACK_LIFETIMES_MS.tcpClosing : CONNTRACK_LIFETIMES_MS.tcpOpen;
}

function decode(key: Buffer, value: Buffer, monotonicNowNs: bigint, nowMs: number): TrackedConnection {
  const protocol = key.readUInt8(12);
  const flags = value.readUInt32LE(4);
  const ageMs = Number((monotonicNowNs - value.readBigUInt64LE(8)) / 1_000_000n);
  const lastSeenMs = nowMs - Math.max(0, ageMs);
  const base = {
    source: formatIpv4(key, 0),
    destination: formatIpv4(key, 4),
    sourcePort: key.readUInt16BE(8),
    destinationPort: key.readUInt16BE(10),
    protocol,
    sourceIdentity: value.readUInt32LE(0),
    proxyRedirect: (flags & CT_FLAG_PROXY_REDIRECT) !== 0,
    lastSeenMs,
  };
  const lifetime = protocol === IPPROTO_TCP ? CONNTRACK_LIFETIMES_MS.tcpOpen : CONNTRACK_LIFETIMES_MS.nonTcp;
  return { ...base, open: (protocol !== IPPROTO_TCP || (flags & CT_FLAG_CLOSING) === 0) && nowMs - lastSeenMs <= lifetime };
}
