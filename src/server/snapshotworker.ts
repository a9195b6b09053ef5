// The snapshot encoder's thread (see SnapshotEncoder): encodes captured MVCC state into the
// chunks of a member snapshot, reading the store's shared history pages and arena chunks while
// the member's own thread goes on applying, and hands the chunks back without a copy.
import { setPriority } from "node:os";
import { parentPort } from "node:worker_threads";
import { crc32 } from "node:zlib";
import { useNativeCrc32 } from "../lib/crc32.js";
import { encodeSnapshotSource, type SnapshotSource } from "../mvcc/mod.js";
import { encodeMemberSnapshotParts, type MemberInfo } from "./envelope.js";

/** One encoding asked of the thread. */
export interface EncodeJob {
  readonly members: readonly MemberInfo[];
  readonly source: SnapshotSource;
  readonly chunkBytes: number;
}

/** The thread's answer to an {@link EncodeJob}. */
export type EncodeResult =
  | { readonly ok: true; readonly parts: Uint8Array[] }
  | { readonly ok: false; readonly error: string };

/** Nice value of this thread: the member's event loop goes first when the cores are busy. */
const threadNice = 10;

useNativeCrc32(crc32);
try {
  // On Linux, priority 0's target is the calling thread, not the whole process.
  setPriority(threadNice);
} catch {
  // Not permitted here: encode at normal priority.
}

const port = parentPort;
if (port === null) throw new Error("snapshotworker: must run as a worker thread");
port.on("message", (job: EncodeJob) => {
  let result: EncodeResult;
  const transfer = new Set<ArrayBuffer>();
  try {
    const parts = [
      ...encodeMemberSnapshotParts(job.members, encodeSnapshotSource(job.source, job.chunkBytes)),
    ];
    for (const p of parts) if (p.buffer instanceof ArrayBuffer) transfer.add(p.buffer);
    result = { ok: true, parts };
  } catch (e) {
    result = { ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
  port.postMessage(result, [...transfer]);
});
