import { assert } from "../lib/assert.js";
import { EMPTY_BYTES } from "./bytes.js";
import { MvccErrorCode, mvccErrorMessages } from "./errors.js";
import type { Kv } from "./kv.js";
import {
  watchEventsQueuedMax,
  watchersMax,
  watchersPerStreamMax,
  watchSyncRecordsMax,
  watchSyncWatchersMax,
} from "./limits.js";
import { type KeySpan, keySpan, spanContains } from "./range.js";
import { type Event, EventType, type KeyValue, type Revision } from "./types.js";

/** Watch filters (etcd's `WatchCreateRequest.FilterType`): drop PUT or DELETE events. */
export const WatchFilter = { noPut: "noPut", noDelete: "noDelete" } as const;
export type WatchFilter = (typeof WatchFilter)[keyof typeof WatchFilter];

/** Creates a watcher (etcd's `WatchCreateRequest`). An empty key means `"\0"`. */
export interface WatchCreateRequest {
  readonly key: Uint8Array;
  readonly rangeEnd?: Uint8Array;
  /** First revision wanted, inclusive; 0 = only changes after the current revision. */
  readonly startRevision?: Revision;
  readonly filters?: readonly WatchFilter[];
  readonly prevKv?: boolean;
  readonly progressNotify?: boolean;
  /** 0 = assign the next free id of the stream (ids start at 0). */
  readonly watchId?: number;
}

/**
 * One message for the consumer of a stream (etcd's `WatchResponse`). `revision` is the store
 * revision when the response was produced (header.revision). Event responses hold all events of
 * one revision for one watcher. `watchId` -1 marks failed creates and stream-wide progress.
 */
export interface WatchResponse {
  readonly watchId: number;
  readonly revision: Revision;
  readonly events: readonly Event[];
  readonly created: boolean;
  readonly canceled: boolean;
  readonly compactRevision: Revision;
  readonly cancelReason: string;
}

/** Tunables of a hub; defaults from `limits.ts`. */
export interface WatchHubOptions {
  readonly eventsQueuedMax?: number;
  readonly syncWatchersMax?: number;
  readonly syncRecordsMax?: number;
  readonly watchersPerStreamMax?: number;
  readonly watchersMax?: number;
}

class Watcher {
  /** Next revision this watcher needs. */
  minRev: Revision;
  /** Events (or empty responses, counted as one) queued on the stream and not taken yet. */
  queued = 0;
  synced = false;
  canceled = false;
  /** Events of the revision being delivered. */
  pending: Event[] | null = null;
  /** Set during a catch-up pass when the buffer filled at revision `minRev`. */
  paused = false;
  /** Whether events were delivered since the last progress notification. */
  active = false;

  constructor(
    readonly id: number,
    readonly stream: WatchStream,
    readonly span: KeySpan,
    readonly noPut: boolean,
    readonly noDelete: boolean,
    readonly prevKv: boolean,
    readonly progressNotify: boolean,
    startRev: Revision,
  ) {
    this.minRev = startRev;
  }
}

interface Queued {
  readonly watcher: Watcher | null;
  readonly response: WatchResponse;
  readonly cost: number;
}

/**
 * One client watch stream: many watchers multiplexed, with ids assigned per stream from 0, and one
 * ordered queue of responses that the transport drains with {@link WatchStream.take}. No event of
 * a watcher precedes its created response. Writers never wait for a stream: a watcher with
 * {@link WatchHubOptions.eventsQueuedMax} events untaken is parked and later caught up from history.
 */
export class WatchStream {
  #hub: WatchHub;
  readonly #watchers = new Map<number, Watcher>();
  #nextId = 0;
  #queue: Queued[] = [];
  #head = 0;
  #progressPending = false;
  /** Watchers of this stream that are not synced. */
  unsynced = 0;
  #closed = false;
  /** Called when the queue goes from empty to non-empty; the transport schedules a flush. */
  onReady: (() => void) | null = null;

  constructor(hub: WatchHub) {
    this.#hub = hub;
  }

  /** Number of responses waiting in the queue. */
  get queuedResponses(): number {
    return this.#queue.length - this.#head;
  }

  /** Number of live watchers on the stream. */
  get watcherCount(): number {
    return this.#watchers.size;
  }

  /**
   * Creates a watcher and queues its created response (or a failed-create response with
   * `watchId` -1 and a reason). Returns the watch id, or -1 on failure.
   */
  watch(req: WatchCreateRequest): number {
    assert(!this.#closed, "WatchStream: watch on a closed stream");
    const rev = this.#hub.currentRevision;
    const start = req.startRevision ?? 0;
    let reason = "";
    if (start < 0) reason = mvccErrorMessages[MvccErrorCode.negativeWatchRevision];
    else if (req.watchId !== undefined && req.watchId !== 0 && this.#watchers.has(req.watchId)) {
      reason = mvccErrorMessages[MvccErrorCode.duplicateWatchId];
    } else if (this.#watchers.size >= this.#hub.watchersPerStreamMax || this.#hub.full) {
      reason = mvccErrorMessages[MvccErrorCode.tooManyWatchers];
    }
    if (reason !== "") {
      this.enqueue(null, response(-1, rev, [], { created: true, canceled: true, cancelReason: reason }), 0);
      return -1;
    }
    let id = req.watchId ?? 0;
    if (id === 0) {
      while (this.#watchers.has(this.#nextId)) this.#nextId++;
      id = this.#nextId++;
    }
    const filters = req.filters ?? [];
    const key = req.key.length === 0 ? new Uint8Array([0]) : req.key;
    const w = new Watcher(
      id,
      this,
      keySpan(key, req.rangeEnd),
      filters.includes(WatchFilter.noPut),
      filters.includes(WatchFilter.noDelete),
      req.prevKv === true,
      req.progressNotify === true,
      start === 0 ? rev + 1 : start,
    );
    this.enqueue(null, response(id, rev, [], { created: true }), 0);
    const compacted = this.#hub.compactRevision;
    if (start > 0 && start < compacted) {
      this.enqueue(null, compactedResponse(id, rev, compacted), 0);
      return id;
    }
    this.#watchers.set(id, w);
    this.#hub.add(w);
    return id;
  }

  /** Cancels a watcher and queues its canceled response; false (and no reply) for an unknown id. */
  cancel(watchId: number): boolean {
    const w = this.#watchers.get(watchId);
    if (w === undefined) return false;
    this.#remove(w);
    this.enqueue(null, response(watchId, this.#hub.currentRevision, [], { canceled: true }), 0);
    return true;
  }

  /**
   * Asks for a stream-wide progress response (`watchId` -1, revision = current). It is queued at
   * once if every watcher is synced, otherwise as soon as they all are, so it never overtakes an
   * event at or below its revision.
   */
  requestProgress(): void {
    if (this.unsynced === 0) this.#queueProgress();
    else this.#progressPending = true;
  }

  /** Removes and returns up to `max` queued responses, oldest first. */
  take(max = Number.POSITIVE_INFINITY): WatchResponse[] {
    const out: WatchResponse[] = [];
    while (this.#head < this.#queue.length && out.length < max) {
      const q = this.#queue[this.#head++] as Queued;
      if (q.watcher !== null) q.watcher.queued -= q.cost;
      out.push(q.response);
    }
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return out;
  }

  /** Removes every watcher; queued responses are dropped. */
  close(): void {
    for (const w of [...this.#watchers.values()]) this.#remove(w);
    this.#queue = [];
    this.#head = 0;
    this.#closed = true;
    this.#hub.closed(this);
  }

  /** Internal (hub): the stream's watchers, for moving them to another hub. */
  watchers(): Watcher[] {
    return [...this.#watchers.values()];
  }

  /** Internal (hub): the stream now belongs to `hub` (its store was replaced by a snapshot). */
  rebind(hub: WatchHub): void {
    this.#hub = hub;
    this.unsynced = 0;
  }

  /** Internal (hub): queues a response for `watcher` (null for control responses). */
  enqueue(watcher: Watcher | null, resp: WatchResponse, cost: number): void {
    if (this.#closed) return;
    const wasEmpty = this.#head === this.#queue.length;
    this.#queue.push({ watcher, response: resp, cost });
    if (watcher !== null) watcher.queued += cost;
    if (wasEmpty) this.onReady?.();
  }

  /** Internal (hub): the hub dropped `w` for good (compaction); forget it here too. */
  forget(w: Watcher): void {
    this.#watchers.delete(w.id);
  }

  /** Internal (hub): called after a catch-up pass. */
  maybeSendDeferredProgress(): void {
    if (this.#progressPending && this.unsynced === 0) {
      this.#progressPending = false;
      this.#queueProgress();
    }
  }

  #queueProgress(): void {
    this.enqueue(null, response(-1, this.#hub.currentRevision, []), 0);
  }

  #remove(w: Watcher): void {
    this.#watchers.delete(w.id);
    this.#hub.remove(w);
  }
}

/**
 * The watch hub: streams ordered events from the store's history to watchers. Watchers are
 * either *synced* (caught up: offered each new revision as it commits) or *unsynced* (behind:
 * caught up by {@link WatchHub.sync} in bounded passes that the server runs on a timer and after
 * applying entries). Guarantees: events in revision order, all events of one revision in one
 * response, none twice, none lost within retained history; a watcher whose next revision has been
 * compacted is canceled with `compactRevision` set.
 */
export class WatchHub {
  readonly #kv: Kv;
  readonly #singles = new Map<string, Set<Watcher>>();
  readonly #ranges = new Set<Watcher>();
  readonly #unsynced = new Set<Watcher>();
  readonly #streams = new Set<WatchStream>();
  #syncedCount = 0;
  #total = 0;
  readonly eventsQueuedMax: number;
  readonly syncWatchersMax: number;
  readonly syncRecordsMax: number;
  readonly watchersPerStreamMax: number;
  readonly watchersMax: number;

  constructor(kv: Kv, options: WatchHubOptions = {}) {
    this.#kv = kv;
    this.eventsQueuedMax = options.eventsQueuedMax ?? watchEventsQueuedMax;
    this.syncWatchersMax = options.syncWatchersMax ?? watchSyncWatchersMax;
    this.syncRecordsMax = options.syncRecordsMax ?? watchSyncRecordsMax;
    this.watchersPerStreamMax = options.watchersPerStreamMax ?? watchersPerStreamMax;
    this.watchersMax = options.watchersMax ?? watchersMax;
  }

  /** Opens a new stream. */
  newStream(): WatchStream {
    const stream = new WatchStream(this);
    this.#streams.add(stream);
    return stream;
  }

  /** Internal (streams): a stream was closed. */
  closed(stream: WatchStream): void {
    this.#streams.delete(stream);
  }

  /**
   * Takes over every stream and watcher of `old`, the hub of a store that this hub's store
   * replaced (a Raft snapshot was installed). Watchers continue from the next revision they need:
   * caught up from this store's history by {@link WatchHub.sync}, or canceled with the compact
   * revision if that history is gone. `old` is left empty.
   */
  adopt(old: WatchHub): void {
    assert(old !== this, "WatchHub: adopting itself");
    const oldCurrent = old.currentRevision;
    for (const stream of old.#streams) {
      const watchers = stream.watchers();
      const synced = watchers.map((w) => w.synced);
      for (const w of watchers) old.remove(w);
      stream.rebind(this);
      this.#streams.add(stream);
      for (const [i, w] of watchers.entries()) {
        // A synced watcher has been given everything up to the old store's revision.
        if (synced[i] === true) w.minRev = Math.max(w.minRev, oldCurrent + 1);
        w.canceled = false;
        this.add(w);
      }
    }
    old.#streams.clear();
  }

  get currentRevision(): Revision {
    return this.#kv.currentRevision;
  }

  get compactRevision(): Revision {
    return this.#kv.compactRevision;
  }

  /** Whether the hub holds its maximum number of watchers. */
  get full(): boolean {
    return this.#total >= this.watchersMax;
  }

  /** Number of watchers waiting to be caught up. */
  get unsyncedCount(): number {
    return this.#unsynced.size;
  }

  /** Number of watchers. */
  get watcherCount(): number {
    return this.#total;
  }

  /** Number of watch streams. */
  get streamCount(): number {
    return this.#streams.size;
  }

  /** Internal (streams): registers a new watcher. */
  add(w: Watcher): void {
    this.#total++;
    if (w.minRev > this.#kv.currentRevision) this.#addSynced(w);
    else this.#addUnsynced(w);
  }

  /** Internal (streams): unregisters a watcher. */
  remove(w: Watcher): void {
    if (w.canceled) return;
    w.canceled = true;
    this.#total--;
    if (w.synced) this.#removeSynced(w);
    else {
      this.#unsynced.delete(w);
      w.stream.unsynced--;
    }
  }

  /** Internal (store): `rev` committed with these record slots; offer them to synced watchers. */
  onRevision(rev: Revision, slots: readonly number[]): void {
    if (this.#syncedCount === 0) return;
    const touched: Watcher[] = [];
    for (const slot of slots) {
      const key = this.#kv.keyOf(slot);
      const rec = new RecordEvent(this.#kv, slot);
      const offer = (w: Watcher): void => {
        if (rev >= w.minRev && !this.#offer(w, rec, touched)) this.#park(w, rev);
      };
      const singles = this.#singles.get(key);
      if (singles !== undefined) for (const w of singles) offer(w);
      for (const w of this.#ranges) if (spanContains(w.span, key)) offer(w);
    }
    for (const w of touched) this.#flush(w, rev);
  }

  /**
   * One bounded catch-up pass: takes up to `syncWatchersMax` unsynced watchers that have buffer
   * room, scans history from the lowest revision they need (at most `syncRecordsMax` records,
   * rounded up to a whole revision) and queues their events; watchers that reach the current
   * revision become synced. Watchers whose next revision was compacted are canceled. Returns the
   * number of watchers still unsynced.
   */
  sync(): number {
    if (this.#unsynced.size === 0) return 0;
    const chosen = this.#chooseForSync();
    if (chosen.length > 0) this.#catchUp(chosen);
    const streams = new Set<WatchStream>();
    for (const w of chosen) streams.add(w.stream);
    for (const s of streams) s.maybeSendDeferredProgress();
    return this.#unsynced.size;
  }

  /**
   * Queues an empty progress response (revision = current) to every synced watcher that asked
   * for progress notifications and received no events since the previous call. The server calls
   * this on its progress interval (etcd: 10 minutes).
   */
  progressNotify(): void {
    const rev = this.#kv.currentRevision;
    const visit = (w: Watcher): void => {
      if (!w.progressNotify) return;
      if (!w.active && w.queued < this.eventsQueuedMax) w.stream.enqueue(w, response(w.id, rev, []), 1);
      w.active = false;
    };
    for (const set of this.#singles.values()) for (const w of set) visit(w);
    for (const w of this.#ranges) visit(w);
  }

  #chooseForSync(): Watcher[] {
    const chosen: Watcher[] = [];
    const compacted = this.#kv.compactRevision;
    for (const w of [...this.#unsynced]) {
      if (w.minRev < compacted) {
        this.remove(w);
        w.stream.forget(w);
        w.stream.enqueue(null, compactedResponse(w.id, this.#kv.currentRevision, compacted), 0);
        continue;
      }
      if (w.queued >= this.eventsQueuedMax) continue;
      chosen.push(w);
      if (chosen.length >= this.syncWatchersMax) break;
    }
    return chosen;
  }

  /** Replays history to `chosen` watchers from the lowest revision they need, in bounded work. */
  #catchUp(chosen: Watcher[]): void {
    const kv = this.#kv;
    const h = kv.history;
    const { singles, ranges, minRev } = groupBySpan(chosen);
    let i = h.firstAtOrAfter(minRev);
    let scanRev = -1;
    let scanned = 0;
    let touched: Watcher[] = [];
    let lastDone = minRev - 1;
    for (; i < h.orderLength; i++) {
      const slot = h.order[i] as number;
      const rev = h.main(slot);
      if (rev !== scanRev) {
        // A revision boundary: flush the finished revision; stop here if the pass is used up.
        for (const w of touched) this.#flushReplay(w, scanRev);
        touched = [];
        if (scanRev !== -1) lastDone = scanRev;
        if (scanned >= this.syncRecordsMax) break;
        scanRev = rev;
      }
      scanned++;
      const key = kv.keyOf(slot);
      const rec = new RecordEvent(kv, slot);
      const offer = (w: Watcher): void => {
        if (w.paused || rev < w.minRev || this.#offer(w, rec, touched)) return;
        w.paused = true;
        w.minRev = rev;
      };
      const list = singles.get(key);
      if (list !== undefined) for (const w of list) offer(w);
      for (const w of ranges) if (spanContains(w.span, key)) offer(w);
    }
    for (const w of touched) this.#flushReplay(w, scanRev);
    this.#settle(chosen, i >= h.orderLength ? kv.currentRevision : lastDone);
  }

  /** After a pass that delivered everything up to `lastDone`: watchers now caught up become synced. */
  #settle(chosen: readonly Watcher[], lastDone: Revision): void {
    const current = this.#kv.currentRevision;
    for (const w of chosen) {
      if (w.paused) {
        w.paused = false;
        continue;
      }
      w.minRev = Math.max(w.minRev, lastDone + 1);
      if (w.minRev > current) {
        this.#unsynced.delete(w);
        w.stream.unsynced--;
        this.#addSynced(w);
      }
    }
  }

  /**
   * Adds one record's event to `w`'s batch for the current revision (unless filtered). Returns
   * false, adding nothing, when `w` has no room for a new revision.
   */
  #offer(w: Watcher, rec: RecordEvent, touched: Watcher[]): boolean {
    if (rec.isPut ? w.noPut : w.noDelete) return true;
    if (w.pending === null) {
      if (w.queued >= this.eventsQueuedMax) return false;
      w.pending = [];
      touched.push(w);
    }
    w.pending.push(rec.forWatcher(w));
    return true;
  }

  #flushReplay(w: Watcher, rev: Revision): void {
    const events = w.pending as Event[];
    w.pending = null;
    w.stream.enqueue(w, response(w.id, this.#kv.currentRevision, events), events.length);
    w.minRev = rev + 1;
  }

  #flush(w: Watcher, rev: Revision): void {
    const events = w.pending as Event[];
    w.pending = null;
    w.active = true;
    w.stream.enqueue(w, response(w.id, rev, events), events.length);
    w.minRev = rev + 1;
  }

  /** A synced watcher could not take revision `rev`: it catches up from there later. */
  #park(w: Watcher, rev: Revision): void {
    this.#removeSynced(w);
    w.minRev = rev;
    this.#addUnsynced(w);
  }

  #addSynced(w: Watcher): void {
    w.synced = true;
    this.#syncedCount++;
    if (w.span.single) {
      let set = this.#singles.get(w.span.start);
      if (set === undefined) {
        set = new Set();
        this.#singles.set(w.span.start, set);
      }
      set.add(w);
    } else {
      this.#ranges.add(w);
    }
  }

  #removeSynced(w: Watcher): void {
    w.synced = false;
    this.#syncedCount--;
    if (w.span.single) {
      const set = this.#singles.get(w.span.start);
      set?.delete(w);
      if (set?.size === 0) this.#singles.delete(w.span.start);
    } else {
      this.#ranges.delete(w);
    }
  }

  #addUnsynced(w: Watcher): void {
    w.synced = false;
    this.#unsynced.add(w);
    w.stream.unsynced++;
  }
}

/** One history record as an event, built at most once however many watchers receive it. */
class RecordEvent {
  #base: Event | null = null;
  #prev: KeyValue | null | undefined;
  readonly isPut: boolean;

  constructor(
    readonly kv: Kv,
    readonly slot: number,
  ) {
    this.isPut = kv.history.version(slot) !== 0;
  }

  /** The event as `w` receives it (with prev_kv if it asked). */
  forWatcher(w: Watcher): Event {
    this.#base ??= eventOf(this.kv, this.slot);
    if (!w.prevKv) return this.#base;
    if (this.#prev === undefined) this.#prev = prevKvOf(this.kv, this.slot);
    return { type: this.#base.type, kv: this.#base.kv, prevKv: this.#prev };
  }
}

/** Indexes watchers by single key and range, and finds the lowest revision any of them needs. */
function groupBySpan(watchers: readonly Watcher[]): {
  singles: Map<string, Watcher[]>;
  ranges: Watcher[];
  minRev: Revision;
} {
  const singles = new Map<string, Watcher[]>();
  const ranges: Watcher[] = [];
  let minRev = Number.POSITIVE_INFINITY;
  for (const w of watchers) {
    minRev = Math.min(minRev, w.minRev);
    if (!w.span.single) ranges.push(w);
    else {
      const list = singles.get(w.span.start);
      if (list === undefined) singles.set(w.span.start, [w]);
      else list.push(w);
    }
  }
  return { singles, ranges, minRev };
}

function response(
  watchId: number,
  revision: Revision,
  events: readonly Event[],
  extra: { created?: boolean; canceled?: boolean; cancelReason?: string } = {},
): WatchResponse {
  return {
    watchId,
    revision,
    events,
    created: extra.created ?? false,
    canceled: extra.canceled ?? false,
    compactRevision: 0,
    cancelReason: extra.cancelReason ?? "",
  };
}

function compactedResponse(watchId: number, revision: Revision, compactRevision: Revision): WatchResponse {
  return {
    watchId,
    revision,
    events: [],
    created: false,
    canceled: true,
    compactRevision,
    cancelReason: mvccErrorMessages[MvccErrorCode.compacted],
  };
}

/** The event a history record stands for (DELETE events carry only key and mod revision). */
export function eventOf(kv: Kv, slot: number): Event {
  const h = kv.history;
  if (h.version(slot) === 0) {
    const key = kv.keyBytesOf(slot);
    return {
      type: EventType.delete,
      kv: {
        key,
        createRevision: 0,
        modRevision: h.main(slot),
        version: 0,
        value: EMPTY_BYTES,
        lease: 0,
      },
      prevKv: null,
    };
  }
  return { type: EventType.put, kv: kv.keyValue(slot), prevKv: null };
}

/** The key as of the revision before the record's, or null if absent or compacted (etcd's prev_kv). */
function prevKvOf(kv: Kv, slot: number): KeyValue | null {
  const h = kv.history;
  const before = h.main(slot) - 1;
  if (before < kv.compactRevision) return null;
  const prevSlot = kv.slotAt(h.keyId(slot), before);
  return prevSlot === -1 ? null : kv.keyValue(prevSlot);
}
