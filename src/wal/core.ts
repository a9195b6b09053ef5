/**
 * The WAL's logic, pure and synchronous: turns requests to persist Raft state into {@link Plan}s of
 * file operations (framing, group commit, segment rotation, snapshot files, retention, release).
 * The caller executes each plan in order, completely, before asking for the next one; the shell
 * (`wal.ts`) does this on real files and the simulator on `src/testing/simdisk.ts`.
 */
import { assert } from "../lib/assert.js";
import type { Entry, HardState, Index, Snapshot, SnapshotMetadata } from "../raft/types.js";
import {
  encodeBatch,
  encodeSnapshotFile,
  MarkerKind,
  RecordType,
  recordBytes,
  segmentName,
  snapshotName,
  tempSuffix,
  type WalRecord,
} from "./format.js";
import type { FileOp, Plan } from "./plan.js";
import type { Recovered, SnapshotInfo } from "./recover.js";

/** Default preallocated size of a segment: 64 MiB. */
export const segmentBytesDefault = 64 * 1024 * 1024;
/** Smallest segment size accepted (tests use small segments to exercise rotation). */
export const segmentBytesMin = 1024;
/** Default number of snapshot files kept. */
export const snapshotsRetainedDefault = 2;

/** Options of the WAL core. */
export interface WalCoreOptions {
  /**
   * Bytes preallocated (zero-filled) for each segment; default {@link segmentBytesDefault}. A
   * batch that does not fit in the rest of a segment starts a new one; a batch larger than a whole
   * segment goes alone into a new segment that grows past this size.
   */
  readonly segmentBytes?: number;
  /**
   * Snapshot files kept, newest first; default {@link snapshotsRetainedDefault}, at least 1.
   * Segments are released only once wholly before the oldest kept snapshot, so recovery can fall
   * back to any kept snapshot if a newer one is corrupt.
   */
  readonly snapshotsRetained?: number;
}

/** What one Ready asks to persist: its `snapshot` (installed from the leader), `entries`, `hardState`. */
export interface PersistRequest {
  readonly entries?: readonly Entry[];
  readonly hardState?: HardState | null;
  /** A snapshot received from the leader: the log restarts after it. */
  readonly snapshot?: Snapshot | null;
  /**
   * `false`: needs no fdatasync of its own (Raft's `mustSync` is false: only the commit index
   * moved); a crash before a sync may lose it, which Raft allows. A batch holding any synced
   * request is synced; one of only such requests is written without a sync. (The shell in
   * `wal.ts` never asks for that: it waits to write them with the next synced batch.)
   */
  readonly sync?: boolean;
}

/** A snapshot of the local state machine; the log continues, entries up to it may be released. */
export interface SnapshotRequest {
  readonly localSnapshot: Snapshot;
}

/**
 * A snapshot of the local state machine that the shell has already written and synced under its
 * temporary name (`snapshotName(index, term) + tempSuffix`): it is renamed into place, the
 * directory synced and the marker logged, as for a {@link SnapshotRequest}.
 */
export interface WrittenSnapshotRequest {
  readonly writtenSnapshot: SnapshotMetadata;
}

/** One request to the core. */
export type WalRequest = PersistRequest | SnapshotRequest | WrittenSnapshotRequest;

/** What a new segment's header records copy: the state before the batch that starts it. */
interface HeaderState {
  readonly hardState: HardState;
  readonly lastIndex: Index;
  readonly snapshots: readonly SnapshotInfo[];
}

interface Segment {
  readonly name: string;
  readonly seq: number;
  end: number;
  maxIndex: Index;
  /** End of the records written when the segment was created. */
  readonly headerEnd: number;
}

/** The WAL core. Construct it from {@link recover}'s result. */
export class WalCore {
  readonly segmentBytes: number;
  readonly snapshotsRetained: number;
  #segments: Segment[];
  #snapshots: SnapshotInfo[];
  #hardState: HardState;
  #lastIndex: Index;
  #nextBatch: number;
  #openPlan: FileOp[];
  #spare: { readonly name: string; ready: boolean } | null = null;
  #spareCount = 0;

  constructor(recovered: Recovered, options: WalCoreOptions = {}) {
    const segmentBytes = options.segmentBytes ?? segmentBytesDefault;
    const retained = options.snapshotsRetained ?? snapshotsRetainedDefault;
    assert(
      Number.isSafeInteger(segmentBytes) && segmentBytes >= segmentBytesMin && segmentBytes % 8 === 0,
      `WalCore: 'segmentBytes' must be a multiple of 8 of at least ${segmentBytesMin}, got ${segmentBytes}`,
    );
    assert(
      Number.isSafeInteger(retained) && retained >= 1,
      `WalCore: 'snapshotsRetained' must be a positive integer, got ${retained}`,
    );
    this.segmentBytes = segmentBytes;
    this.snapshotsRetained = retained;
    this.#segments = recovered.segments.map((s) => ({ ...s, headerEnd: 0 }));
    this.#snapshots = [...recovered.snapshots];
    this.#hardState = recovered.hardState;
    this.#lastIndex = recovered.lastIndex;
    this.#nextBatch = recovered.nextBatch;
    this.#openPlan = [...recovered.plan];
    if (this.#segments.length === 0) {
      this.#openPlan.push(
        ...this.#rotate({
          hardState: this.#hardState,
          lastIndex: this.#lastIndex,
          snapshots: this.#snapshots,
        }),
      );
    }
  }

  /**
   * Operations to run once, before any other plan: the repairs recovery asked for and, for a new
   * WAL, the first segment.
   */
  openPlan(): Plan {
    const ops = this.#openPlan;
    this.#openPlan = [];
    return { ops, cleanup: [] };
  }

  /** Index of the last entry written (the newest snapshot's index if none follows it). */
  get lastIndex(): Index {
    return this.#lastIndex;
  }

  /** The last hard state written. */
  get hardState(): HardState {
    return this.#hardState;
  }

  /** Names of the live segments, oldest first. */
  get segmentNames(): readonly string[] {
    return this.#segments.map((s) => s.name);
  }

  /** Snapshot files kept, oldest first. */
  get snapshots(): readonly SnapshotInfo[] {
    return this.#snapshots;
  }

  #newestSnapshotIndex(): Index {
    return this.#snapshots[this.#snapshots.length - 1]?.index ?? -1;
  }

  /**
   * The plan persisting `requests` in order: snapshot files first, then every record in one write
   * and one sync (group commit), then removal of old snapshots and released segments. A snapshot
   * not newer than the newest kept one is ignored, as `MemoryStorage.applySnapshot` does.
   */
  append(requests: readonly WalRequest[]): Plan {
    const ops: FileOp[] = [];
    const records: WalRecord[] = [];
    // A new segment's header records describe the state before this batch.
    const before: HeaderState = {
      hardState: this.#hardState,
      lastIndex: this.#lastIndex,
      snapshots: [...this.#snapshots],
    };
    let sync = false;
    for (const req of requests) {
      if ("writtenSnapshot" in req) {
        sync = true;
        this.#addWrittenSnapshot(req.writtenSnapshot, ops, records);
        continue;
      }
      if (!("localSnapshot" in req) && req.sync === false && (req.snapshot ?? null) === null) {
        // Does not need a sync of its own.
      } else sync = true;
      if ("localSnapshot" in req) {
        this.#addSnapshot(req.localSnapshot, MarkerKind.compaction, ops, records);
        continue;
      }
      if (req.snapshot !== undefined && req.snapshot !== null) {
        if (this.#addSnapshot(req.snapshot, MarkerKind.install, ops, records)) {
          this.#lastIndex = req.snapshot.metadata.index;
        }
      }
      for (const entry of req.entries ?? []) records.push({ type: RecordType.entry, entry });
      const lastEntry = req.entries?.[req.entries.length - 1];
      if (lastEntry !== undefined) this.#lastIndex = lastEntry.index;
      if (req.hardState !== undefined && req.hardState !== null) {
        records.push({ type: RecordType.hardState, hardState: req.hardState });
        this.#hardState = req.hardState;
      }
    }
    if (records.length === 0) return { ops, cleanup: [] };
    this.#writeBatch(records, before, ops, sync);
    return { ops, cleanup: this.#retire() };
  }

  #addSnapshot(s: Snapshot, kind: MarkerKind, ops: FileOp[], records: WalRecord[]): boolean {
    const { index, term } = s.metadata;
    if (index <= this.#newestSnapshotIndex()) return false;
    const name = snapshotName(index, term);
    const tmp = name + tempSuffix;
    ops.push(
      { op: "create", file: tmp },
      { op: "write", file: tmp, offset: 0, bytes: encodeSnapshotFile(s) },
      { op: "sync", file: tmp },
      { op: "rename", from: tmp, to: name },
      { op: "syncDir" },
    );
    records.push({ type: RecordType.snapshotMarker, index, term, kind });
    this.#snapshots.push({ name, index, term });
    return true;
  }

  #addWrittenSnapshot(md: SnapshotMetadata, ops: FileOp[], records: WalRecord[]): void {
    const name = snapshotName(md.index, md.term);
    if (md.index <= this.#newestSnapshotIndex()) {
      ops.push({ op: "unlink", file: name + tempSuffix });
      return;
    }
    ops.push({ op: "rename", from: name + tempSuffix, to: name }, { op: "syncDir" });
    records.push({
      type: RecordType.snapshotMarker,
      index: md.index,
      term: md.term,
      kind: MarkerKind.compaction,
    });
    this.#snapshots.push({ name, index: md.index, term: md.term });
  }

  #writeBatch(records: readonly WalRecord[], before: HeaderState, ops: FileOp[], sync: boolean): void {
    let bytes = 0;
    let maxIndex = 0;
    for (const r of records) {
      bytes += recordBytes(r);
      if (r.type === RecordType.entry) maxIndex = Math.max(maxIndex, r.entry.index);
      if (r.type === RecordType.snapshotMarker && r.kind === MarkerKind.install)
        maxIndex = Math.max(maxIndex, r.index);
    }
    let seg = this.#segments[this.#segments.length - 1];
    if (seg === undefined || (seg.end + bytes > this.segmentBytes && seg.end > seg.headerEnd)) {
      ops.push(...this.#rotate(before));
      seg = this.#segments[this.#segments.length - 1] as Segment;
    }
    const data = encodeBatch(records, this.#nextBatch);
    this.#nextBatch = (this.#nextBatch + 1) >>> 0;
    ops.push({ op: "write", file: seg.name, offset: seg.end, bytes: data });
    if (sync) ops.push({ op: "sync", file: seg.name });
    seg.end += data.length;
    seg.maxIndex = Math.max(seg.maxIndex, maxIndex);
  }

  /**
   * Starts a new segment: created under a temporary name, zero-filled, given its header records
   * (segment header, current hard state, a copy of every kept snapshot's marker), synced, renamed
   * into place, and the directory synced, so a segment file by its real name is always whole.
   */
  #rotate(state: HeaderState): FileOp[] {
    const prev = this.#segments[this.#segments.length - 1];
    const seq = prev === undefined ? 0 : prev.seq + 1;
    const firstIndex = state.lastIndex + 1;
    const name = segmentName(seq, firstIndex);
    const tmp = name + tempSuffix;
    const records: WalRecord[] = [
      { type: RecordType.segmentHeader, seq, firstIndex, prevEnd: prev?.end ?? 0 },
      { type: RecordType.hardState, hardState: state.hardState },
    ];
    for (const s of state.snapshots) {
      records.push({ type: RecordType.snapshotMarker, index: s.index, term: s.term, kind: MarkerKind.copy });
    }
    const header = encodeBatch(records, this.#nextBatch);
    this.#nextBatch = (this.#nextBatch + 1) >>> 0;
    this.#segments.push({ name, seq, end: header.length, maxIndex: 0, headerEnd: header.length });
    const spare = this.#spare;
    if (spare?.ready && header.length <= this.segmentBytes) {
      // The file is already allocated and synced: only the header is new.
      this.#spare = null;
      return [
        { op: "write", file: spare.name, offset: 0, bytes: header },
        { op: "sync", file: spare.name },
        { op: "rename", from: spare.name, to: name },
        { op: "syncDir" },
      ];
    }
    return [
      { op: "create", file: tmp },
      { op: "zero", file: tmp, offset: 0, length: Math.max(this.segmentBytes, header.length) },
      { op: "write", file: tmp, offset: 0, bytes: header },
      { op: "sync", file: tmp },
      { op: "rename", from: tmp, to: name },
      { op: "syncDir" },
    ];
  }

  /**
   * A plan that preallocates the next segment's file ahead of time, under a temporary name, so
   * that rotation writes only a header instead of zero-filling a whole segment while appends wait.
   * It touches no other file and may run concurrently with append plans; report its outcome with
   * {@link spareDone}. Null while a spare exists or is being prepared. Optional: without a spare,
   * rotation preallocates inline.
   */
  prepareSpare(): Plan | null {
    if (this.#spare !== null) return null;
    const name = `spare-${(this.#spareCount++).toString(16).padStart(8, "0")}${tempSuffix}`;
    this.#spare = { name, ready: false };
    return {
      ops: [
        { op: "create", file: name },
        { op: "zero", file: name, offset: 0, length: this.segmentBytes },
        { op: "sync", file: name },
      ],
      cleanup: [],
    };
  }

  /**
   * Reports the outcome of the plan from {@link prepareSpare}: on success the next rotation uses
   * the file; on failure it is forgotten (and should be removed: the returned plan does that).
   */
  spareDone(ok: boolean): Plan {
    const spare = this.#spare;
    if (spare === null || spare.ready) return { ops: [], cleanup: [] };
    if (ok) {
      spare.ready = true;
      return { ops: [], cleanup: [] };
    }
    this.#spare = null;
    return { ops: [], cleanup: [{ op: "unlink", file: spare.name }] };
  }

  /** Drops snapshots beyond the retention count, then segments wholly before the oldest kept one. */
  #retire(): FileOp[] {
    const cleanup: FileOp[] = [];
    while (this.#snapshots.length > this.snapshotsRetained) {
      const old = this.#snapshots.shift() as SnapshotInfo;
      cleanup.push({ op: "unlink", file: old.name });
    }
    const oldest = this.#snapshots[0];
    if (oldest === undefined) return cleanup;
    while (this.#segments.length > 1 && (this.#segments[0] as Segment).maxIndex <= oldest.index) {
      const seg = this.#segments.shift() as Segment;
      cleanup.push({ op: "unlink", file: seg.name });
    }
    return cleanup;
  }
}
