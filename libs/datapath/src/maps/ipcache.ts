import { BpfMap } from '../bpf-map';
import { formatIpv4Prefix, parseIpv4, parseIpv4Prefix } from '../ipv4';
import { checkU32 } from './fields';

/** `struct ipcache_key` (bpf/include/tendril_maps.h): prefixlen u32 (host order), address (network order). */
const KEY_SIZE = 8;
/** `struct ipcache_value`: identity u32. */
const VALUE_SIZE = 4;

export interface IpcacheEntry {
  /** `a.b.c.d/n`; a pod IP is a /32. */
  readonly cidr: string;
  readonly identity: number;
}

function encodeKey(prefixText: string): Buffer {
  const prefix = parseIpv4Prefix(prefixText);
  const key = Buffer.alloc(KEY_SIZE);
  key.writeUInt32LE(prefix.length, 0);
  prefix.address.copy(key, 4);
  return key;
}

/** The ipcache: IPv4 prefix → security identity; the datapath takes the longest matching prefix. */
export class IpcacheMap {
  static readonly pinName = 'tendril_ipcache';

  constructor(private readonly map: BpfMap) {}

  static open(openMap: (name: string, keySize: number, valueSize: number) => BpfMap): IpcacheMap {
    return new IpcacheMap(openMap(IpcacheMap.pinName, KEY_SIZE, VALUE_SIZE));
  }

  set(cidr: string, identity: number): void {
    const value = Buffer.alloc(VALUE_SIZE);
    value.writeUInt32LE(checkU32(identity, 'identity'), 0);
    this.map.update(encodeKey(cidr), value);
  }

  /** false when the prefix was not there. */
  delete(cidr: string): boolean {
    return this.map.delete(encodeKey(cidr));
  }

  /** The identity the datapath gives this address (longest prefix), or undefined (the datapath then uses world). */
  identityOf(ip: string): number | undefined {
    const key = Buffer.alloc(KEY_SIZE);
    key.writeUInt32LE(32, 0);
    parseIpv4(ip).copy(key, 4);
    return this.map.lookup(key)?.readUInt32LE(0);
  }

  /** Closes this handle's map fd (the pinned map and its entries stay). */
  close(): void {
    this.map.close();
  }

  list(): IpcacheEntry[] {
    const entries: IpcacheEntry[] = [];
    for (const key of this.map.keys()) {
      const value = this.map.lookup(key);
      if (!value) continue;
      entries.push({ cidr: formatIpv4Prefix({ address: key.subarray(4, 8), length: key.readUInt32LE(0) }), identity: value.readUInt32LE(0) });
    }
    return entries.sort((a, b) => a.cidr.localeCompare(b.cidr));
  }
}
