/** One member's place in a LinkedList, returned by add() and handed back to remove(). */
export interface LinkedListEntry<T> {
  readonly value: T;
}

interface Link<T> extends LinkedListEntry<T> {
  prev: Link<T> | undefined;
  next: Link<T> | undefined;
  list: LinkedList<T> | undefined;
}

/**
 * An insertion-ordered collection for members that come and go all the time (requests in flight,
 * open connections): add and remove are a few pointer writes, and a removed entry is left holding
 * nothing but its value.
 *
 * Why not a Set: as deleted members pile up, V8 rehashes a Set into a new table and links the old
 * table to the new one. Once a major GC has moved a table to the old generation while it was in
 * use, that table, dead, still points at its successor; the scavenger counts every old-to-young
 * pointer as a root without asking whether its holder is alive, so the successor survives, is
 * promoted, and in turn keeps the next table alive — and every member each table held. Until the
 * next major GC every scavenge then promotes every request's objects: tendril-proxy under load
 * promoted ~1.5 MB per scavenge and paused 5–15 ms per scavenge instead of under 1 ms.
 */
export class LinkedList<T> implements Iterable<T> {
  private head: Link<T> | undefined;
  private tail: Link<T> | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(value: T): LinkedListEntry<T> {
    const link: Link<T> = { value, prev: this.tail, next: undefined, list: this };
    if (this.tail === undefined) this.head = link;
    else this.tail.next = link;
    this.tail = link;
    this.count++;
    return link;
  }

  /** Takes the entry out; does nothing when it is not (or no longer) in this list. */
  remove(entry: LinkedListEntry<T>): void {
    const link = entry as Link<T>;
    if (link.list !== this) return;
    const { prev, next } = link;
    if (prev === undefined) this.head = next;
    else prev.next = next;
    if (next === undefined) this.tail = prev;
    else next.prev = prev;
    link.prev = undefined;
    link.next = undefined;
    link.list = undefined;
    this.count--;
  }

  /** The members in the order they were added; removing the current one while iterating is safe. */
  *[Symbol.iterator](): Iterator<T> {
    let link = this.head;
    while (link !== undefined) {
      const next = link.next;
      yield link.value;
      link = next;
    }
  }
}
