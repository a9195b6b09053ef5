/**
 * The queue discipline shared by the Lock and Election recipes (etcd's `concurrency` package):
 * keys under `name/` ordered by create revision, and waiting for the keys ahead to be deleted.
 */
import {
  type KeyValue,
  prefixEnd,
  type Revision,
  type WatchCreateRequest,
  type WatchResponse,
  type WatchStream,
} from "../../../mvcc/mod.js";
import type { EtcdBackend } from "../backend.js";
import { GrpcError, GrpcStatus } from "../grpc/status.js";
import { unwrapPlain } from "./context.js";

/** TTL of the lease granted when a Lock or Election request has none (etcd's session TTL). */
export const sessionTtlSecondsDefault = 60;

/** Watch responses taken from a stream at a time. */
const watchResponsesTakenMax = 64;

export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

export function canceled(): GrpcError {
  return new GrpcError(GrpcStatus.canceled, "context canceled");
}

/**
 * One watcher on a stream of its own, read one response at a time: responses with events and
 * the cancel response (compaction, failed create); created responses and progress are skipped.
 */
export class WatchFeed {
  readonly #backend: EtcdBackend;
  readonly #stream: WatchStream;
  #buffer: WatchResponse[] = [];
  #wake: (() => void) | null = null;

  constructor(backend: EtcdBackend, req: WatchCreateRequest) {
    this.#backend = backend;
    this.#stream = backend.watchHub().newStream();
    this.#stream.onReady = () => {
      const wake = this.#wake;
      this.#wake = null;
      wake?.();
    };
    this.#stream.watch(req);
    if (this.#stream.unsynced > 0) backend.requestWatchSync();
  }

  /** The next response with events or the cancel response; rejects with CANCELED on abort. */
  async next(signal: AbortSignal): Promise<WatchResponse> {
    for (;;) {
      if (signal.aborted) throw canceled();
      if (this.#buffer.length === 0) {
        this.#buffer = this.#stream.take(watchResponsesTakenMax);
        // A watcher parked behind a full buffer is caught up once we have drained it.
        if (this.#stream.unsynced > 0) this.#backend.requestWatchSync();
      }
      const r = this.#buffer.shift();
      if (r !== undefined) {
        if (r.canceled || r.events.length > 0) return r;
        continue;
      }
      await new Promise<void>((resolve) => {
        const onAbort = (): void => {
          this.#wake = null;
          resolve();
        };
        signal.addEventListener("abort", onAbort, { once: true });
        this.#wake = () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        };
      });
    }
  }

  close(): void {
    this.#wake = null;
    this.#stream.onReady = null;
    this.#stream.close();
  }
}

/**
 * Waits until `key` is deleted after revision `rev` (etcd's `waitDelete`). A watcher canceled by
 * compaction resolves too (the caller re-reads); any other cancel fails as etcd's client reports
 * it: FAILED_PRECONDITION with the cancel reason.
 */
export async function waitDelete(
  backend: EtcdBackend,
  key: Uint8Array,
  rev: Revision,
  signal: AbortSignal,
): Promise<void> {
  const feed = new WatchFeed(backend, { key, startRevision: rev + 1 });
  try {
    for (;;) {
      const r = await feed.next(signal);
      if (r.canceled) {
        if (r.compactRevision > 0) return;
        throw new GrpcError(GrpcStatus.failedPrecondition, r.cancelReason);
      }
      if (r.events.some((e) => e.type === "delete")) return;
    }
  } finally {
    feed.close();
  }
}

/** Waits until no key under `prefix` has a create revision at or below `maxCreateRev`. */
export async function waitDeletes(
  backend: EtcdBackend,
  prefix: Uint8Array,
  maxCreateRev: Revision,
  signal: AbortSignal,
): Promise<void> {
  for (;;) {
    if (signal.aborted) throw canceled();
    const r = unwrapPlain(
      await backend.range(
        {
          key: prefix,
          rangeEnd: prefixEnd(prefix),
          sortOrder: "descend",
          sortTarget: "create",
          maxCreateRevision: maxCreateRev,
          limit: 1,
        },
        { serializable: false },
      ),
    );
    const last: KeyValue | undefined = r.kvs[0];
    if (last === undefined) return;
    await waitDelete(backend, last.key, r.revision, signal);
  }
}
