import { performance } from 'node:perf_hooks';

/** Something with a deadline in a DeadlineList; the list links entries through these fields. */
export interface DeadlineEntry {
  /** performance.now() time at which onDeadline runs. */
  deadlineAt: number;
  deadlinePrev: DeadlineEntry | undefined;
  deadlineNext: DeadlineEntry | undefined;
  /** The list the entry is on, while it is on one. */
  deadlineList: DeadlineList | undefined;
  onDeadline(): void;
}

/**
 * Deadlines that are all the same duration from when they were added (one route timeout, e.g.
 * Envoy's default 15 s), in the order they were added. Since the clock only moves forward, the
 * earliest deadline is always the head, so one timer serves the whole list: it is armed for the
 * head, and when it fires it expires what is due and re-arms for the new head. Adding and
 * removing an entry is a few pointer writes — no Timeout object, async resource or loop-clock call
 * per request as a setTimeout/clearTimeout pair per request would cost. Removing the head does not
 * re-arm: the timer fires at the old head's deadline, finds nothing due and re-arms then.
 */
export class DeadlineList {
  private head: DeadlineEntry | undefined;
  private tail: DeadlineEntry | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly expire = (): void => this.onTimer();

  constructor(readonly durationMs: number) {
    if (!(durationMs > 0) || !Number.isFinite(durationMs)) throw new Error(`a deadline duration must be a positive number of milliseconds, got ${durationMs}`);
  }

  get isEmpty(): boolean {
    return this.head === undefined;
  }

  /** Puts `entry` on this list with a deadline `durationMs` from `now` (performance.now()); moves it here if it was on a list. */
  add(entry: DeadlineEntry, now: number = performance.now()): void {
    if (entry.deadlineList !== undefined) entry.deadlineList.remove(entry);
    entry.deadlineAt = now + this.durationMs;
    entry.deadlineList = this;
    entry.deadlinePrev = this.tail;
    entry.deadlineNext = undefined;
    if (this.tail === undefined) this.head = entry;
    else this.tail.deadlineNext = entry;
    this.tail = entry;
    // A pending timer is due no later than this deadline (it was armed for an earlier one).
    if (this.timer === undefined) this.arm(this.durationMs);
  }

  /** Takes `entry` off the list (its onDeadline will not run); does nothing when it is not on this list. */
  remove(entry: DeadlineEntry): void {
    if (entry.deadlineList !== this) return;
    const { deadlinePrev: prev, deadlineNext: next } = entry;
    if (prev === undefined) this.head = next;
    else prev.deadlineNext = next;
    if (next === undefined) this.tail = prev;
    else next.deadlinePrev = prev;
    entry.deadlinePrev = undefined;
    entry.deadlineNext = undefined;
    entry.deadlineList = undefined;
  }

  private arm(delayMs: number): void {
    // Unref'd: an entry belongs to a request, whose socket keeps the process alive while it matters.
    this.timer = setTimeout(this.expire, delayMs).unref();
  }

  private onTimer(): void {
    this.timer = undefined;
    // Node fires a timer once its millisecond loop clock reaches the delay, which performance.now()
    // can see a fraction of a millisecond earlier: within a millisecond counts as due.
    const due = performance.now() + 1;
    try {
      for (let entry = this.head; entry !== undefined && entry.deadlineAt <= due; entry = this.head) {
        this.remove(entry);
        entry.onDeadline();
      }
    } finally {
      const head = this.head;
      if (head !== undefined && this.timer === undefined) this.arm(Math.max(1, Math.ceil(head.deadlineAt - performance.now())));
    }
  }
}

/** One DeadlineList per duration, made on first use. */
export class DeadlineLists {
  private readonly lists = new Map<number, DeadlineList>();

  /** Puts `entry` on the list for `durationMs`. */
  add(entry: DeadlineEntry, durationMs: number, now?: number): void {
    let list = this.lists.get(durationMs);
    if (list === undefined) {
      list = new DeadlineList(durationMs);
      this.lists.set(durationMs, list);
    }
    list.add(entry, now);
  }

  remove(entry: DeadlineEntry): void {
    entry.deadlineList?.remove(entry);
  }
}
