/**
 * Backup files: reading and checking a snapshot saved by `etcdctl snapshot save` or
 * `synod snapshot save` (what Maintenance.Snapshot streams), and writing a new member's data
 * directory from one (`synod snapshot restore`, etcdutl's semantics).
 *
 * A backup file is the MVCC snapshot stream (docs/mvcc.md; it ends with its own CRC-32C), zero
 * padding up to a multiple of 512 bytes, then the SHA-256 of everything before it (etcd's
 * layout, which etcdctl checks while saving). Reading checks both: the SHA-256 catches any damage
 * to the file, the CRC and the decoder's structure checks catch a stream that was wrong when sent.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, readdir, stat } from "node:fs/promises";
import { ErrorCode, SynodError } from "../lib/errors.js";
import { AlarmAction, AlarmType, encodeSnapshot, type MvccStore, SnapshotDecoder } from "../mvcc/mod.js";
import type { ConfState } from "../raft/types.js";
import { Wal } from "../wal/wal.js";
import { encodeMemberSnapshot, type MemberInfo } from "./envelope.js";

/** Bytes of the SHA-256 that ends a backup file. */
export const snapshotHashBytes = 32;
/** The payload is zero-padded to a multiple of this many bytes before the hash (etcd's page size). */
export const snapshotPageBytes = 512;
/** Bytes read from the file per chunk while checking it. */
const readChunkBytes = 1024 * 1024;

/** What `synod snapshot status` reports of a backup file. */
export interface SnapshotFileStatus {
  /** HashKV of the snapshot's keys at its revision (the value `etcdctl endpoint hashkv` prints). */
  readonly hash: number;
  /** The store revision of the snapshot. */
  readonly revision: number;
  /** The revision of the last compaction in the snapshot (0 if never compacted). */
  readonly compactRevision: number;
  /** Keys that exist at the snapshot's revision. */
  readonly totalKey: number;
  /** Key revisions (history records, tombstones included) kept in the snapshot. */
  readonly totalRevisions: number;
  /** Leases in the snapshot. */
  readonly leases: number;
  /** Size of the file in bytes. */
  readonly totalSize: number;
}

/** A checked backup file: the restored store and its status. */
export interface SnapshotFile {
  readonly store: MvccStore;
  readonly status: SnapshotFileStatus;
}

function invalid(path: string, why: string): SynodError {
  return new SynodError(ErrorCode.invalidArgument, `snapshot file ${path} is not usable: ${why}`);
}

/**
 * Reads and checks the backup file at `path`: its size, its SHA-256 and its MVCC stream. Rejects
 * with `SYNOD_INVALID_ARGUMENT` (the message says what is wrong) for a truncated, corrupted or
 * foreign file. `onProgress(bytesRead, totalBytes)` is called as the file is read.
 */
export async function readSnapshotFile(
  path: string,
  onProgress?: (bytesRead: number, totalBytes: number) => void,
): Promise<SnapshotFile> {
  const size = (await stat(path)).size;
  if (size < snapshotHashBytes + snapshotPageBytes || (size - snapshotHashBytes) % snapshotPageBytes !== 0) {
    throw invalid(
      path,
      `its size (${size} bytes) is not whole ${snapshotPageBytes}-byte pages plus a ${snapshotHashBytes}-byte SHA-256; the file is truncated or was not written by 'snapshot save'`,
    );
  }
  const body = size - snapshotHashBytes;
  const tail = await readRange(path, body - snapshotPageBytes, snapshotPageBytes + snapshotHashBytes);
  const expected = tail.subarray(snapshotPageBytes);
  // The zero padding is at most one page; the stream itself ends with a CRC that may end in zeros,
  // so the decoder gets the bytes before the zero run and then zeros one at a time as it asks.
  let zeros = 0;
  while (zeros < snapshotPageBytes - 1 && tail[snapshotPageBytes - 1 - zeros] === 0) zeros++;
  const streamed = body - zeros;
  const sha = createHash("sha256");
  const decoder = new SnapshotDecoder();
  let bad: string | null = null;
  let read = 0;
  for await (const chunk of createReadStream(path, {
    start: 0,
    end: streamed - 1,
    highWaterMark: readChunkBytes,
  })) {
    const bytes = chunk as Buffer;
    sha.update(bytes);
    if (bad === null) bad = decoder.push(bytes);
    read += bytes.length;
    onProgress?.(read, size);
  }
  sha.update(new Uint8Array(zeros));
  const actual = sha.digest();
  if (!actual.equals(expected)) {
    throw invalid(
      path,
      `SHA-256 mismatch (the file says ${Buffer.from(expected).toString("hex")}, its contents hash to ${actual.toString("hex")}); the file is corrupted or truncated`,
    );
  }
  let result = bad ?? decoder.finish();
  for (let z = 0; typeof result === "string" && bad === null && z < zeros; z++) {
    if (!result.startsWith("snapshot truncated")) break;
    bad = decoder.push(new Uint8Array(1));
    result = bad ?? decoder.finish();
  }
  if (typeof result === "string") {
    throw invalid(path, `${result} (the SHA-256 matches, so the file holds what the server sent)`);
  }
  onProgress?.(size, size);
  return { store: result, status: statusOf(result, size) };
}

async function readRange(path: string, start: number, length: number): Promise<Buffer> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, start);
    if (bytesRead !== length) throw invalid(path, `short read at ${start}: ${bytesRead} of ${length} bytes`);
    return buf;
  } finally {
    await fh.close();
  }
}

function statusOf(store: MvccStore, size: number): SnapshotFileStatus {
  const hash = store.hashKv(0);
  const all = store.range({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]), countOnly: true });
  return {
    hash: hash.ok ? hash.value.hash : 0,
    revision: store.currentRevision,
    compactRevision: store.compactRevision,
    totalKey: all.ok ? all.value.count : 0,
    totalRevisions: store.kv.history.orderLength,
    leases: store.lessor.size,
    totalSize: size,
  };
}

/** The new cluster a snapshot is restored into (etcdutl's `snapshot restore` flags). */
export interface RestoreTarget {
  /** Every member of the new cluster, with ids derived from its peer URLs and the token. */
  readonly members: readonly MemberInfo[];
  /** This member's data directory; it must not exist or be empty. */
  readonly dataDir: string;
}

/** What {@link restoreDataDir} wrote. */
export interface RestoreResult {
  readonly revision: number;
  readonly totalKey: number;
  readonly leases: number;
  /** Alarms that were raised in the old cluster and are not carried over. */
  readonly alarmsDropped: number;
}

/**
 * Writes a new member's data directory holding `store` as the state of a new cluster of
 * `target.members`: the genesis snapshot at index 1, term 1 (as a fresh cluster's), with the
 * snapshot's keys, revisions and leases. Alarms are dropped: they name members of the old
 * cluster. Every member of the new cluster is restored from the same file, each into its own
 * directory, and then started with the same `--initial-cluster-token`.
 * Rejects with `SYNOD_INVALID_ARGUMENT` when the directory exists and is not empty.
 */
export async function restoreDataDir(store: MvccStore, target: RestoreTarget): Promise<RestoreResult> {
  const existing = await readdir(target.dataDir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return [];
    throw e;
  });
  if (existing.length > 0) {
    throw new SynodError(
      ErrorCode.invalidArgument,
      `data-dir ${JSON.stringify(target.dataDir)} exists and is not empty; restore into a new directory`,
    );
  }
  const alarmsDropped = store.alarms.length;
  for (const alarm of [AlarmType.noSpace, AlarmType.corrupt]) {
    store.alarm({ action: AlarmAction.deactivate, alarm, memberId: 0 });
  }
  store.restoreAppliedIndex(1);
  const confState: ConfState = {
    voters: target.members.filter((m) => !m.isLearner).map((m) => m.id),
    votersOutgoing: [],
    learners: target.members.filter((m) => m.isLearner).map((m) => m.id),
    learnersNext: [],
    autoLeave: false,
  };
  const data = encodeMemberSnapshot(target.members, encodeSnapshot(store));
  const wal = await Wal.open(target.dataDir);
  try {
    await wal.save({
      snapshot: { metadata: { index: 1, term: 1, confState }, data },
      hardState: { term: 1, vote: 0, commit: 1 },
    });
  } finally {
    await wal.close();
  }
  const all = store.range({ key: new Uint8Array([0]), rangeEnd: new Uint8Array([0]), countOnly: true });
  return {
    revision: store.currentRevision,
    totalKey: all.ok ? all.value.count : 0,
    leases: store.lessor.size,
    alarmsDropped,
  };
}
