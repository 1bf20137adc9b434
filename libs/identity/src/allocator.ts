/**
 * Label set → numeric identity. Identical label sets share one number, handed out from 256 up
 * (node-local CIDR identities from 16777217 up) and reference-counted: the number is released when
 * its last user releases it. A released label set that comes back gets its old number again when
 * that number is still free, so a pod restart does not change the identity the datapath sees.
 */
import { formatIpPrefix, type IpPrefix, parseIpPrefixOrAddress } from './ip-prefix';
import { label, LabelSource, type LabelSet, labelSet, labelSetKey } from './labels';
import {
  type Identity,
  MAX_GLOBAL_IDENTITY,
  MAX_LOCAL_IDENTITY,
  MIN_GLOBAL_IDENTITY,
  MIN_LOCAL_IDENTITY,
  RESERVED_IDENTITIES,
  ReservedIdentity,
} from './reserved';

export interface AllocatedIdentity extends Identity {
  /** True when this call created the identity (its first reference). */
  readonly isNew: boolean;
}

interface Slot {
  readonly identity: Identity;
  references: number;
}

class NumberRange {
  private next: number;
  private readonly released = new Set<number>();

  constructor(
    private readonly min: number,
    private readonly max: number,
    private readonly what: string,
  ) {
    this.next = min;
  }

  take(preferred: number | undefined): number {
    if (preferred !== undefined && this.released.delete(preferred)) return preferred;
    if (this.next <= this.max) return this.next++;
    // Fresh numbers are used up: recycle the lowest released one.
    const recycled = [...this.released].sort((a, b) => a - b)[0];
    if (recycled === undefined) throw new Error(`${this.what} identity space ${this.min}..${this.max} is exhausted`);
    this.released.delete(recycled);
    return recycled;
  }

  give(id: number): void {
    if (id >= this.min && id <= this.max) this.released.add(id);
  }
}

/** The label set of the local identity standing for a CIDR prefix referenced by policy. */
export function cidrLabels(prefix: IpPrefix): LabelSet {
  return labelSet([label(LabelSource.CIDR, formatIpPrefix(prefix)), label(LabelSource.RESERVED, 'world')]);
}

/** The prefix a CIDR identity stands for, read back from its `cidr:` label. */
/** Parsed CIDR labels: policy computation asks for the same identities' prefixes over and over. */
const cidrByIdentity = new WeakMap<Identity, IpPrefix | null>();

export function cidrOfIdentity(identity: Identity): IpPrefix | undefined {
  const known = cidrByIdentity.get(identity);
  if (known !== undefined) return known ?? undefined;
  const cidr = identity.labels.find((l) => l.source === LabelSource.CIDR);
  let prefix: IpPrefix | null = null;
  try {
    if (cidr) prefix = parseIpPrefixOrAddress(cidr.key);
  } catch {
    prefix = null;
  }
  cidrByIdentity.set(identity, prefix);
  return prefix ?? undefined;
}

export class IdentityAllocator {
  private readonly byKey = new Map<string, Slot>();
  private readonly byId = new Map<number, Slot>();
  private readonly lastIdByKey = new Map<string, number>();
  private readonly reservedByKey = new Map<string, Identity>();
  private readonly global: NumberRange;
  private readonly local: NumberRange;

  constructor(options: { minGlobal?: number; maxGlobal?: number; minLocal?: number; maxLocal?: number } = {}) {
    this.global = new NumberRange(options.minGlobal ?? MIN_GLOBAL_IDENTITY, options.maxGlobal ?? MAX_GLOBAL_IDENTITY, 'global');
    this.local = new NumberRange(options.minLocal ?? MIN_LOCAL_IDENTITY, options.maxLocal ?? MAX_LOCAL_IDENTITY, 'local');
    for (const reserved of RESERVED_IDENTITIES) this.reservedByKey.set(labelSetKey(reserved.labels), reserved);
  }

  /**
   * Takes a reference on the identity of this label set, creating it if needed. A set equal to a
   * reserved identity's (e.g. just `reserved:host`) returns that reserved number.
   */
  allocate(labels: LabelSet): AllocatedIdentity {
    const canonical = labelSet(labels);
    const key = labelSetKey(canonical);
    const reserved = this.reservedByKey.get(key);
    if (reserved) return { ...reserved, isNew: false };
    return this.reference(key, canonical, this.global);
  }

  /**
   * Takes a reference on the node-local identity of a CIDR prefix (a policy names it). A /0
   * prefix is the world itself and gets the world identity.
   */
  allocateCidr(prefix: IpPrefix | string): AllocatedIdentity {
    const parsed = typeof prefix === 'string' ? parseIpPrefixOrAddress(prefix) : prefix;
    if (parsed.length === 0) {
      const world = RESERVED_IDENTITIES.find((r) => r.id === ReservedIdentity.WORLD) as Identity;
      return { ...world, isNew: false };
    }
    const labels = cidrLabels(parsed);
    return this.reference(labelSetKey(labels), labels, this.local);
  }

  /**
   * Takes a reference on the node-local identity of addresses the DNS proxy learned for names some
   * toFQDNs selectors select (policy-semantics §5.3): one label `fqdn:<selector>` per selector,
   * so the selectors' requirements (source fqdn, key exists) match it.
   */
  allocateFqdn(selectorKeys: readonly string[]): AllocatedIdentity {
    if (selectorKeys.length === 0) throw new Error('an FQDN identity needs at least one selector');
    const labels = labelSet(selectorKeys.map((key) => label(LabelSource.FQDN, key)));
    return this.reference(labelSetKey(labels), labels, this.local);
  }

  private reference(key: string, labels: LabelSet, range: NumberRange): AllocatedIdentity {
    const existing = this.byKey.get(key);
    if (existing) {
      existing.references++;
      return { ...existing.identity, isNew: false };
    }
    const id = range.take(this.lastIdByKey.get(key));
    const slot: Slot = { identity: { id, labels }, references: 1 };
    this.byKey.set(key, slot);
    this.byId.set(id, slot);
    this.lastIdByKey.set(key, id);
    return { id, labels, isNew: true };
  }

  /** Drops one reference; returns true when that was the last one and the number was released. */
  release(id: number): boolean {
    const slot = this.byId.get(id);
    if (!slot) return false;
    slot.references--;
    if (slot.references > 0) return false;
    this.byId.delete(id);
    this.byKey.delete(labelSetKey(slot.identity.labels));
    (id >= MIN_LOCAL_IDENTITY ? this.local : this.global).give(id);
    return true;
  }

  get(id: number): Identity | undefined {
    return this.byId.get(id)?.identity ?? RESERVED_IDENTITIES.find((r) => r.id === id);
  }

  find(labels: LabelSet): Identity | undefined {
    const key = labelSetKey(labelSet(labels));
    return this.reservedByKey.get(key) ?? this.byKey.get(key)?.identity;
  }

  references(id: number): number {
    return this.byId.get(id)?.references ?? 0;
  }

  /** Reserved identities and every allocated one, by number: what the policy compiler selects from. */
  identities(): Identity[] {
    return [...RESERVED_IDENTITIES, ...[...this.byId.values()].map((s) => s.identity)].sort((a, b) => a.id - b.id);
  }
}
