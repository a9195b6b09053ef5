/**
 * Key-range permissions of etcd's role-based access control, as one user's merged grants.
 *
 * A permission (etcd's `authpb.Permission`) names a key or a range with etcd's range
 * conventions (reference §2.3): an empty `rangeEnd` is the single key `key`; `rangeEnd = "\0"` is
 * every key `>= key`; otherwise the half-open range `[key, rangeEnd)`. An empty permission key is
 * the smallest key, so `key = "", rangeEnd = "\0"` (etcd's root permission) is every key.
 *
 * A request is allowed when the union of the user's grants of that type covers it: a single key
 * must lie in some grant; a range `[key, end)` must be covered completely (etcd's interval tree
 * `Contains`), so a range reaching one byte past a granted prefix is refused. Keys are handled as
 * binary strings (see `bytes.ts`), whose `<` is etcd's bytewise order.
 */
import { bytesToBinary } from "./bytes.js";

/** A half-open interval of binary-string keys; `end === null` means "no upper bound". */
export interface KeyInterval {
  readonly start: string;
  readonly end: string | null;
}

/** The interval a permission or request names, with etcd's range conventions. */
export function intervalOf(key: Uint8Array, rangeEnd: Uint8Array): KeyInterval {
  // The empty key is the smallest key ("\0" is the smallest key a client can write).
  const start = key.length === 0 ? "\0" : bytesToBinary(key);
  if (rangeEnd.length === 0) return { start, end: `${start}\0` };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { start, end: null };
  const end = bytesToBinary(rangeEnd);
  // An empty or inverted range selects nothing; it is checked as its first key, so a grant on
  // that key is still required (never allowed for free).
  if (end <= start) return { start, end: `${start}\0` };
  return { start, end };
}

/** Whether `a` ends at or after `b` (null = no upper bound). */
function endsAtOrAfter(a: string | null, b: string | null): boolean {
  if (a === null) return true;
  if (b === null) return false;
  return a >= b;
}

/**
 * Disjoint, sorted intervals: the union of some grants. {@link covers} answers in O(log n).
 * Built once per user and auth revision (see `auth.ts`).
 */
export class IntervalSet {
  readonly #starts: string[] = [];
  readonly #ends: (string | null)[] = [];

  /** The union of `intervals` (any order, may overlap). */
  constructor(intervals: readonly KeyInterval[]) {
    const sorted = [...intervals].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    for (const iv of sorted) {
      const last = this.#ends.length - 1;
      const lastEnd = last >= 0 ? this.#ends[last] : undefined;
      // Overlapping or touching the previous interval: extend it.
      if (lastEnd !== undefined && (lastEnd === null || iv.start <= lastEnd)) {
        if (!endsAtOrAfter(lastEnd, iv.end)) this.#ends[last] = iv.end;
        continue;
      }
      this.#starts.push(iv.start);
      this.#ends.push(iv.end);
    }
  }

  /** Number of disjoint intervals. */
  get size(): number {
    return this.#starts.length;
  }

  /** Whether the union contains every key of `iv`. */
  covers(iv: KeyInterval): boolean {
    // The last interval starting at or before iv.start is the only one that can cover it, since
    // the intervals are disjoint and not touching.
    let lo = 0;
    let hi = this.#starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if ((this.#starts[mid] as string) <= iv.start) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (found === -1) return false;
    const end = this.#ends[found] as string | null;
    if (end !== null && end <= iv.start) return false;
    return endsAtOrAfter(end, iv.end);
  }
}
