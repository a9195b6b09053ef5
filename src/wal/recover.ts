/**
 * Recovery: a pure function from the data directory's files to the durable Raft state, or to an
 * error naming the damaged file and offset. See docs/storage-format.md for the outcomes table.
 */
import type { Entry, HardState, Index, Snapshot, Term } from "../raft/types.js";
import {
  decodeSnapshotFile,
  MarkerKind,
  parseSegmentName,
  parseSnapshotName,
  type ReadRecord,
  RecordType,
  readRecord,
  recordAlignBytes,
  recordHeaderBytes,
  recordVersion,
  tempSuffix,
} from "./format.js";
import type { FileOp } from "./plan.js";

/** A segment as the core tracks it. */
export interface SegmentInfo {
  readonly name: string;
  readonly seq: number;
  readonly firstIndex: Index;
  /** Bytes of valid records: where the next batch goes. */
  readonly end: number;
  /** Highest index named by the segment's entries and install markers (for release). */
  readonly maxIndex: Index;
}

/** A snapshot file whose marker is in the log, usable as a recovery base. */
export interface SnapshotInfo {
  readonly name: string;
  readonly index: Index;
  readonly term: Term;
}

/** One change recovery made (or asks the caller to make) to the files. */
export interface Repair {
  readonly file: string;
  readonly offset: number;
  /** Bytes discarded (0 for removals of temporary files). */
  readonly bytes: number;
  readonly reason: string;
}

/** The outcome of a successful recovery. */
export interface Recovered {
  readonly ok: true;
  /** True when the directory held no WAL at all (a new member). */
  readonly fresh: boolean;
  /** The newest valid snapshot, or null if none was ever saved. */
  readonly snapshot: Snapshot | null;
  /** Entries after the snapshot, in index order. */
  readonly entries: readonly Entry[];
  /** The latest hard state (commit raised to the snapshot index if it was below). */
  readonly hardState: HardState;
  /** What was (or must be) changed: torn tails, temporary and orphaned files, corrupt snapshots. */
  readonly repairs: readonly Repair[];
  /**
   * Whether the repairs discarded log bytes that might once have been acknowledged (a torn or
   * damaged tail). The driver then starts Raft with `abstainUntilCaughtUp`.
   */
  readonly cut: boolean;
  /** Operations carrying out the repairs; run them before any new write. */
  readonly plan: readonly FileOp[];
  /** Human-readable notes: skipped snapshots, adjusted commit index. */
  readonly notes: readonly string[];
  /** Segments in sequence order, the last being the one to append to. */
  readonly segments: readonly SegmentInfo[];
  /** Usable snapshots in index order, the last being {@link snapshot}. */
  readonly snapshots: readonly SnapshotInfo[];
  /** Number of the next write batch. */
  readonly nextBatch: number;
  /** Index of the last entry (the snapshot index if no entry follows). */
  readonly lastIndex: Index;
}

/** Why recovery refused to start. */
export type RecoveryErrorCode =
  /** A record fails its CRC or framing and valid data follows it (not a torn tail). */
  | "corrupt"
  /** A segment, or the log between a snapshot and the next entry, is missing. */
  | "missing"
  /** A valid record of a type or version this code does not know. */
  | "unsupported";

/** A recovery failure naming the file and offset of the damage. */
export interface RecoveryError {
  readonly ok: false;
  readonly code: RecoveryErrorCode;
  readonly file: string;
  readonly offset: number;
  readonly message: string;
}

function fail(code: RecoveryErrorCode, file: string, offset: number, why: string): RecoveryError {
  return { ok: false, code, file, offset, message: `${file} at offset ${offset}: ${why}` };
}

/** Offset of the last non-zero byte of `buf` at or after `from`, or -1. */
export function lastNonZero(buf: Uint8Array, from: number): number {
  let i = buf.length - 1;
  if (buf.byteOffset % 4 === 0) {
    const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
    for (let i = buf.length - 1; i >= words.length * 4; i--) if (buf[i] !== 0) return i >= from ? i : -1;
    let w = words.length - 1;
    const stop = from >>> 2;
    while (w >= stop && words[w] === 0) w--;
    i = Math.min(buf.length - 1, w * 4 + 3);
  }
  for (; i >= from; i--) if (buf[i] !== 0) return i;
  return -1;
}

interface ScannedSegment {
  readonly name: string;
  readonly seq: number;
  readonly firstIndex: Index;
  readonly prevEnd: number;
  readonly records: ReadRecord[];
  readonly end: number;
  /** Offset of the first non-zero byte past the records, and why it is not a record. */
  readonly damage: { readonly offset: number; readonly reason: string; readonly last: number } | null;
}

function scanSegment(name: string, seq: number, buf: Uint8Array): ScannedSegment | RecoveryError {
  const head = readRecord(buf, 0);
  if (!("record" in head)) {
    if (head.kind === "unsupported") return fail("unsupported", name, 0, head.reason);
    return fail("corrupt", name, 0, "the segment header is not a valid record");
  }
  const h = head.record;
  if (h.type !== RecordType.segmentHeader || h.seq !== seq) {
    return fail("corrupt", name, 0, "the first record is not this segment's header");
  }
  const records: ReadRecord[] = [head];
  let at = head.next;
  let reason = "unwritten space followed by data";
  for (;;) {
    const r = readRecord(buf, at);
    if ("record" in r) {
      if (r.record.type === RecordType.segmentHeader)
        return fail("corrupt", name, at, "a second segment header");
      records.push(r);
      at = r.next;
      continue;
    }
    if (r.kind === "unsupported") return fail("unsupported", name, at, r.reason);
    if (r.kind === "bad") reason = r.reason;
    break;
  }
  const last = lastNonZero(buf, at);
  const damage = last < 0 ? null : { offset: at, reason, last };
  return { name, seq, firstIndex: h.firstIndex, prevEnd: h.prevEnd, records, end: at, damage };
}

/**
 * Looks for a valid record after the damage at `from` whose batch is not `batch`: proof that the
 * damage is not a torn final write but lies under data written later. Records of the damaged
 * batch itself are skipped whole (a write torn out of order may leave some of them intact).
 */
function laterRecord(buf: Uint8Array, from: number, batch: number): number {
  for (let at = from + recordAlignBytes; at + recordHeaderBytes <= buf.length; at += recordAlignBytes) {
    const type = buf[at + 8] as number;
    if (type === 0 || type > RecordType.snapshotMarker || buf[at + 9] !== recordVersion) continue;
    const r = readRecord(buf, at);
    if (!("record" in r)) continue;
    if (r.batch !== batch) return at;
    at = r.next - recordAlignBytes;
  }
  return -1;
}

interface Listing {
  readonly segments: { name: string; seq: number }[];
  readonly snapshots: { name: string; index: Index; term: Term }[];
  readonly temps: string[];
}

function list(files: ReadonlyMap<string, Uint8Array>): Listing {
  const segments: { name: string; seq: number }[] = [];
  const snapshots: { name: string; index: Index; term: Term }[] = [];
  const temps: string[] = [];
  for (const name of files.keys()) {
    const seg = parseSegmentName(name);
    const snap = parseSnapshotName(name);
    if (seg !== null) segments.push({ name, seq: seg.seq });
    else if (snap !== null) snapshots.push({ name, ...snap });
    else if (name.endsWith(tempSuffix)) temps.push(name);
  }
  segments.sort((a, b) => a.seq - b.seq);
  snapshots.sort((a, b) => b.index - a.index || b.term - a.term);
  return { segments, snapshots, temps };
}

const emptyHardState: HardState = { term: 0, vote: 0, commit: 0 };

/**
 * Recovers the durable state from `files` (every file of the data directory by name; contents of
 * files recovery ignores, such as the lock file, may be empty).
 *
 * - A damaged last record of the last segment (incomplete, failing its CRC, or garbage after the
 *   last valid record), with no valid record of a later write after it, is a torn tail: it is
 *   zeroed (`plan`), listed in `repairs` with file and offset, and sets `cut`.
 * - Damage anywhere else is a {@link RecoveryError} naming file and offset.
 * - The base is the newest snapshot file that is valid and whose marker is in the log; a corrupt
 *   or missing newest snapshot falls back to the previous one (the log is kept back to the oldest
 *   retained snapshot, so replay from it still works), unless the log restarted at the missing
 *   snapshot (an installed snapshot), which is an error.
 * - A missing segment (a gap in sequence numbers, or entries not following the base) is an error.
 */
export function recover(files: ReadonlyMap<string, Uint8Array>): Recovered | RecoveryError {
  const ls = list(files);
  const plan: FileOp[] = [];
  const repairs: Repair[] = [];
  const notes: string[] = [];
  for (const t of ls.temps) {
    plan.push({ op: "unlink", file: t });
    repairs.push({ file: t, offset: 0, bytes: 0, reason: "temporary file of an interrupted write" });
  }
  if (ls.segments.length === 0) {
    const first = ls.snapshots[0];
    if (first !== undefined) return fail("missing", first.name, 0, "snapshot files exist but no log segment");
    return fresh(plan, repairs);
  }
  const scanned = scanAll(ls, files);
  if (!scanned.ok) return scanned;
  const { segs, cut, nextBatch } = scanned;
  for (const r of scanned.repairs) repairs.push(r);
  for (const op of scanned.plan) plan.push(op);
  const base = chooseBase(ls, files, segs, plan, repairs, notes);
  const replayed = replay(segs, base.snapshot);
  if (!replayed.ok) return replayed;
  if (plan.some((op) => op.op !== "zero" && op.op !== "sync")) plan.push({ op: "syncDir" });
  let hardState = replayed.hardState;
  const snapIndex = base.snapshot?.metadata.index ?? 0;
  if (hardState.commit < snapIndex) {
    notes.push(`hard state commit ${hardState.commit} raised to the snapshot index ${snapIndex}`);
    hardState = { ...hardState, commit: snapIndex };
  }
  if (hardState.commit > replayed.lastIndex) {
    const lastSeg = segs[segs.length - 1] as ScannedSegment;
    return fail(
      "corrupt",
      lastSeg.name,
      lastSeg.end,
      `hard state commit ${hardState.commit} is past the last entry ${replayed.lastIndex}`,
    );
  }
  return {
    ok: true,
    fresh: false,
    snapshot: base.snapshot,
    entries: replayed.entries,
    hardState,
    repairs,
    cut,
    plan,
    notes,
    segments: replayed.segments,
    snapshots: base.usable,
    nextBatch,
    lastIndex: replayed.lastIndex,
  };
}

function fresh(plan: FileOp[], repairs: Repair[]): Recovered {
  return {
    ok: true,
    fresh: true,
    snapshot: null,
    entries: [],
    hardState: emptyHardState,
    repairs,
    cut: false,
    plan,
    notes: [],
    segments: [],
    snapshots: [],
    nextBatch: 1,
    lastIndex: 0,
  };
}

type ScanResult =
  | { ok: true; segs: ScannedSegment[]; cut: boolean; nextBatch: number; repairs: Repair[]; plan: FileOp[] }
  | RecoveryError;

/** Scans every segment, checks that they chain, and classifies damage as torn tail or corruption. */
function scanAll(ls: Listing, files: ReadonlyMap<string, Uint8Array>): ScanResult {
  const segs: ScannedSegment[] = [];
  for (const { name, seq } of ls.segments) {
    const prev = segs[segs.length - 1];
    if (prev !== undefined && seq !== prev.seq + 1) {
      return fail("missing", name, 0, `segment ${prev.seq + 1} is missing (found ${prev.seq} then ${seq})`);
    }
    const s = scanSegment(name, seq, files.get(name) ?? new Uint8Array(0));
    if ("ok" in s) return s;
    if (prev !== undefined) {
      if (prev.damage !== null)
        return fail(
          "corrupt",
          prev.name,
          prev.damage.offset,
          `${prev.damage.reason}, and later segments follow`,
        );
      if (s.prevEnd !== prev.end) {
        const at = Math.min(s.prevEnd, prev.end);
        return fail("corrupt", prev.name, at, `records end at ${prev.end}, but ${name} says ${s.prevEnd}`);
      }
    }
    segs.push(s);
  }
  const last = segs[segs.length - 1] as ScannedSegment;
  const tail = last.records[last.records.length - 1] as ReadRecord;
  let nextBatch = (tail.batch + 1) >>> 0;
  const repairs: Repair[] = [];
  const plan: FileOp[] = [];
  let cut = false;
  if (last.damage !== null) {
    const buf = files.get(last.name) ?? new Uint8Array(0);
    const damagedBatch = tail.batchEnd ? (tail.batch + 1) >>> 0 : tail.batch;
    const later = laterRecord(buf, last.damage.offset, damagedBatch);
    if (later >= 0) {
      return fail(
        "corrupt",
        last.name,
        last.damage.offset,
        `${last.damage.reason}, and a valid record of a later write follows at offset ${later}`,
      );
    }
    const bytes = last.damage.last + 1 - last.damage.offset;
    repairs.push({
      file: last.name,
      offset: last.damage.offset,
      bytes,
      reason: `torn tail: ${last.damage.reason}`,
    });
    plan.push({ op: "zero", file: last.name, offset: last.damage.offset, length: bytes });
    plan.push({ op: "sync", file: last.name });
    cut = true;
    nextBatch = (damagedBatch + 1) >>> 0;
  }
  return { ok: true, segs, cut, nextBatch, repairs, plan };
}

interface Base {
  readonly snapshot: Snapshot | null;
  readonly usable: SnapshotInfo[];
}

/** Picks the newest valid snapshot whose marker is in the log; plans removal of the others. */
function chooseBase(
  ls: Listing,
  files: ReadonlyMap<string, Uint8Array>,
  segs: readonly ScannedSegment[],
  plan: FileOp[],
  repairs: Repair[],
  notes: string[],
): Base {
  const markers = new Set<string>();
  let newestMarker = -1;
  for (const s of segs) {
    for (const r of s.records) {
      if (r.record.type !== RecordType.snapshotMarker) continue;
      markers.add(`${r.record.index}/${r.record.term}`);
      newestMarker = Math.max(newestMarker, r.record.index);
    }
  }
  let snapshot: Snapshot | null = null;
  const usable: SnapshotInfo[] = [];
  for (const f of ls.snapshots) {
    const marked = markers.has(`${f.index}/${f.term}`);
    if (!marked) {
      const why =
        f.index > newestMarker ? "snapshot file of an interrupted save" : "snapshot no longer in the log";
      plan.push({ op: "unlink", file: f.name });
      repairs.push({ file: f.name, offset: 0, bytes: 0, reason: why });
      continue;
    }
    const decoded = decodeSnapshotFile(files.get(f.name) ?? new Uint8Array(0));
    const bad =
      typeof decoded === "string"
        ? decoded
        : decoded.metadata.index !== f.index || decoded.metadata.term !== f.term
          ? "contents do not match the file name"
          : null;
    if (bad !== null || typeof decoded === "string") {
      notes.push(`snapshot ${f.name} is corrupt (${bad}); falling back to an older one`);
      plan.push({ op: "rename", from: f.name, to: `${f.name}.corrupt` });
      repairs.push({ file: f.name, offset: 0, bytes: 0, reason: `corrupt snapshot renamed: ${bad}` });
      continue;
    }
    if (snapshot === null) snapshot = decoded;
    usable.push({ name: f.name, index: f.index, term: f.term });
  }
  usable.reverse();
  return { snapshot, usable };
}

type Replayed =
  | {
      ok: true;
      entries: Entry[];
      hardState: HardState;
      lastIndex: Index;
      segments: SegmentInfo[];
    }
  | RecoveryError;

/**
 * Replays every record after `base` exactly as the log was written: an entry at index i replaces
 * everything from i on (entries at or below the base only cut what follows the base); an install
 * marker restarts the log; the last hard state wins.
 */
function replay(segs: readonly ScannedSegment[], base: Snapshot | null): Replayed {
  const baseIndex = base?.metadata.index ?? 0;
  const entries: Entry[] = [];
  let hardState = emptyHardState;
  const segments: SegmentInfo[] = [];
  for (const s of segs) {
    let maxIndex = 0;
    for (const r of s.records) {
      const rec = r.record;
      if (rec.type === RecordType.entry) {
        const e = rec.entry;
        maxIndex = Math.max(maxIndex, e.index);
        if (e.index <= baseIndex) {
          entries.length = 0;
          continue;
        }
        const last = baseIndex + entries.length;
        if (e.index > last + 1) {
          const why =
            entries.length === 0
              ? `the log after index ${baseIndex} is missing: the next entry is ${e.index}`
              : `entry ${e.index} follows entry ${last}`;
          return fail("missing", s.name, r.offset, why);
        }
        entries.length = e.index - baseIndex - 1;
        entries.push(e);
      } else if (rec.type === RecordType.hardState) {
        hardState = rec.hardState;
      } else if (rec.type === RecordType.snapshotMarker && rec.kind === MarkerKind.install) {
        maxIndex = Math.max(maxIndex, rec.index);
        if (rec.index > baseIndex) {
          const why = `the log restarts at installed snapshot ${rec.index} (term ${rec.term}), whose file is missing or corrupt`;
          return fail("missing", s.name, r.offset, why);
        }
        entries.length = 0;
      }
    }
    segments.push({ name: s.name, seq: s.seq, firstIndex: s.firstIndex, end: s.end, maxIndex });
  }
  return { ok: true, entries, hardState, lastIndex: baseIndex + entries.length, segments };
}
