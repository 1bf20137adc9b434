import { performance } from 'node:perf_hooks';
import { DeadlineList, DeadlineLists, type DeadlineEntry } from '../src/deadline-list';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An entry that records when (performance.now()) its deadline ran, under a name. */
function entry(name: string, fired: { name: string; at: number }[]): DeadlineEntry {
  return {
    deadlineAt: 0,
    deadlinePrev: undefined,
    deadlineNext: undefined,
    deadlineList: undefined,
    onDeadline: () => fired.push({ name, at: performance.now() }),
  };
}

describe('DeadlineList', () => {
  it('runs each deadline once, no earlier than its duration after it was added, in the order added', async () => {
    const list = new DeadlineList(40);
    const fired: { name: string; at: number }[] = [];
    const addedAt = new Map<string, number>();
    for (const name of ['a', 'b', 'c']) {
      addedAt.set(name, performance.now());
      list.add(entry(name, fired));
      await sleep(15);
    }
    await sleep(120);
    expect(fired.map((f) => f.name)).toEqual(['a', 'b', 'c']);
    // Node timers may fire up to a millisecond before performance.now() shows the full delay.
    for (const f of fired) expect(f.at - (addedAt.get(f.name) ?? 0)).toBeGreaterThanOrEqual(39);
    expect(list.isEmpty).toBe(true);
  });

  it('never runs a removed entry, also when it was the head the timer was armed for', async () => {
    const list = new DeadlineList(30);
    const fired: { name: string; at: number }[] = [];
    const head = entry('head', fired);
    const middle = entry('middle', fired);
    const last = entry('last', fired);
    list.add(head);
    list.add(middle);
    await sleep(10);
    list.add(last);
    list.remove(head);
    list.remove(middle);
    await sleep(80);
    expect(fired.map((f) => f.name)).toEqual(['last']);
    expect([head.deadlineList, middle.deadlineList, last.deadlineList]).toEqual([undefined, undefined, undefined]);
  });

  it('re-adding an entry restarts its deadline', async () => {
    const list = new DeadlineList(40);
    const fired: { name: string; at: number }[] = [];
    const e = entry('e', fired);
    const start = performance.now();
    list.add(e);
    await sleep(25);
    list.add(e);
    await sleep(60);
    expect(fired).toHaveLength(1);
    expect(fired[0].at - start).toBeGreaterThanOrEqual(64);
  });

  it('keeps serving entries added after the list ran empty', async () => {
    const lists = new DeadlineLists();
    const fired: { name: string; at: number }[] = [];
    lists.add(entry('first', fired), 20);
    await sleep(50);
    const second = entry('second', fired);
    lists.add(second, 20);
    const short = entry('other duration', fired);
    lists.add(short, 5);
    await sleep(50);
    expect(fired.map((f) => f.name)).toEqual(['first', 'other duration', 'second']);
  });

  it('rejects a duration that is not a positive number of milliseconds', () => {
    expect(() => new DeadlineList(0)).toThrow('a deadline duration must be a positive number of milliseconds, got 0');
    expect(() => new DeadlineList(Number.NaN)).toThrow(/got NaN/);
  });
});
