import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { GcStatsRecorder } from '../src/gc-stats';

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));

describe('GcStatsRecorder', () => {
  it('counts each kind of GC pause it sees, with total and longest duration, and nothing after stop', async () => {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as (options?: { type: 'major' | 'minor' }) => void;
    const recorder = new GcStatsRecorder();
    recorder.start();
    try {
      gc();
      gc({ type: 'minor' });
      await settle();
      const stats = recorder.snapshot();
      expect(stats.markCompact.count).toBeGreaterThanOrEqual(1);
      expect(stats.scavenge.count).toBeGreaterThanOrEqual(1);
      for (const pauses of [stats.markCompact, stats.scavenge]) {
        expect(pauses.totalMs).toBeGreaterThan(0);
        expect(pauses.maxMs).toBeGreaterThan(0);
        expect(pauses.maxMs).toBeLessThanOrEqual(pauses.totalMs);
      }
    } finally {
      recorder.stop();
    }
    const stopped = recorder.snapshot();
    gc();
    await settle();
    expect(recorder.snapshot()).toEqual(stopped);
  });
});
