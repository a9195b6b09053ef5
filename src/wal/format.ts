/**
 * The on-disk format of the WAL (version 1): record framing, record payloads, segment and
 * snapshot file names, and the snapshot file layout. Pure; see docs/storage-format.md.
 *
 * Every record is framed as a 16-byte little-endian header followed by its payload, zero-padded
 * to a multiple of 8 bytes so that recovery can look for valid records at aligned offsets:
 *
 * ```
 * 0  u32 crc      CRC-32C of bytes [4, 16 + length): the rest of the header and the payload
 * 4  u32 length   payload bytes (padding excluded)
 * 8  u8  type     RecordType; 0 is never written, so zeroed (preallocated) space is no record
 * 9  u8  version  encoding version of this record type (1)
 * 10 u16 flags    bit 0: last record of its write batch
 * 12 u32 batch    number of the write batch (mod 2^32); every write of the WAL is one batch
 * ```
 *
 * 64-bit integers are written as two little-endian u32 halves (low first) and must be safe
 * integers (below 2^53).
 */

import { crc32Update } from "../lib/crc32.js";
import type {
  ConfState,
  Entry,
  EntryType,
  HardState,
  Index,
  NodeId,
  Snapshot,
  SnapshotMetadata,
  Term,
} from "../raft/types.js";
import { crc32c } from "./crc32c.js";

/** Bytes of a record header. */
export const recordHeaderBytes = 16;
/** Records start at multiples of this many bytes within a segment. */
export const recordAlignBytes = 8;
/** Largest payload a record may carry; a header claiming more is damage. */
export const recordPayloadBytesMax = 256 * 1024 * 1024;
/** The record encoding version this code writes and reads. */
export const recordVersion = 1;

/** Record types. 0 is reserved: an all-zero header is unwritten (preallocated) space. */
export const RecordType = {
  /** First record of every segment: its sequence number, first index, previous segment's end. */
  segmentHeader: 1,
  /** One Raft log entry. */
  entry: 2,
  /** Term, vote and commit, as one atomic record. */
  hardState: 3,
  /** A snapshot's index and term, and how it changed the log (see {@link MarkerKind}). */
  snapshotMarker: 4,
} as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

/** Record flag: the record is the last of its write batch. */
export const flagBatchEnd = 1;

/** What a snapshot marker means for the log when replayed. */
export const MarkerKind = {
  /** A snapshot of the local state machine: the log continues; entries before it may go. */
  compaction: 0,
  /** A snapshot received from the leader and installed: the log restarts after it. */
  install: 1,
  /** A copy written at the start of a segment so the marker outlives released segments. */
  copy: 2,
} as const;
export type MarkerKind = (typeof MarkerKind)[keyof typeof MarkerKind];

/** A decoded record payload. */
export type WalRecord =
  | {
      readonly type: typeof RecordType.segmentHeader;
      readonly seq: number;
      readonly firstIndex: Index;
      /** Bytes of records in the previous segment (0 when this is the first segment). */
      readonly prevEnd: number;
    }
  | { readonly type: typeof RecordType.entry; readonly entry: Entry }
  | { readonly type: typeof RecordType.hardState; readonly hardState: HardState }
  | {
      readonly type: typeof RecordType.snapshotMarker;
      readonly index: Index;
      readonly term: Term;
      readonly kind: MarkerKind;
    };

/** Rounds `n` up to a multiple of {@link recordAlignBytes}. */
export function alignUp(n: number): number {
  return (n + recordAlignBytes - 1) & ~(recordAlignBytes - 1);
}

function payloadBytes(r: WalRecord): number {
  switch (r.type) {
    case RecordType.segmentHeader:
      return 24;
    case RecordType.entry:
      return 17 + r.entry.data.length;
    case RecordType.hardState:
      return 24;
    case RecordType.snapshotMarker:
      return 17;
  }
}

/** Bytes `r` occupies in a segment: header, payload and padding. */
export function recordBytes(r: WalRecord): number {
  return recordHeaderBytes + alignUp(payloadBytes(r));
}

function putU32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}

function getU32(b: Uint8Array, at: number): number {
  return (
    ((b[at] as number) | ((b[at + 1] as number) << 8) | ((b[at + 2] as number) << 16)) +
    (b[at + 3] as number) * 0x1000000
  );
}

function putU64(b: Uint8Array, at: number, v: number): void {
  putU32(b, at, v >>> 0);
  putU32(b, at + 4, Math.floor(v / 0x100000000));
}

/** A u64 as a number, or -1 if it is not a safe integer. */
function getU64(b: Uint8Array, at: number): number {
  const hi = getU32(b, at + 4);
  if (hi >= 0x200000) return -1;
  return hi * 0x100000000 + getU32(b, at);
}

function putPayload(b: Uint8Array, at: number, r: WalRecord): void {
  switch (r.type) {
    case RecordType.segmentHeader:
      putU64(b, at, r.seq);
      putU64(b, at + 8, r.firstIndex);
      putU64(b, at + 16, r.prevEnd);
      return;
    case RecordType.entry:
      putU64(b, at, r.entry.term);
      putU64(b, at + 8, r.entry.index);
      b[at + 16] = r.entry.type;
      b.set(r.entry.data, at + 17);
      return;
    case RecordType.hardState:
      putU64(b, at, r.hardState.term);
      putU64(b, at + 8, r.hardState.vote);
      putU64(b, at + 16, r.hardState.commit);
      return;
    case RecordType.snapshotMarker:
      putU64(b, at, r.index);
      putU64(b, at + 8, r.term);
      b[at + 16] = r.kind;
      return;
  }
}

/**
 * Encodes `records` as one write batch numbered `batch` into `out` at `at` (which must be zeroed
 * and large enough: the sum of {@link recordBytes}); the last record carries {@link flagBatchEnd}.
 * Returns the offset after the last record.
 */
export function encodeBatchInto(
  out: Uint8Array,
  at: number,
  records: readonly WalRecord[],
  batch: number,
): number {
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as WalRecord;
    const len = payloadBytes(r);
    putU32(out, at + 4, len);
    out[at + 8] = r.type;
    out[at + 9] = recordVersion;
    const flags = i === records.length - 1 ? flagBatchEnd : 0;
    out[at + 10] = flags;
    out[at + 11] = 0;
    putU32(out, at + 12, batch >>> 0);
    putPayload(out, at + recordHeaderBytes, r);
    putU32(out, at, crc32c(out, at + 4, at + recordHeaderBytes + len));
    at += recordHeaderBytes + alignUp(len);
  }
  return at;
}

/** Encodes `records` as one write batch; see {@link encodeBatchInto}. */
export function encodeBatch(records: readonly WalRecord[], batch: number): Uint8Array {
  let total = 0;
  for (const r of records) total += recordBytes(r);
  const out = new Uint8Array(total);
  encodeBatchInto(out, 0, records, batch);
  return out;
}

/** A record read back from a segment. */
export interface ReadRecord {
  readonly record: WalRecord;
  readonly offset: number;
  /** Offset of the next record. */
  readonly next: number;
  readonly batch: number;
  readonly batchEnd: boolean;
}

/** Why no record could be read at an offset. */
export type ReadFailure =
  | { readonly kind: "zero" }
  | { readonly kind: "bad"; readonly reason: string }
  /** Framing and CRC are valid, but this code does not know the type or version. */
  | { readonly kind: "unsupported"; readonly reason: string };

/**
 * Reads the record at `offset` of `buf` (a whole segment). `zero`: an all-zero header (unwritten
 * space); `bad`: a header or payload that fails framing or its CRC; `unsupported`: a valid frame
 * of an unknown type or version (written by newer code).
 */
export function readRecord(buf: Uint8Array, offset: number): ReadRecord | ReadFailure {
  if (offset + recordHeaderBytes > buf.length) {
    for (let i = offset; i < buf.length; i++)
      if (buf[i] !== 0) return { kind: "bad", reason: "truncated header" };
    return { kind: "zero" };
  }
  const len = getU32(buf, offset + 4);
  const type = buf[offset + 8] as number;
  if (type === 0) {
    for (let i = offset; i < offset + recordHeaderBytes; i++) {
      if (buf[i] !== 0) return { kind: "bad", reason: "record type 0" };
    }
    return { kind: "zero" };
  }
  if (len > recordPayloadBytesMax || offset + recordHeaderBytes + len > buf.length) {
    return { kind: "bad", reason: `length ${len} runs past the end of the file` };
  }
  const crc = getU32(buf, offset);
  if (crc32c(buf, offset + 4, offset + recordHeaderBytes + len) !== crc) {
    return { kind: "bad", reason: "CRC mismatch" };
  }
  const padEnd = Math.min(buf.length, offset + recordHeaderBytes + alignUp(len));
  for (let i = offset + recordHeaderBytes + len; i < padEnd; i++) {
    if (buf[i] !== 0) return { kind: "bad", reason: "non-zero padding" };
  }
  const version = buf[offset + 9] as number;
  if (version !== recordVersion) {
    return { kind: "unsupported", reason: `record type ${type} has unknown version ${version}` };
  }
  const record = decodePayload(type, buf, offset + recordHeaderBytes, len);
  if (typeof record === "string") return { kind: "unsupported", reason: record };
  const flags = buf[offset + 10] as number;
  return {
    record,
    offset,
    next: offset + recordHeaderBytes + alignUp(len),
    batch: getU32(buf, offset + 12),
    batchEnd: (flags & flagBatchEnd) !== 0,
  };
}

function decodePayload(type: number, b: Uint8Array, at: number, len: number): WalRecord | string {
  const fixed = (n: number): string | null => (len === n ? null : `record type ${type} has length ${len}`);
  switch (type) {
    case RecordType.segmentHeader: {
      const why = fixed(24);
      if (why !== null) return why;
      const seq = getU64(b, at);
      const firstIndex = getU64(b, at + 8);
      const prevEnd = getU64(b, at + 16);
      if (seq < 0 || firstIndex < 0 || prevEnd < 0) return "segment header field out of range";
      return { type, seq, firstIndex, prevEnd };
    }
    case RecordType.entry: {
      if (len < 17) return `entry record has length ${len}`;
      const term = getU64(b, at);
      const index = getU64(b, at + 8);
      const entryType = b[at + 16] as number;
      if (term < 0 || index < 0) return "entry term or index out of range";
      if (entryType > 1) return `unknown entry type ${entryType}`;
      const data = b.slice(at + 17, at + len);
      return { type, entry: { term, index, type: entryType as EntryType, data } };
    }
    case RecordType.hardState: {
      const why = fixed(24);
      if (why !== null) return why;
      const term = getU64(b, at);
      const vote = getU64(b, at + 8);
      const commit = getU64(b, at + 16);
      if (term < 0 || vote < 0 || commit < 0) return "hard state field out of range";
      return { type, hardState: { term, vote, commit } };
    }
    case RecordType.snapshotMarker: {
      const why = fixed(17);
      if (why !== null) return why;
      const index = getU64(b, at);
      const term = getU64(b, at + 8);
      const kind = b[at + 16] as number;
      if (index < 0 || term < 0) return "snapshot marker field out of range";
      if (kind > 2) return `unknown snapshot marker kind ${kind}`;
      return { type, index, term, kind: kind as MarkerKind };
    }
    default:
      return `unknown record type ${type}`;
  }
}

// ------------------------------------------------------------------------------------ file names

function hex16(n: number): string {
  return n.toString(16).padStart(16, "0");
}

const segmentPattern = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;
const snapshotPattern = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

/** Segment file name: `<seq>-<firstIndex>.wal`, both as 16 lowercase hex digits. */
export function segmentName(seq: number, firstIndex: Index): string {
  return `${hex16(seq)}-${hex16(firstIndex)}.wal`;
}

/** The sequence number and first index in a segment file name, or null if it is not one. */
export function parseSegmentName(name: string): { seq: number; firstIndex: Index } | null {
  const m = segmentPattern.exec(name);
  if (m === null) return null;
  const seq = Number.parseInt(m[1] as string, 16);
  const firstIndex = Number.parseInt(m[2] as string, 16);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(firstIndex)) return null;
  return { seq, firstIndex };
}

/** Snapshot file name: `<index>-<term>.snap`, both as 16 lowercase hex digits. */
export function snapshotName(index: Index, term: Term): string {
  return `${hex16(index)}-${hex16(term)}.snap`;
}

/** The index and term in a snapshot file name, or null if it is not one. */
export function parseSnapshotName(name: string): { index: Index; term: Term } | null {
  const m = snapshotPattern.exec(name);
  if (m === null) return null;
  const index = Number.parseInt(m[1] as string, 16);
  const term = Number.parseInt(m[2] as string, 16);
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(term)) return null;
  return { index, term };
}

/** Suffix of files being written that are not yet in place; recovery deletes them. */
export const tempSuffix = ".tmp";

// -------------------------------------------------------------------------------- snapshot files

const snapshotMagic = [0x53, 0x59, 0x4e, 0x4f, 0x44, 0x53, 0x4e, 0x50]; // "SYNODSNP"
/**
 * The snapshot file layout version this code writes: 2, whose trailer is a CRC-32 (IEEE, which
 * the host may compute natively, see `useNativeCrc32`). Version 1, the same layout with a
 * CRC-32C trailer, still reads.
 */
export const snapshotFileVersion = 2;

/** The checksum of a snapshot file of `version` over `b[0, end)`. */
function snapshotFileCrc(version: number, b: Uint8Array, end: number): number {
  return version === 1 ? crc32c(b, 0, end) : crc32Update(0, b.subarray(0, end));
}

function confStateBytes(c: ConfState): number {
  return (
    1 + 4 * 4 + 8 * (c.voters.length + c.votersOutgoing.length + c.learners.length + c.learnersNext.length)
  );
}

/**
 * Encodes a snapshot file: `"SYNODSNP"`, u32 version, u32 metadata length, metadata (u64 index,
 * u64 term, u8 autoLeave, then voters, votersOutgoing, learners, learnersNext each as u32 count
 * and count × u64), u64 data length, data, and a u32 CRC-32 of everything before it.
 */
export function encodeSnapshotFile(s: Snapshot): Uint8Array {
  const header = encodeSnapshotFileHeader(s.metadata, s.data.length);
  const out = new Uint8Array(header.length + s.data.length + 4);
  out.set(header, 0);
  out.set(s.data, header.length);
  const at = header.length + s.data.length;
  putU32(out, at, snapshotFileCrc(snapshotFileVersion, out, at));
  return out;
}

/**
 * The bytes of a snapshot file before its data (see {@link encodeSnapshotFile}), for a writer
 * that streams the data: the file is this header, `dataBytes` of data, then
 * {@link snapshotFileTrailer} of the CRC-32 of the header and the data.
 */
export function encodeSnapshotFileHeader(metadata: SnapshotMetadata, dataBytes: number): Uint8Array {
  const c = metadata.confState;
  const metaLen = 16 + confStateBytes(c);
  const out = new Uint8Array(16 + metaLen + 8);
  out.set(snapshotMagic, 0);
  putU32(out, 8, snapshotFileVersion);
  putU32(out, 12, metaLen);
  let at = 16;
  putU64(out, at, metadata.index);
  putU64(out, at + 8, metadata.term);
  out[at + 16] = c.autoLeave ? 1 : 0;
  at += 17;
  for (const ids of [c.voters, c.votersOutgoing, c.learners, c.learnersNext]) {
    putU32(out, at, ids.length);
    at += 4;
    for (const id of ids) {
      putU64(out, at, id);
      at += 8;
    }
  }
  putU64(out, at, dataBytes);
  return out;
}

/** The last bytes of a snapshot file: `crc`, the CRC-32 of everything before them. */
export function snapshotFileTrailer(crc: number): Uint8Array {
  const out = new Uint8Array(4);
  putU32(out, 0, crc);
  return out;
}

/** Decodes a snapshot file; a string says why it is not a valid one. */
export function decodeSnapshotFile(b: Uint8Array): Snapshot | string {
  if (b.length < 16 + 4) return `too short (${b.length} bytes)`;
  for (let i = 0; i < snapshotMagic.length; i++) if (b[i] !== snapshotMagic[i]) return "bad magic";
  const version = getU32(b, 8);
  if (version !== 1 && version !== snapshotFileVersion) return `unknown snapshot file version ${version}`;
  const crc = getU32(b, b.length - 4);
  if (snapshotFileCrc(version, b, b.length - 4) !== crc) return "CRC mismatch";
  const metaLen = getU32(b, 12);
  if (16 + metaLen + 8 + 4 > b.length || metaLen < 17) return "metadata length out of range";
  const index = getU64(b, 16);
  const term = getU64(b, 24);
  if (index < 0 || term < 0) return "index or term out of range";
  const autoLeave = b[32] === 1;
  let at = 33;
  const lists: NodeId[][] = [];
  for (let k = 0; k < 4; k++) {
    if (at + 4 > 16 + metaLen) return "configuration truncated";
    const n = getU32(b, at);
    at += 4;
    if (at + 8 * n > 16 + metaLen) return "configuration truncated";
    const ids: NodeId[] = [];
    for (let i = 0; i < n; i++) {
      const id = getU64(b, at);
      if (id <= 0) return "member id out of range";
      ids.push(id);
      at += 8;
    }
    lists.push(ids);
  }
  if (at !== 16 + metaLen) return "metadata length mismatch";
  const dataLen = getU64(b, at);
  if (dataLen < 0 || at + 8 + dataLen + 4 !== b.length) return "data length mismatch";
  const confState: ConfState = {
    voters: lists[0] ?? [],
    votersOutgoing: lists[1] ?? [],
    learners: lists[2] ?? [],
    learnersNext: lists[3] ?? [],
    autoLeave,
  };
  return { metadata: { index, term, confState }, data: b.slice(at + 8, at + 8 + dataLen) };
}
