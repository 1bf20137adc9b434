/**
 * Encodes a function over the 24-bit protocol/port key space as policy-map entries whose
 * longest-prefix match reproduces it exactly (policy-semantics §6.2: port ranges become several
 * power-of-two-aligned prefixes). Prefix shapes follow the map key: prefix 0 (everything), or an
 * exact protocol with 0..16 leading port bits. Keys with no value get no covering entry at all,
 * since the datapath drops on a miss. Where a region has one majority value, one short entry plus
 * longer exceptions is written instead of tiling the region.
 */
import { MAX_PORT_KEY } from './matching';

/** A run of keys with one value; `value` undefined = no entry may cover these keys. */
export interface KeySegment<V> {
  readonly lo: number;
  readonly hi: number;
  readonly value: V | undefined;
}

export interface EncodedPrefix<V> {
  readonly protocol: number;
  readonly port: number;
  readonly prefixLength: number;
  readonly value: V;
}

const KEY_BITS = 24;

/** Index of the first segment whose end is at or after `key` (segments are sorted and contiguous). */
function firstSegmentAt<V>(segments: readonly KeySegment<V>[], key: number): number {
  let lo = 0;
  let hi = segments.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (segments[mid].hi < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * `segments` must cover 0..MAX_PORT_KEY contiguously, adjacent segments having different values
 * (`sameValue` decides equality).
 */
export function encodeKeySpace<V>(segments: readonly KeySegment<V>[], sameValue: (a: V | undefined, b: V | undefined) => boolean): EncodedPrefix<V>[] {
  const out: EncodedPrefix<V>[] = [];
  const emit = (length: number, base: number, value: V) =>
    out.push({ protocol: length === 0 ? 0 : base >>> 16, port: length === 0 ? 0 : base & 0xffff, prefixLength: length, value });

  const visit = (length: number, base: number, inherited: V | undefined) => {
    const lo = base;
    const hi = base + 2 ** (KEY_BITS - length) - 1;
    const first = firstSegmentAt(segments, lo);
    const seg = segments[first];
    if (seg.hi >= hi) {
      // One value over the whole node: write it unless the covering entry already gives it.
      if (!sameValue(seg.value, inherited) && seg.value !== undefined) emit(length, base, seg.value);
      return;
    }
    let current = inherited;
    // Weigh the values in this node; an entry here is only possible if every key has a value.
    const weights: { value: V; size: number }[] = [];
    let hasGap = false;
    for (let i = first; i < segments.length && segments[i].lo <= hi; i++) {
      const s = segments[i];
      if (s.value === undefined) {
        hasGap = true;
        break;
      }
      const size = Math.min(s.hi, hi) - Math.max(s.lo, lo) + 1;
      const known = weights.find((w) => sameValue(w.value, s.value));
      if (known) known.size += size;
      else weights.push({ value: s.value, size });
    }
    if (!hasGap) {
      const majority = weights.reduce((a, b) => (b.size > a.size ? b : a));
      if (!sameValue(majority.value, inherited)) {
        emit(length, base, majority.value);
        current = majority.value;
      }
    }
    if (length === 0) {
      // Below the root the protocol is matched whole: 256 children of prefix length 8.
      for (let protocol = 0; protocol < 256; ) {
        const protocolLo = protocol << 16;
        const seg = segments[firstSegmentAt(segments, protocolLo)];
        // A run of whole protocols inside one segment that needs no entry of its own (no value, or
        // the one inherited) is skipped at once: most policies name one or two of the 256.
        if (seg.hi >= (protocolLo | 0xffff) && (seg.value === undefined || sameValue(seg.value, current))) {
          protocol = Math.min(256, Math.floor((seg.hi + 1) / 0x10000));
          continue;
        }
        visit(8, protocolLo, current);
        protocol++;
      }
    } else {
      const half = 2 ** (KEY_BITS - length - 1);
      visit(length + 1, base, current);
      visit(length + 1, base + half, current);
    }
  };

  if (segments.length === 0 || segments[0].lo !== 0 || segments[segments.length - 1].hi !== MAX_PORT_KEY) {
    throw new Error('key segments must cover the whole protocol/port space');
  }
  visit(0, 0, undefined);
  return out;
}
