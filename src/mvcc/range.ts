import { bytesToBinary } from "./bytes.js";
import { failure, MvccErrorCode, type MvccFailure } from "./errors.js";
import type { Kv } from "./kv.js";
import {
  type KeyValue,
  type RangeRequest,
  type RangeResponse,
  type Revision,
  SortOrder,
  SortTarget,
} from "./types.js";

/** A key range in binary-string form: `[start, end)`; `end` null = no upper bound; `single` = one key. */
export interface KeySpan {
  readonly start: string;
  readonly end: string | null;
  readonly single: boolean;
}

/**
 * Resolves etcd's range conventions: an absent or empty `rangeEnd` selects `key` alone; `"\0"`
 * means no upper bound; anything else is the exclusive end.
 */
export function keySpan(key: Uint8Array, rangeEnd: Uint8Array | undefined): KeySpan {
  const start = bytesToBinary(key);
  if (rangeEnd === undefined || rangeEnd.length === 0) return { start, end: null, single: true };
  if (rangeEnd.length === 1 && rangeEnd[0] === 0) return { start, end: null, single: false };
  return { start, end: bytesToBinary(rangeEnd), single: false };
}

/** Whether binary key `key` lies in `span`. */
export function spanContains(span: KeySpan, key: string): boolean {
  if (span.single) return key === span.start;
  return key >= span.start && (span.end === null || key < span.end);
}

/** Calls `visit` with the slot of every live key in `span` at `rev`, in key order, until it returns false. */
export function forEachLive(
  kv: Kv,
  span: KeySpan,
  rev: Revision,
  visit: (slot: number) => boolean | undefined,
): void {
  if (span.single) {
    const slot = kv.slotAt(kv.keys.lookup(span.start), rev);
    if (slot !== -1) visit(slot);
    return;
  }
  if (span.end !== null && span.end <= span.start) return;
  kv.keys.forEachInRange(span.start, span.end, (id) => {
    const slot = kv.slotAt(id, rev);
    return slot === -1 ? true : visit(slot);
  });
}

const sortOrders: ReadonlySet<string> = new Set(Object.values(SortOrder));
const sortTargets: ReadonlySet<string> = new Set(Object.values(SortTarget));

/** Checks the revision-independent parts of a range request. */
export function checkRange(req: RangeRequest): MvccFailure | null {
  if (req.key.length === 0) return failure(MvccErrorCode.emptyKey, "Cannot range: 'key' must not be empty");
  if (req.sortOrder !== undefined && !sortOrders.has(req.sortOrder)) {
    return failure(
      MvccErrorCode.invalidSortOption,
      `Cannot range: unknown 'sortOrder' ${String(req.sortOrder)}`,
    );
  }
  if (req.sortTarget !== undefined && !sortTargets.has(req.sortTarget)) {
    return failure(
      MvccErrorCode.invalidSortOption,
      `Cannot range: unknown 'sortTarget' ${String(req.sortTarget)}`,
    );
  }
  return null;
}

/**
 * Checks a requested read revision against the store: above `current` is a future revision,
 * below the compact revision is compacted (reading exactly at it is allowed).
 */
export function checkReadRevision(kv: Kv, requested: Revision, current: Revision): MvccFailure | null {
  if (requested > current) {
    return failure(
      MvccErrorCode.futureRevision,
      `Cannot read at revision ${requested}: the store is at ${current}`,
      0,
      current,
    );
  }
  if (requested > 0 && requested < kv.compactRevision) {
    return failure(
      MvccErrorCode.compacted,
      `Cannot read at revision ${requested}: history before ${kv.compactRevision} was compacted`,
      kv.compactRevision,
      current,
    );
  }
  return null;
}

/**
 * Runs a range read at `rev` (already checked) and reports `headerRevision` as the response's
 * revision. Follows etcd's `Range`: `count` ignores `limit` and the min/max filters; a custom sort
 * or any filter loads the whole range before sorting and truncating.
 */
export function runRange(kv: Kv, req: RangeRequest, rev: Revision, headerRevision: Revision): RangeResponse {
  if (req.rangeEnd === undefined || req.rangeEnd.length === 0) return singleKey(kv, req, rev, headerRevision);
  const span = keySpan(req.key, req.rangeEnd);
  const limit = req.limit !== undefined && req.limit > 0 ? req.limit : 0;
  const keysOnly = req.keysOnly === true;
  const filtered =
    (req.minModRevision ?? 0) > 0 ||
    (req.maxModRevision ?? 0) > 0 ||
    (req.minCreateRevision ?? 0) > 0 ||
    (req.maxCreateRevision ?? 0) > 0;
  let order: SortOrder = req.sortOrder ?? SortOrder.none;
  const target: SortTarget = req.sortTarget ?? SortTarget.key;
  if (target !== SortTarget.key && order === SortOrder.none) order = SortOrder.ascend;
  else if (target === SortTarget.key && order === SortOrder.ascend) order = SortOrder.none;

  if (req.countOnly === true) {
    let count = 0;
    forEachLive(kv, span, rev, () => {
      count++;
      return true;
    });
    return { revision: headerRevision, kvs: [], more: false, count };
  }
  const loadAll = filtered || order !== SortOrder.none || limit === 0;
  const slots: number[] = [];
  let count = 0;
  forEachLive(kv, span, rev, (slot) => {
    count++;
    if (loadAll || slots.length <= limit) slots.push(slot);
    return true;
  });
  let chosen = filtered ? slots.filter((s) => passesFilters(kv, req, s)) : slots;
  if (order !== SortOrder.none) chosen = sortSlots(kv, chosen, target, order);
  let more = false;
  if (limit > 0 && chosen.length > limit) {
    chosen = chosen.slice(0, limit);
    more = true;
  }
  const kvs: KeyValue[] = new Array(chosen.length);
  for (let i = 0; i < chosen.length; i++) kvs[i] = kv.keyValue(chosen[i] as number, keysOnly);
  return { revision: headerRevision, kvs, more, count };
}

/** The point-read fast path: one hash lookup on the request bytes. */
function singleKey(kv: Kv, req: RangeRequest, rev: Revision, headerRevision: Revision): RangeResponse {
  const slot = kv.slotFrom(kv.keys.headOfBytes(req.key), rev);
  if (slot === -1) return { revision: headerRevision, kvs: [], more: false, count: 0 };
  if (req.countOnly === true || !passesFilters(kv, req, slot)) {
    return { revision: headerRevision, kvs: [], more: false, count: 1 };
  }
  return {
    revision: headerRevision,
    kvs: [kv.keyValue(slot, req.keysOnly === true)],
    more: false,
    count: 1,
  };
}

function passesFilters(kv: Kv, req: RangeRequest, slot: number): boolean {
  const h = kv.history;
  const mod = h.main(slot);
  const create = h.create(slot);
  const minMod = req.minModRevision ?? 0;
  const maxMod = req.maxModRevision ?? 0;
  const minCreate = req.minCreateRevision ?? 0;
  const maxCreate = req.maxCreateRevision ?? 0;
  if (minMod > 0 && mod < minMod) return false;
  if (maxMod > 0 && mod > maxMod) return false;
  if (minCreate > 0 && create < minCreate) return false;
  if (maxCreate > 0 && create > maxCreate) return false;
  return true;
}

/** Stable sort of key-ordered slots; ties keep ascending key order. */
function sortSlots(kv: Kv, slots: number[], target: SortTarget, order: SortOrder): number[] {
  const h = kv.history;
  const sign = order === SortOrder.descend ? -1 : 1;
  if (target === SortTarget.key) return sign === 1 ? slots : slots.reverse();
  if (target === SortTarget.value) {
    const values = new Map<number, string>();
    for (const s of slots) values.set(s, bytesToBinary(kv.valueOf(s)));
    return slots.sort((a, b) => {
      const va = values.get(a) as string;
      const vb = values.get(b) as string;
      return va === vb ? 0 : va < vb ? -sign : sign;
    });
  }
  const field = (s: number): number =>
    target === SortTarget.version ? h.version(s) : target === SortTarget.create ? h.create(s) : h.main(s);
  return slots.sort((a, b) => sign * (field(a) - field(b)));
}
