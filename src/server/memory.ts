import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { type Logger, noopLogger } from "../lib/logger.js";

/**
 * Bytes of memory compactions must have dropped (`MvccStore.releasedBytes`) since the last
 * collection before the member asks V8 for a full garbage collection: 64 MiB. Below that, the
 * garbage waits for V8's own schedule.
 */
export const reclaimBytesMin = 64 * 1024 * 1024;

type Collect = () => void;

let collect: Collect | null = null;

/**
 * Runs a full, synchronous garbage collection and returns its duration in milliseconds (about
 * 10–200 ms, growing with the live heap). Node defines `gc` only under `--expose-gc`; without it
 * the flag is set at run time just long enough for V8 to install `gc` on one new, otherwise unused
 * context (the flag only affects contexts created while it is set), then cleared again.
 */
export function collectGarbage(): number {
  if (collect === null) {
    const exposed = (globalThis as { gc?: Collect }).gc;
    if (exposed !== undefined) collect = exposed;
    else {
      setFlagsFromString("--expose-gc");
      try {
        collect = runInNewContext("gc") as Collect;
      } finally {
        setFlagsFromString("--no-expose-gc");
      }
    }
  }
  const startMs = performance.now();
  collect();
  return performance.now() - startMs;
}

/**
 * Frees the memory behind `views` now, without a full garbage collection, and returns its size in
 * bytes. Each distinct ArrayBuffer is transferred to a new ArrayBuffer that nothing references: the
 * next young-generation collection (a few milliseconds away on a busy member) frees it. Without
 * this, buffers kept through a long write have reached the old generation and are freed only by a
 * full collection. The views are detached (length 0) afterwards: the caller must not need them, and
 * no write of them may still be in progress. Shared and already detached buffers are left alone.
 */
export function releaseBuffers(views: readonly Uint8Array[]): number {
  const buffers = new Set<ArrayBuffer>();
  for (const v of views)
    if (v.buffer instanceof ArrayBuffer && v.buffer.byteLength > 0) buffers.add(v.buffer);
  let bytes = 0;
  for (const b of buffers) {
    bytes += b.byteLength;
    structuredClone(b, { transfer: [b] });
  }
  return bytes;
}

/**
 * Returns the memory of large compactions to the system. A compaction that frees most of the store
 * replaces its arena chunks and history pages with dense copies: garbage that V8 frees only at its
 * next full collection, which an idle or lightly loaded member may not run for a long time
 * (young-generation collections do not free them). So once {@link reclaimBytesMin} bytes have
 * been dropped, one full collection is scheduled for the next turn of the event loop: large
 * buffers go back to the system (they are mapped on their own) and V8 shrinks its heap.
 */
export class MemoryReclaimer {
  readonly #logger: Logger;
  /** The store's `releasedBytes` when last seen. */
  #storeBytes = 0;
  /** Bytes dropped since the last collection. */
  #pendingBytes = 0;
  #scheduled = false;

  constructor(logger: Logger = noopLogger) {
    this.#logger = logger;
  }

  /** Call after applying entries with the store's `releasedBytes` (a count that only grows). */
  afterApply(releasedBytes: number): void {
    // A smaller count means a new store (a snapshot was installed): count from its start.
    if (releasedBytes < this.#storeBytes) this.#storeBytes = 0;
    this.dropped(releasedBytes - this.#storeBytes);
    this.#storeBytes = releasedBytes;
  }

  /** Counts `bytes` of memory the caller just dropped, garbage for the next full collection. */
  dropped(bytes: number): void {
    this.#pendingBytes += bytes;
    if (this.#scheduled || this.#pendingBytes < reclaimBytesMin) return;
    this.#scheduled = true;
    setImmediate(() => {
      const pending = this.#pendingBytes;
      this.#pendingBytes = 0;
      this.#scheduled = false;
      const ms = collectGarbage();
      this.#logger.info("member: garbage collected after dropping memory", {
        droppedBytes: pending,
        ms: Math.round(ms),
      });
    });
  }
}
