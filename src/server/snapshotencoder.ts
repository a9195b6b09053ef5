import { Worker } from "node:worker_threads";
import type { SnapshotSource } from "../mvcc/mod.js";
import type { MemberInfo } from "./envelope.js";
import type { EncodeJob, EncodeResult } from "./snapshotworker.js";

/** Bytes of each snapshot chunk the thread produces (one file write each). */
const chunkBytes = 1024 * 1024;

interface Waiter {
  readonly resolve: (parts: Uint8Array[]) => void;
  readonly reject: (e: Error) => void;
}

/**
 * Encodes member snapshots on a worker thread of its own (`snapshotworker.ts`), started for each
 * snapshot and stopped after it (and by {@link SnapshotEncoder.close}): a snapshot of hundreds of megabytes costs the
 * member's event loop only the capture of a {@link SnapshotSource} (a copy of the record order),
 * not the encoding. The thread runs at a lower priority than the member's. A thread that dies
 * fails its encodings.
 */
export class SnapshotEncoder {
  #worker: Worker | null = null;
  readonly #waiting = new Map<number, Waiter>();
  #nextId = 1;
  #closed = false;

  /** The chunks of the member snapshot of `members` and `source`. */
  encode(members: readonly MemberInfo[], source: SnapshotSource): Promise<Uint8Array[]> {
    if (this.#closed) return Promise.reject(new Error("snapshot encoder closed"));
    const worker = this.#worker ?? this.#start();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject });
      const job: EncodeJob = { id, members, source, chunkBytes };
      worker.postMessage(job);
    });
  }

  /** Stops the thread; encodings in progress fail. */
  async close(): Promise<void> {
    this.#closed = true;
    const w = this.#worker;
    this.#worker = null;
    this.#failAll(new Error("snapshot encoder closed"));
    if (w !== null) await w.terminate();
  }

  #start(): Worker {
    const w = new Worker(new URL("./snapshotworker.js", import.meta.url));
    // An idle encoder thread does not keep the process alive.
    w.unref();
    w.on("message", (r: EncodeResult) => {
      const waiter = this.#waiting.get(r.id);
      if (waiter === undefined) return;
      this.#waiting.delete(r.id);
      if (r.ok) waiter.resolve(r.parts);
      else waiter.reject(new Error(`snapshot encoding failed: ${r.error}`));
      // Stopped between snapshots: an idle thread keeps its heap and its malloc arena (where the
      // chunks were allocated) resident, about 100 MiB per member after a 1M-key load.
      if (this.#waiting.size === 0 && this.#worker === w) {
        this.#worker = null;
        void w.terminate();
      }
    });
    w.on("error", (e) => {
      if (this.#worker === w) this.#worker = null;
      this.#failAll(e);
    });
    w.on("exit", (code) => {
      if (this.#worker !== w) return;
      this.#worker = null;
      this.#failAll(new Error(`snapshot encoder thread exited (code ${code})`));
    });
    this.#worker = w;
    return w;
  }

  #failAll(e: Error): void {
    const waiting = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const w of waiting) w.reject(e);
  }
}
