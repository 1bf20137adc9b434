import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';

/** Pauses of one kind of garbage collection since the recorder started. */
export interface GcPauseStats {
  count: number;
  totalMs: number;
  maxMs: number;
}

/**
 * The proxy's garbage-collection pauses, by kind, for the admin /stats. Every pause stalls every
 * request in flight on the proxy's one thread, so this is where a latency tail from the heap shows.
 */
export interface GcStats {
  /** Young-generation GCs (scavenges): frequent, and meant to take well under a millisecond. */
  scavenge: GcPauseStats;
  /** Full mark-compact GCs of the whole heap. */
  markCompact: GcPauseStats;
  /** Steps of incremental marking run on the main thread. */
  incrementalMarking: GcPauseStats;
  /** Weak-callback processing after a GC. */
  weakCallbacks: GcPauseStats;
}

const KIND_NAMES: ReadonlyMap<number, keyof GcStats> = new Map([
  [constants.NODE_PERFORMANCE_GC_MINOR, 'scavenge'],
  [constants.NODE_PERFORMANCE_GC_MAJOR, 'markCompact'],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incrementalMarking'],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, 'weakCallbacks'],
]);

const emptyPauses = (): GcPauseStats => ({ count: 0, totalMs: 0, maxMs: 0 });

/** Counts GC pauses from node's performance timeline (one entry per GC, nothing per request). */
export class GcStatsRecorder {
  private readonly stats: GcStats = { scavenge: emptyPauses(), markCompact: emptyPauses(), incrementalMarking: emptyPauses(), weakCallbacks: emptyPauses() };
  private readonly observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) this.record(entry);
  });

  start(): void {
    this.observer.observe({ entryTypes: ['gc'] });
  }

  stop(): void {
    this.observer.disconnect();
  }

  /** A copy of the totals so far, durations rounded to microseconds. */
  snapshot(): GcStats {
    const round = (p: GcPauseStats): GcPauseStats => ({ count: p.count, totalMs: Math.round(p.totalMs * 1000) / 1000, maxMs: Math.round(p.maxMs * 1000) / 1000 });
    return {
      scavenge: round(this.stats.scavenge),
      markCompact: round(this.stats.markCompact),
      incrementalMarking: round(this.stats.incrementalMarking),
      weakCallbacks: round(this.stats.weakCallbacks),
    };
  }

  private record(entry: PerformanceEntry): void {
    const kind = KIND_NAMES.get((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? -1);
    if (kind === undefined) return;
    const pauses = this.stats[kind];
    pauses.count++;
    pauses.totalMs += entry.duration;
    if (entry.duration > pauses.maxMs) pauses.maxMs = entry.duration;
  }
}
