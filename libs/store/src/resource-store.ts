import { cloneData, deepEqual, deepFreeze } from './deep';
import type { KubeObject } from './kube-object';
import { keyOf, refOf, type ObjectRef, type ResourceKey } from './object-ref';
import { ObjectTable, type StoredEntry } from './object-table';
import { TableView } from './resource-view';
import { deterministicUid } from './uid';
import { assertStorable, InvalidObjectError } from './validate-object';

/** One batch of committed changes. Keys are sorted; `revision` increases by one per event. */
export interface StoreChange {
  readonly revision: number;
  readonly added: readonly ResourceKey[];
  readonly updated: readonly ResourceKey[];
  readonly deleted: readonly ResourceKey[];
  /**
   * The keys in `updated` whose only change was status. A translator that writes status back can
   * skip events made only of these, instead of re-translating on its own writes.
   */
  readonly statusOnly: readonly ResourceKey[];
}

export type ChangeListener = (change: StoreChange) => void;

export type UpsertResult = 'added' | 'updated' | 'unchanged';

export interface ResourceStoreOptions {
  /** Source of creationTimestamp for new objects. Injected so tests and replays are deterministic. */
  clock?: () => Date;
}

/** An immutable view of the store at one revision; later writes do not show through. */
export class StoreSnapshot extends TableView {}

/** RFC 3339 at second precision, as the API server writes creationTimestamp. */
function formatTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

/** Metadata fields the store defaults when a source leaves them out. */
const MANAGED_FIELDS = ['uid', 'generation', 'resourceVersion', 'creationTimestamp'] as const;

function withoutManagedFields(content: KubeObject): KubeObject {
  const metadata = { ...content.metadata };
  for (const field of MANAGED_FIELDS) delete metadata[field];
  return { ...content, metadata };
}

/** The part of an object whose change bumps metadata.generation: everything but identity, metadata and status. */
function specOf(content: KubeObject): Record<string, unknown> {
  const { apiVersion: _apiVersion, kind: _kind, metadata: _metadata, status: _status, ...spec } = content;
  return spec;
}

/**
 * Typed, indexed store of Kubernetes-shaped objects, the single place sources write to and
 * translators read from.
 *
 * Semantics follow the API server where it matters to consumers:
 * - metadata.generation starts at 1 and increases only when the spec (every top-level field but
 *   apiVersion, kind, metadata and status) changes;
 * - status lives apart from the source's content: a write without status keeps the current one,
 *   and setStatus() never touches spec or generation;
 * - uid, creationTimestamp, generation and resourceVersion supplied by a source (a Kubernetes
 *   informer) are kept as given; missing ones are defaulted here (uid derived from the key,
 *   creationTimestamp from the injected clock, resourceVersion = the store revision of the
 *   object's last change);
 * - writes that change nothing produce no event, so a source may re-send everything it has.
 *
 * Writes are grouped into batches (replaceAllFromSource, batch()); each batch that changes
 * anything produces exactly one StoreChange with the next revision. Objects handed out are deep
 * frozen.
 */
export class ResourceStore extends TableView {
  private readonly clock: () => Date;
  private readonly listeners = new Set<ChangeListener>();
  /** True while a snapshot reads `table`; the next write copies it first. */
  private tableShared = false;
  private cachedSnapshot: StoreSnapshot | undefined;
  private batchDepth = 0;
  /** For each key written in the open batch: its entry before the batch. */
  private readonly touched = new Map<ResourceKey, StoredEntry | undefined>();
  private readonly pendingEvents: StoreChange[] = [];
  private delivering = false;

  constructor(options: ResourceStoreOptions = {}) {
    super(new ObjectTable(), 0);
    this.clock = options.clock ?? (() => new Date());
  }

  /** Inserts or replaces one object. Throws InvalidObjectError if it lacks apiVersion, kind or metadata.name. */
  upsert(obj: KubeObject, sourceId?: string): UpsertResult {
    assertStorable(obj);
    return this.batch(() => this.write(obj, sourceId));
  }

  /**
   * Deletes one object. With a sourceId, deletes only if that source owns the object (it was the
   * last to write it), so one source cannot remove what another now provides.
   */
  delete(ref: ObjectRef | ResourceKey, sourceId?: string): boolean {
    const key = typeof ref === 'string' ? ref : keyOf(ref);
    const entry = this.table.get(key);
    if (!entry || (sourceId !== undefined && entry.sourceId !== sourceId)) return false;
    this.batch(() => {
      this.touch(key);
      this.mutableTable().delete(key);
    });
    return true;
  }

  /**
   * Makes `objects` the complete set owned by `sourceId`: writes each one and deletes the
   * source's objects that are no longer listed, as one change event. Validates everything
   * before changing anything, so an invalid batch leaves the store untouched.
   */
  replaceAllFromSource(sourceId: string, objects: readonly KubeObject[]): void {
    const keys = new Set<ResourceKey>();
    objects.forEach((obj, i) => {
      try {
        assertStorable(obj);
      } catch (err) {
        if (err instanceof InvalidObjectError) throw new InvalidObjectError(`[${i}]${err.path ? '.' + err.path : ''}`, err.reason);
        throw err;
      }
      const key = keyOf(refOf(obj));
      if (keys.has(key)) throw new InvalidObjectError(`[${i}]`, `${key} appears more than once in the batch from source "${sourceId}"`);
      keys.add(key);
    });
    this.batch(() => {
      for (const obj of objects) this.write(obj, sourceId);
      const gone = [...this.table.values()].filter((e) => e.sourceId === sourceId && !keys.has(e.key)).map((e) => e.key);
      for (const key of gone) {
        this.touch(key);
        this.mutableTable().delete(key);
      }
    });
  }

  /**
   * Replaces an object's status (undefined clears it). Does not change spec or generation.
   * Returns false if the object does not exist.
   */
  setStatus(ref: ObjectRef | ResourceKey, status: unknown): boolean {
    const key = typeof ref === 'string' ? ref : keyOf(ref);
    const entry = this.table.get(key);
    if (!entry) return false;
    if (deepEqual(entry.status, status)) return true;
    this.batch(() => this.commitEntry(entry.content, deepFreeze(cloneData(status)), entry.sourceId, entry));
    return true;
  }

  /**
   * Runs `fn` with all its writes grouped into one change event (nested batches join the outer
   * one). If `fn` throws, the writes it already made stay and are announced, then the error
   * propagates.
   */
  batch<R>(fn: () => R): R {
    this.batchDepth++;
    try {
      return fn();
    } finally {
      this.batchDepth--;
      if (this.batchDepth === 0) this.commit();
    }
  }

  /**
   * An immutable view of the current state. Cheap: repeated calls between changes return the
   * same snapshot, and the store copies its tables only on the first write after one is taken.
   */
  snapshot(): StoreSnapshot {
    if (this.batchDepth > 0) throw new Error('snapshot() called inside batch(): the batch has not been committed yet');
    if (!this.cachedSnapshot || this.cachedSnapshot.revision !== this.revision) {
      this.tableShared = true;
      this.cachedSnapshot = new StoreSnapshot(this.table, this.revision);
    }
    return this.cachedSnapshot;
  }

  /** Registers a listener for committed batches; returns a function that unregisters it. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private write(obj: KubeObject, sourceId: string | undefined): UpsertResult {
    const key = keyOf(refOf(obj));
    const previous = this.table.get(key);
    const { status, ...rest } = cloneData(obj);
    const incoming = rest as KubeObject;
    if (previous) {
      // A caller that read an object, changed it and wrote it back echoes the store's own
      // defaults; those must not pin generation or resourceVersion to their old values.
      for (const field of MANAGED_FIELDS) {
        if (incoming.metadata[field] !== undefined && incoming.metadata[field] === previous.object.metadata[field]) delete incoming.metadata[field];
      }
    }
    const content = deepFreeze(incoming);
    const nextStatus = status !== undefined ? deepFreeze(status) : previous?.status;
    const sameContent =
      previous !== undefined &&
      MANAGED_FIELDS.every((field) => content.metadata[field] === undefined) &&
      deepEqual(withoutManagedFields(previous.content), content);

    if (previous && sameContent) {
      if (deepEqual(previous.status, nextStatus)) {
        if (previous.sourceId !== sourceId) this.mutableTable().set({ ...previous, sourceId });
        return 'unchanged';
      }
      this.commitEntry(previous.content, nextStatus, sourceId, previous);
      return 'updated';
    }
    this.commitEntry(content, nextStatus, sourceId, previous);
    return previous ? 'updated' : 'added';
  }

  /** Materializes the reader-visible object (defaults + status) and stores the entry. */
  private commitEntry(content: KubeObject, status: unknown, sourceId: string | undefined, previous: StoredEntry | undefined): void {
    const ref = refOf(content);
    const key = keyOf(ref);
    const given = content.metadata;
    const before = previous?.object.metadata;
    const specChanged = !previous || !deepEqual(specOf(previous.content), specOf(content));
    const metadata = {
      ...given,
      uid: given.uid ?? before?.uid ?? deterministicUid(key),
      generation: given.generation ?? (before?.generation !== undefined ? before.generation + (specChanged ? 1 : 0) : 1),
      // The revision this batch will commit as.
      resourceVersion: given.resourceVersion ?? String(this.revision + 1),
      creationTimestamp: given.creationTimestamp ?? before?.creationTimestamp ?? formatTimestamp(this.clock()),
    };
    const object = deepFreeze({ ...content, metadata, ...(status !== undefined ? { status } : {}) } as KubeObject);
    this.touch(key);
    this.mutableTable().set({ key, ref, object, content, status, sourceId });
  }

  private touch(key: ResourceKey): void {
    if (!this.touched.has(key)) this.touched.set(key, this.table.get(key));
  }

  private mutableTable(): ObjectTable {
    if (this.tableShared) {
      this.table = this.table.clone();
      this.tableShared = false;
    }
    return this.table;
  }

  private commit(): void {
    const added: ResourceKey[] = [];
    const updated: ResourceKey[] = [];
    const deleted: ResourceKey[] = [];
    const statusOnly: ResourceKey[] = [];
    for (const [key, before] of this.touched) {
      const after = this.table.get(key);
      if (!before && after) added.push(key);
      else if (before && !after) deleted.push(key);
      else if (before && after && before.object !== after.object) {
        updated.push(key);
        if (before.content === after.content) statusOnly.push(key);
      }
    }
    this.touched.clear();
    if (added.length + updated.length + deleted.length === 0) return;
    this.setRevision(this.revision + 1);
    this.pendingEvents.push({ revision: this.revision, added: added.sort(), updated: updated.sort(), deleted: deleted.sort(), statusOnly: statusOnly.sort() });
    this.deliver();
  }

  /**
   * Calls listeners in revision order. A listener that writes to the store queues the next event
   * instead of interleaving it; a listener that throws does not stop the others, and the first
   * error is rethrown once every listener has seen every event.
   */
  private deliver(): void {
    if (this.delivering) return;
    this.delivering = true;
    let firstError: unknown;
    let failed = false;
    try {
      for (let event = this.pendingEvents.shift(); event; event = this.pendingEvents.shift()) {
        for (const listener of [...this.listeners]) {
          try {
            listener(event);
          } catch (err) {
            if (!failed) [failed, firstError] = [true, err];
          }
        }
      }
    } finally {
      this.delivering = false;
    }
    if (failed) throw firstError;
  }
}
