import { BpfMap } from '../bpf-map';

/** The DROP_* indexes of bpf/include/tendril_maps.h, by name. */
export const DropReason = {
  /** No policy entry matched ("Policy denied"). */
  policyDenied: 1,
  /** A deny entry matched ("Policy denied by denylist"). */
  policyDeniedByDenylist: 2,
  unknownSource: 3,
  unknownDestination: 4,
  unsupportedL3: 5,
  malformed: 6,
  fragment: 7,
  proxyUnavailable: 8,
  redirectUnsupported: 9,
} as const;

export type DropReasonName = keyof typeof DropReason;
export type DropCounts = Record<DropReasonName, number>;

const REASON_SLOTS = 16;
/** Each CPU's u64 counter occupies 8 bytes in a per-CPU lookup. */
const PER_CPU_VALUE_SIZE = 8;

/** Reads the per-CPU drop counters, summed over CPUs. */
export class DropCounters {
  static readonly pinName = 'tendril_drops';

  constructor(private readonly map: BpfMap) {}

  static open(openMap: (name: string, keySize: number, valueSize: number) => BpfMap, possibleCpus: number): DropCounters {
    return new DropCounters(openMap(DropCounters.pinName, 4, PER_CPU_VALUE_SIZE * possibleCpus));
  }

  read(): DropCounts {
    const counts = {} as Record<DropReasonName, number>;
    for (const [name, index] of Object.entries(DropReason) as [DropReasonName, number][]) {
      counts[name] = this.readSlot(index);
    }
    return counts;
  }

  private readSlot(index: number): number {
    if (index >= REASON_SLOTS) throw new Error(`drop reason ${index} is past the map's ${REASON_SLOTS} slots`);
    const key = Buffer.alloc(4);
    key.writeUInt32LE(index, 0);
    const values = this.map.lookup(key);
    if (!values) return 0;
    let total = 0n;
    for (let offset = 0; offset < values.length; offset += PER_CPU_VALUE_SIZE) total += values.readBigUInt64LE(offset);
    return Number(total);
  }
}
