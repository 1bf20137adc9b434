import { ANY_IDENTITY, MAX_PREFIX_LENGTH, lookupPolicyMap, policyMapKeyString, type PacketKey, type PolicyMapEntry, type PolicyVerdict } from '@tendril/policy';
import { BpfMap } from '../bpf-map';
import { checkU32, checkUnsigned } from './fields';

/**
 * `struct policy_key` (bpf/include/tendril_maps.h): prefixlen u32, endpoint_id u32, identity u32
 * (host order; always matched in full), egress u8, protocol u8, dport u16 (network order, so that
 * a prefix of it is a port range).
 */
const KEY_SIZE = 16;
/** `struct policy_value`: proxy_port u16, deny u8, prefix_len u8. */
const VALUE_SIZE = 4;
/** endpoint_id + identity + direction byte, matched exactly in every entry. */
const EXACT_PREFIX_BITS = 72;

function checkEntry(entry: PolicyMapEntry): void {
  const where = `policy entry ${JSON.stringify(entry)}`;
  checkU32(entry.identity, `${where}: identity`);
  checkUnsigned(entry.protocol, 8, `${where}: protocol`);
  checkUnsigned(entry.port, 16, `${where}: port`);
  checkUnsigned(entry.proxyPort, 16, `${where}: proxyPort`);
  if (entry.direction !== 'ingress' && entry.direction !== 'egress') throw new Error(`${where}: direction must be ingress or egress`);
  if (!Number.isInteger(entry.prefixLength) || entry.prefixLength < 0 || entry.prefixLength > MAX_PREFIX_LENGTH) {
    throw new Error(`${where}: prefixLength must be 0..${MAX_PREFIX_LENGTH}`);
  }
  if (entry.prefixLength > 0 && entry.prefixLength < 8) throw new Error(`${where}: prefixLength 1..7 would match part of a protocol number`);
  if (entry.prefixLength === 0 && entry.protocol !== 0) throw new Error(`${where}: a protocol needs prefixLength >= 8`);
  const portBits = Math.max(0, entry.prefixLength - 8);
  if (portBits < 16 && (entry.port & (0xffff >> portBits)) !== 0) throw new Error(`${where}: port has bits set past the prefix`);
  if (entry.deny && entry.proxyPort !== 0) throw new Error(`${where}: a deny entry cannot redirect to a proxy port`);
}

function encodeKey(endpointId: number, entry: PolicyMapEntry): Buffer {
  const key = Buffer.alloc(KEY_SIZE);
  key.writeUInt32LE(EXACT_PREFIX_BITS + entry.prefixLength, 0);
  key.writeUInt32LE(endpointId, 4);
  key.writeUInt32LE(entry.identity, 8);
  key.writeUInt8(entry.direction === 'egress' ? 1 : 0, 12);
  key.writeUInt8(entry.protocol, 13);
  key.writeUInt16BE(entry.port, 14);
  return key;
}

function encodeValue(entry: PolicyMapEntry): Buffer {
  const value = Buffer.alloc(VALUE_SIZE);
  value.writeUInt16LE(entry.proxyPort, 0);
  value.writeUInt8(entry.deny ? 1 : 0, 2);
  value.writeUInt8(entry.prefixLength, 3);
  return value;
}

function decode(key: Buffer, value: Buffer): { endpointId: number; entry: PolicyMapEntry } {
  return {
    endpointId: key.readUInt32LE(4),
    entry: {
      identity: key.readUInt32LE(8),
      direction: key.readUInt8(12) === 1 ? 'egress' : 'ingress',
      protocol: key.readUInt8(13),
      port: key.readUInt16BE(14),
      prefixLength: key.readUInt32LE(0) - EXACT_PREFIX_BITS,
      deny: value.readUInt8(2) !== 0,
      proxyPort: value.readUInt16LE(0),
    },
  };
}

const sameValue = (a: PolicyMapEntry, b: PolicyMapEntry): boolean => a.deny === b.deny && a.proxyPort === b.proxyPort;

export interface PolicyApplyResult {
  /** Entries added or whose verdict changed. */
  readonly updated: number;
  readonly deleted: number;
}

/**
 * The policy map: one LPM trie holding every local endpoint's entries, the endpoint id being an
 * always-exact leading key field (bpf/README.md says why not one map per endpoint).
 */
export class PolicyMap {
  static readonly pinName = 'tendril_policy';
  /** Map writes (updates + deletes) made through this object since it was opened. */
  writes = 0;

  constructor(private readonly map: BpfMap) {}

  static open(openMap: (name: string, keySize: number, valueSize: number) => BpfMap): PolicyMap {
    return new PolicyMap(openMap(PolicyMap.pinName, KEY_SIZE, VALUE_SIZE));
  }

  /** The endpoint's entries as the datapath holds them now. */
  entries(endpointId: number): PolicyMapEntry[] {
    checkU32(endpointId, 'endpointId');
    const entries: PolicyMapEntry[] = [];
    for (const key of [...this.map.keys()]) {
      if (key.readUInt32LE(4) !== endpointId) continue;
      const value = this.map.lookup(key);
      if (value) entries.push(decode(key, value).entry);
    }
    return entries;
  }

  /**
   * The verdict the datapath gives a packet of the endpoint, read from the map as policy_verdict in
   * bpf/tendril_lxc.c reads it: the kernel's longest-prefix match for (identity, …) and for
   * (any identity, …), combined by lookupPolicyMap. The node proxy's L7 load balancer asks it for
   * the client's egress verdict on the backend it picked.
   */
  verdict(endpointId: number, packet: PacketKey): PolicyVerdict {
    checkU32(endpointId, 'endpointId');
    const longest = (identity: number): PolicyMapEntry | undefined => {
      const probe: PolicyMapEntry = { ...packet, identity, prefixLength: MAX_PREFIX_LENGTH, deny: false, proxyPort: 0 };
      const key = encodeKey(endpointId, probe);
      const value = this.map.lookup(key);
      if (!value) return undefined;
      const prefixLength = value.readUInt8(3);
      // The entry's own key: the packet's protocol and port cut to the matched prefix.
      const portBits = Math.max(0, prefixLength - 8);
      const port = portBits === 0 ? 0 : packet.port & ((0xffff << (16 - portBits)) & 0xffff);
      return { identity, direction: packet.direction, protocol: prefixLength === 0 ? 0 : packet.protocol, port, prefixLength, deny: value.readUInt8(2) !== 0, proxyPort: value.readUInt16LE(0) };
    };
    const found = [longest(packet.identity), packet.identity === ANY_IDENTITY ? undefined : longest(ANY_IDENTITY)].filter((e): e is PolicyMapEntry => e !== undefined);
    return lookupPolicyMap(found, packet);
  }

  /**
   * Makes the endpoint's entries equal `entries`, writing only the differences against what the
   * map holds (read back from the kernel, so this is right after an agent restart too).
   *
   * Order keeps every intermediate state within old ∪ new permissions and never past them: new
   * denies first, then removal of allows that go away, then new allows, then removal of old denies.
   * If a write fails, the endpoint's entries are all removed (the datapath then drops everything
   * for it: fail closed) and the error says so.
   */
  apply(endpointId: number, entries: readonly PolicyMapEntry[]): PolicyApplyResult {
    checkU32(endpointId, 'endpointId');
    const desired = new Map<string, PolicyMapEntry>();
    for (const entry of entries) {
      checkEntry(entry);
      const id = policyMapKeyString(entry);
      const previous = desired.get(id);
      if (previous && !sameValue(previous, entry)) throw new Error(`policy entries for endpoint ${endpointId} give key ${id} two different verdicts`);
      desired.set(id, entry);
    }
    const current = new Map<string, PolicyMapEntry>();
    for (const entry of this.entries(endpointId)) current.set(policyMapKeyString(entry), entry);

    const toWrite = [...desired].filter(([id, entry]) => {
      const existing = current.get(id);
      return !existing || !sameValue(existing, entry);
    }).map(([, e]) => e);
    const toDelete = [...current].filter(([id]) => !desired.has(id)).map(([, e]) => e);
    const steps: (() => void)[] = [
      ...toWrite.filter((e) => e.deny).map((e) => () => this.write(endpointId, e)),
      ...toDelete.filter((e) => !e.deny).map((e) => () => this.remove(endpointId, e)),
      ...toWrite.filter((e) => !e.deny).map((e) => () => this.write(endpointId, e)),
      ...toDelete.filter((e) => e.deny).map((e) => () => this.remove(endpointId, e)),
    ];
    try {
      for (const step of steps) step();
    } catch (err) {
      this.clear(endpointId);
      throw new Error(`writing the policy of endpoint ${endpointId} failed, its entries were removed (all its traffic is dropped): ${(err as Error).message}`);
    }
    return { updated: toWrite.length, deleted: toDelete.length };
  }

  /** Removes every entry of the endpoint (its traffic is then dropped). Returns how many were removed. */
  clear(endpointId: number): number {
    checkU32(endpointId, 'endpointId');
    const keys = [...this.map.keys()].filter((key) => key.readUInt32LE(4) === endpointId);
    for (const key of keys) {
      this.map.delete(key);
      this.writes++;
    }
    return keys.length;
  }

  close(): void {
    this.map.close();
  }

  private write(endpointId: number, entry: PolicyMapEntry): void {
    this.map.update(encodeKey(endpointId, entry), encodeValue(entry));
    this.writes++;
  }

  private remove(endpointId: number, entry: PolicyMapEntry): void {
    this.map.delete(encodeKey(endpointId, entry));
    this.writes++;
  }
}
