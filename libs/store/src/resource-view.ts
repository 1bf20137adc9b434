import type { LabelSelector } from '@tendril/api-k8s';
import type { KubeObject } from './kube-object';
import { matchesLabelSelector, requiredLabel } from './label-selector';
import { keyOf, type GroupKind, type ObjectRef, type ResourceKey } from './object-ref';
import type { ObjectTable, StoredEntry } from './object-table';

/**
 * Which kind to list. A GroupKind matches exactly; `{ kind }` without a group matches that kind in
 * every API group (useful in tools, ambiguous in translators — they should name the group).
 */
export type KindFilter<T extends KubeObject = KubeObject> = GroupKind<T> | { readonly kind: string; readonly group?: undefined };

/** Read access shared by the live store and its immutable snapshots. Lists are sorted by key. */
export interface ResourceView {
  /** The store revision this view reflects (0 before the first change). */
  readonly revision: number;
  /** Number of objects. */
  readonly size: number;
  get<T extends KubeObject = KubeObject>(ref: ObjectRef | ResourceKey): T | undefined;
  has(ref: ObjectRef | ResourceKey): boolean;
  list<T extends KubeObject = KubeObject>(filter: KindFilter<T>, namespace?: string): readonly T[];
  /** Objects of a kind carrying label `labelKey=labelValue`, e.g. EndpointSlices by kubernetes.io/service-name. */
  listByLabel<T extends KubeObject = KubeObject>(filter: KindFilter<T>, labelKey: string, labelValue: string, namespace?: string): readonly T[];
  /**
   * Objects of a kind whose labels satisfy a LabelSelector (matchLabels and matchExpressions), e.g.
   * the Pods a Service or a CiliumNetworkPolicy endpointSelector selects. An empty selector selects all.
   */
  listBySelector<T extends KubeObject = KubeObject>(filter: KindFilter<T>, selector: LabelSelector, namespace?: string): readonly T[];
  /** Every object, sorted by key. */
  all(): readonly KubeObject[];
}

function toKey(ref: ObjectRef | ResourceKey): ResourceKey {
  return typeof ref === 'string' ? ref : keyOf(ref);
}

function byKey(a: ResourceKey, b: ResourceKey): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A ResourceView over an ObjectTable. The table must not change while a snapshot reads it. */
export class TableView implements ResourceView {
  constructor(
    protected table: ObjectTable,
    private currentRevision: number,
  ) {}

  get revision(): number {
    return this.currentRevision;
  }

  protected setRevision(revision: number): void {
    this.currentRevision = revision;
  }

  get size(): number {
    return this.table.size;
  }

  get<T extends KubeObject = KubeObject>(ref: ObjectRef | ResourceKey): T | undefined {
    return this.table.get(toKey(ref))?.object as T | undefined;
  }

  has(ref: ObjectRef | ResourceKey): boolean {
    return this.table.get(toKey(ref)) !== undefined;
  }

  list<T extends KubeObject = KubeObject>(filter: KindFilter<T>, namespace?: string): readonly T[] {
    return this.collect<T>(filter, (gk) => (namespace ? this.table.keysInNamespace(gk, namespace) : this.table.keysOfKind(gk)));
  }

  listByLabel<T extends KubeObject = KubeObject>(filter: KindFilter<T>, labelKey: string, labelValue: string, namespace?: string): readonly T[] {
    const objects = this.collect<T>(filter, (gk) => this.table.keysWithLabel(gk, labelKey, labelValue));
    return namespace ? objects.filter((o) => o.metadata.namespace === namespace) : objects;
  }

  listBySelector<T extends KubeObject = KubeObject>(filter: KindFilter<T>, selector: LabelSelector, namespace?: string): readonly T[] {
    const label = requiredLabel(selector);
    const candidates = label ? this.listByLabel(filter, label[0], label[1], namespace) : this.list(filter, namespace);
    return candidates.filter((o) => matchesLabelSelector(o.metadata.labels, selector));
  }

  all(): readonly KubeObject[] {
    return this.table.keys().map((key) => (this.table.get(key) as StoredEntry).object);
  }

  private collect<T extends KubeObject>(
    filter: KindFilter<T>,
    keysFor: (gk: { group: string; kind: string }) => ReadonlySet<ResourceKey> | undefined,
  ): T[] {
    const groupKinds =
      filter.group !== undefined
        ? [{ group: filter.group, kind: filter.kind }]
        : this.matchingGroupKinds(filter.kind);
    const keys: ResourceKey[] = [];
    for (const gk of groupKinds) for (const key of keysFor(gk) ?? []) keys.push(key);
    return keys.sort(byKey).flatMap((key) => {
      const entry = this.table.get(key);
      return entry ? [entry.object as T] : [];
    });
  }

  private matchingGroupKinds(kind: string): { group: string; kind: string }[] {
    return this.table.groupKinds().filter((gk) => gk.kind === kind);
  }
}
