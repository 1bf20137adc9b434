import { BpfMap } from '../bpf-map';
import { formatIpv4, parseIpv4 } from '../ipv4';
import { checkUnsigned } from './fields';

/** `struct lb_key` (bpf/include/tendril_lb_maps.h): vip be32, port be16, protocol u8, pad, slot u32. */
const KEY_SIZE = 12;
/** `struct lb_value`: addr be32, port be16, count u16. */
const VALUE_SIZE = 8;
/** A frontend's backends sit in slots 1..count; the slot field is a u32 but count a u16. */
const MAX_BACKENDS = 0xffff;

export type ServiceProtocol = 'TCP' | 'UDP';
const PROTOCOL_NUMBER: Record<ServiceProtocol, number> = { TCP: 6, UDP: 17 };

export interface ServiceFrontend {
  /** The ClusterIP. */
  readonly vip: string;
  readonly port: number;
  readonly protocol: ServiceProtocol;
}

export interface ServiceBackend {
  readonly ip: string;
  readonly port: number;
}

export interface ServiceEntry {
  readonly frontend: ServiceFrontend;
  readonly backends: ServiceBackend[];
  /**
   * Set when the frontend is L7 load-balanced (it has mesh routes): pods' connections to it go to
   * the node proxy's listener on this port instead of a backend (bpf/include/tendril_l7_lb.h).
   */
  readonly l7ProxyPort?: number;
}

function encodeKey(frontend: ServiceFrontend, slot: number): Buffer {
  const protocol = PROTOCOL_NUMBER[frontend.protocol];
  if (protocol === undefined) throw new Error(`service protocol must be TCP or UDP, got ${JSON.stringify(frontend.protocol)}`);
  const key = Buffer.alloc(KEY_SIZE);
  parseIpv4(frontend.vip).copy(key, 0);
  key.writeUInt16BE(checkUnsigned(frontend.port, 16, 'service port'), 4);
  key.writeUInt8(protocol, 6);
  key.writeUInt32LE(slot, 8);
  return key;
}

function backendValue(backend: ServiceBackend): Buffer {
  const value = Buffer.alloc(VALUE_SIZE);
  parseIpv4(backend.ip).copy(value, 0);
  value.writeUInt16BE(checkUnsigned(backend.port, 16, 'backend port'), 4);
  return value;
}

function countValue(count: number, l7ProxyPort: number): Buffer {
  const value = Buffer.alloc(VALUE_SIZE);
  value.writeUInt16BE(checkUnsigned(l7ProxyPort, 16, 'L7 proxy port'), 4);
  value.writeUInt16LE(count, 6);
  return value;
}

/**
 * The ClusterIP load-balancing map read by the cgroup connect4/sendmsg4 programs: a frontend's
 * slot 0 holds its backend count, slots 1..count its backends.
 */
export class ServiceMap {
  static readonly pinName = 'tendril_lb';

  constructor(private readonly map: BpfMap) {}

  static open(openMap: (name: string, keySize: number, valueSize: number) => BpfMap): ServiceMap {
    return new ServiceMap(openMap(ServiceMap.pinName, KEY_SIZE, VALUE_SIZE));
  }

  /**
   * Sets the frontend's backends. Backends are written before the count that makes them
   * reachable, and slots past a shrunk count are removed after it, so a connect never picks an
   * empty slot. An empty list keeps the frontend, whose connects are then refused. `l7ProxyPort`
   * (0: none) hands pods' connections to the node proxy instead (see ServiceEntry).
   */
  set(frontend: ServiceFrontend, backends: readonly ServiceBackend[], l7ProxyPort = 0): void {
    if (backends.length > MAX_BACKENDS) throw new Error(`a service can have at most ${MAX_BACKENDS} backends, got ${backends.length}`);
    const values = backends.map(backendValue);
    const previous = this.backendCount(frontend);
    values.forEach((value, i) => this.map.update(encodeKey(frontend, i + 1), value));
    this.map.update(encodeKey(frontend, 0), countValue(values.length, l7ProxyPort));
    for (let slot = values.length + 1; slot <= previous; slot++) this.map.delete(encodeKey(frontend, slot));
  }

  /** Removes the frontend: connects to it are no longer translated. false when it was not there. */
  delete(frontend: ServiceFrontend): boolean {
    const count = this.backendCount(frontend);
    const existed = this.map.delete(encodeKey(frontend, 0));
    for (let slot = 1; slot <= count; slot++) this.map.delete(encodeKey(frontend, slot));
    return existed;
  }

  list(): ServiceEntry[] {
    const entries: ServiceEntry[] = [];
    for (const key of [...this.map.keys()]) {
      if (key.readUInt32LE(8) !== 0) continue;
      const protocol = key.readUInt8(6) === PROTOCOL_NUMBER.UDP ? 'UDP' : 'TCP';
      const frontend: ServiceFrontend = { vip: formatIpv4(key), port: key.readUInt16BE(4), protocol };
      const backends: ServiceBackend[] = [];
      const head = this.map.lookup(encodeKey(frontend, 0));
      const count = head?.readUInt16LE(6) ?? 0;
      const l7ProxyPort = head?.readUInt16BE(4) ?? 0;
      for (let slot = 1; slot <= count; slot++) {
        const value = this.map.lookup(encodeKey(frontend, slot));
        if (value) backends.push({ ip: formatIpv4(value), port: value.readUInt16BE(4) });
      }
      entries.push({ frontend, backends, ...(l7ProxyPort ? { l7ProxyPort } : {}) });
    }
    return entries.sort((a, b) => a.frontend.vip.localeCompare(b.frontend.vip) || a.frontend.port - b.frontend.port);
  }

  private backendCount(frontend: ServiceFrontend): number {
    return this.map.lookup(encodeKey(frontend, 0))?.readUInt16LE(6) ?? 0;
  }
}
