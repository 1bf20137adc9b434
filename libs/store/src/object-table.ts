import type { KubeObject } from './kube-object';
import { formatGroupKind, type ObjectRef, type ResourceKey } from './object-ref';

/** One stored object and the bookkeeping the store needs to decide what a write changes. */
export interface StoredEntry {
  readonly key: ResourceKey;
  readonly ref: ObjectRef;
  /** The object as readers see it: source content + store-defaulted metadata + status. Deep-frozen. */
  readonly object: KubeObject;
  /**
   * The object as its source last wrote it, without status. The same reference survives a
   * status-only write, which is how a change event tells status-only updates apart.
   */
  readonly content: KubeObject;
  readonly status: unknown;
  /** The source that last wrote the object; undefined for direct upserts. */
  readonly sourceId: string | undefined;
}

type KeySet = Set<ResourceKey>;

/** Code-unit order of keys: the order every list of the store is in. */
function byKey(a: ResourceKey, b: ResourceKey): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function addTo<K>(map: Map<K, KeySet>, k: K, key: ResourceKey): void {
  let set = map.get(k);
  if (!set) map.set(k, (set = new Set()));
  set.add(key);
}

function removeFrom<K>(map: Map<K, KeySet>, k: K, key: ResourceKey): void {
  const set = map.get(k);
  if (!set) return;
  set.delete(key);
  if (set.size === 0) map.delete(k);
}

/**
 * The objects plus their secondary indexes: by group/kind, by group/kind + namespace and by
 * group/kind + label key + label value. Mutable; the store copies it before mutating when a
 * snapshot still shares it.
 */
export class ObjectTable {
  private readonly entries = new Map<ResourceKey, StoredEntry>();
  /** "Kind.group" → keys of that kind. */
  private readonly byGroupKind = new Map<string, KeySet>();
  /** "Kind.group" + NUL + namespace → keys. */
  private readonly byNamespace = new Map<string, KeySet>();
  /** "Kind.group" + NUL + label key + NUL + label value → keys. */
  private readonly byLabel = new Map<string, KeySet>();
  /** Every key in order, kept until a key is added or removed (updates, the common write, keep it). */
  private sortedKeys: ResourceKey[] | undefined;

  get size(): number {
    return this.entries.size;
  }

  get(key: ResourceKey): StoredEntry | undefined {
    return this.entries.get(key);
  }

  values(): IterableIterator<StoredEntry> {
    return this.entries.values();
  }

  /** Every key, sorted. The array is shared until the next addition or removal: do not modify it. */
  keys(): readonly ResourceKey[] {
    return (this.sortedKeys ??= [...this.entries.keys()].sort(byKey));
  }

  set(entry: StoredEntry): void {
    const previous = this.entries.get(entry.key);
    if (previous) this.unindex(previous);
    else this.sortedKeys = undefined;
    this.entries.set(entry.key, entry);
    this.index(entry);
  }

  delete(key: ResourceKey): StoredEntry | undefined {
    const previous = this.entries.get(key);
    if (!previous) return undefined;
    this.unindex(previous);
    this.entries.delete(key);
    this.sortedKeys = undefined;
    return previous;
  }

  keysOfKind(gk: { group: string; kind: string }): ReadonlySet<ResourceKey> | undefined {
    return this.byGroupKind.get(formatGroupKind(gk));
  }

  keysInNamespace(gk: { group: string; kind: string }, namespace: string): ReadonlySet<ResourceKey> | undefined {
    return this.byNamespace.get(`${formatGroupKind(gk)}\0${namespace}`);
  }

  keysWithLabel(gk: { group: string; kind: string }, labelKey: string, labelValue: string): ReadonlySet<ResourceKey> | undefined {
    return this.byLabel.get(`${formatGroupKind(gk)}\0${labelKey}\0${labelValue}`);
  }

  /** The distinct group/kinds that currently have at least one object. */
  groupKinds(): { group: string; kind: string }[] {
    const result: { group: string; kind: string }[] = [];
    for (const keys of this.byGroupKind.values()) {
      const [first] = keys;
      const entry = first === undefined ? undefined : this.entries.get(first);
      if (entry) result.push({ group: entry.ref.group, kind: entry.ref.kind });
    }
    return result;
  }

  clone(): ObjectTable {
    const copy = new ObjectTable();
    for (const [k, v] of this.entries) copy.entries.set(k, v);
    copy.sortedKeys = this.sortedKeys;
    for (const [from, to] of [
      [this.byGroupKind, copy.byGroupKind],
      [this.byNamespace, copy.byNamespace],
      [this.byLabel, copy.byLabel],
    ] as const) {
      for (const [k, set] of from) to.set(k, new Set(set));
    }
    return copy;
  }

  private index(entry: StoredEntry): void {
    const gk = formatGroupKind(entry.ref);
    addTo(this.byGroupKind, gk, entry.key);
    if (entry.ref.namespace) addTo(this.byNamespace, `${gk}\0${entry.ref.namespace}`, entry.key);
    for (const [k, v] of Object.entries(entry.object.metadata.labels ?? {})) addTo(this.byLabel, `${gk}\0${k}\0${v}`, entry.key);
  }

  private unindex(entry: StoredEntry): void {
    const gk = formatGroupKind(entry.ref);
    removeFrom(this.byGroupKind, gk, entry.key);
    if (entry.ref.namespace) removeFrom(this.byNamespace, `${gk}\0${entry.ref.namespace}`, entry.key);
    for (const [k, v] of Object.entries(entry.object.metadata.labels ?? {})) removeFrom(this.byLabel, `${gk}\0${k}\0${v}`, entry.key);
  }
}
