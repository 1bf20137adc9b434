import { BpfMap } from '../bpf-map';
import { formatIpv4, parseIpv4 } from '../ipv4';
import { checkU32 } from './fields';

/** Key: the pod's IPv4 address (network order). */
const KEY_SIZE = 4;
/** `struct endpoint_info`: ifindex, identity, endpoint_id, flags (u32 each, host order). */
const VALUE_SIZE = 16;

export interface EndpointInfo {
  /** Selects the endpoint's entries in the policy map. */
  readonly endpointId: number;
  /** ifindex of the pod's host-side veth; packets from the pod IP arriving elsewhere are dropped. */
  readonly ifindex: number;
  /** The pod's security identity (the remote identity in other endpoints' ingress policy). */
  readonly identity: number;
}

export interface EndpointEntry extends EndpointInfo {
  readonly ip: string;
}

/** The endpoint map (`tendril_lxc`): local pod IP → endpoint. */
export class EndpointMap {
  static readonly pinName = 'tendril_lxc';

  constructor(private readonly map: BpfMap) {}

  static open(openMap: (name: string, keySize: number, valueSize: number) => BpfMap): EndpointMap {
    return new EndpointMap(openMap(EndpointMap.pinName, KEY_SIZE, VALUE_SIZE));
  }

  set(ip: string, info: EndpointInfo): void {
    const value = Buffer.alloc(VALUE_SIZE);
    value.writeUInt32LE(checkU32(info.ifindex, 'ifindex'), 0);
    value.writeUInt32LE(checkU32(info.identity, 'identity'), 4);
    value.writeUInt32LE(checkU32(info.endpointId, 'endpointId'), 8);
    this.map.update(parseIpv4(ip), value);
  }

  /** false when the IP was not there. */
  delete(ip: string): boolean {
    return this.map.delete(parseIpv4(ip));
  }

  get(ip: string): EndpointInfo | undefined {
    const value = this.map.lookup(parseIpv4(ip));
    return value && decode(value);
  }

  close(): void {
    this.map.close();
  }

  list(): EndpointEntry[] {
    const entries: EndpointEntry[] = [];
    for (const key of this.map.keys()) {
      const value = this.map.lookup(key);
      if (value) entries.push({ ip: formatIpv4(key), ...decode(value) });
    }
    return entries.sort((a, b) => a.endpointId - b.endpointId);
  }
}

function decode(value: Buffer): EndpointInfo {
  return { ifindex: value.readUInt32LE(0), identity: value.readUInt32LE(4), endpointId: value.readUInt32LE(8) };
}
