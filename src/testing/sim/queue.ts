import { assert } from "../../lib/assert.js";

/** An event scheduled at a virtual time; `seq` breaks ties in scheduling order (determinism). */
interface Scheduled<T> {
  readonly time: number;
  readonly seq: number;
  readonly event: T;
}

/** A binary min-heap of events ordered by (time, scheduling order). */
export class EventQueue<T> {
  #heap: Scheduled<T>[] = [];
  #seq = 0;

  get size(): number {
    return this.#heap.length;
  }

  push(time: number, event: T): void {
    assert(Number.isFinite(time), `EventQueue.push: time must be finite, got ${time}`);
    const heap = this.#heap;
    heap.push({ time, seq: this.#seq++, event });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(heap[i] as Scheduled<T>, heap[parent] as Scheduled<T>)) break;
      swap(heap, i, parent);
      i = parent;
    }
  }

  /** Removes and returns the earliest event, or undefined if empty. */
  pop(): { time: number; event: T } | undefined {
    const heap = this.#heap;
    const top = heap[0];
    if (top === undefined) return undefined;
    const last = heap.pop() as Scheduled<T>;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && less(heap[l] as Scheduled<T>, heap[m] as Scheduled<T>)) m = l;
        if (r < heap.length && less(heap[r] as Scheduled<T>, heap[m] as Scheduled<T>)) m = r;
        if (m === i) break;
        swap(heap, i, m);
        i = m;
      }
    }
    return { time: top.time, event: top.event };
  }
}

function less<T>(a: Scheduled<T>, b: Scheduled<T>): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}

function swap<T>(a: T[], i: number, j: number): void {
  const t = a[i] as T;
  a[i] = a[j] as T;
  a[j] = t;
}
