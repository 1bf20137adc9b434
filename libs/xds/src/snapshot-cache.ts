import { Snapshot } from './snapshot';

type Watcher = (snapshot: Snapshot) => void;

/**
 * Snapshots per node id. A node without a snapshot of its own gets the default one, which is
 * how `tendril up` serves its single node proxy whatever id it reports.
 */
export class SnapshotCache {
  private readonly snapshots = new Map<string, Snapshot>();
  private defaultSnapshot: Snapshot | undefined;
  private readonly watchers = new Map<string, Set<Watcher>>();

  setDefault(snapshot: Snapshot): void {
    this.defaultSnapshot = snapshot;
    for (const [nodeId, set] of this.watchers) {
      if (!this.snapshots.has(nodeId)) for (const w of set) w(snapshot);
    }
  }

  set(nodeId: string, snapshot: Snapshot): void {
    this.snapshots.set(nodeId, snapshot);
    for (const w of this.watchers.get(nodeId) ?? []) w(snapshot);
  }

  get(nodeId: string): Snapshot | undefined {
    return this.snapshots.get(nodeId) ?? this.defaultSnapshot;
  }

  /** Calls `watcher` with every later snapshot for the node; returns the unsubscribe function. */
  watch(nodeId: string, watcher: Watcher): () => void {
    let set = this.watchers.get(nodeId);
    if (!set) this.watchers.set(nodeId, (set = new Set()));
    set.add(watcher);
    return () => {
      set!.delete(watcher);
      if (set!.size === 0) this.watchers.delete(nodeId);
    };
  }
}
