import { Worker } from "node:worker_threads";
import type { SnapshotSource } from "../mvcc/mod.js";
import type { MemberInfo } from "./envelope.js";
import type { EncodeJob, EncodeResult } from "./snapshotworker.js";

/** Bytes of each snapshot chunk the thread produces (one file write each). */
const chunkBytes = 1024 * 1024;

/**
 * Encodes member snapshots on worker threads (`snapshotworker.ts`), one started for each
 * encoding and stopped after it: a snapshot of hundreds of megabytes costs the member's event
 * loop only the capture of a {@link SnapshotSource} (a copy of the record order), not the
 * encoding. The thread runs at a lower priority than the member's. Not kept between snapshots: an
 * idle thread keeps its heap and its malloc arena (where the chunks were allocated) resident,
 * about 100 MiB per member after a 1M-key load. A thread that dies fails its encoding.
 */
export class SnapshotEncoder {
  readonly #running = new Set<Worker>();
  #closed = false;

  /** The chunks of the member snapshot of `members` and `source`. */
  encode(members: readonly MemberInfo[], source: SnapshotSource): Promise<Uint8Array[]> {
    if (this.#closed) return Promise.reject(new Error("snapshot encoder closed"));
    const w = new Worker(new URL("./snapshotworker.js", import.meta.url));
    // A thread does not keep the process alive by itself.
    w.unref();
    this.#running.add(w);
    const done = new Promise<Uint8Array[]>((resolve, reject) => {
      w.once("message", (r: EncodeResult) => {
        if (r.ok) resolve(r.parts);
        else reject(new Error(`snapshot encoding failed: ${r.error}`));
      });
      w.once("error", reject);
      // After an answer this settles nothing; before one, the thread was stopped or died.
      w.once("exit", (code) =>
        reject(
          new Error(
            this.#closed ? "snapshot encoder closed" : `snapshot encoder thread exited (code ${code})`,
          ),
        ),
      );
      const job: EncodeJob = { members, source, chunkBytes };
      w.postMessage(job);
    });
    return done.finally(() => {
      this.#running.delete(w);
      void w.terminate();
    });
  }

  /** Stops every thread; encodings in progress fail, and later ones are refused. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#running].map((w) => w.terminate()));
  }
}
