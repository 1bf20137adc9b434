import type { BpfMap } from '../bpf-map';

/** `struct datapath_config` (bpf/include/tendril_maps.h): hairpin_ifindex u32, reserved u32. */
const VALUE_SIZE = 8;
const KEY = Buffer.alloc(4);

/** The datapath's one-slot settings map, written by the loader. */
export class ConfigMap {
  static readonly pinName = 'tendril_config';

  constructor(private readonly map: BpfMap) {}

  static open(openMap: (name: string, keySize: number, valueSize: number) => BpfMap): ConfigMap {
    return new ConfigMap(openMap(ConfigMap.pinName, 4, VALUE_SIZE));
  }

  /** The host end of the hairpin veth pair; 0 turns the hairpin off (host-side L7 redirects are then dropped). */
  setHairpinIfindex(ifindex: number): void {
    const value = Buffer.alloc(VALUE_SIZE);
    value.writeUInt32LE(ifindex, 0);
    this.map.update(KEY, value);
  }

  hairpinIfindex(): number {
    return this.map.lookup(KEY)?.readUInt32LE(0) ?? 0;
  }
}
