/**
 * The etcd Watch service (`etcdserverpb.Watch/Watch`): one bidirectional stream multiplexing many
 * watchers over a `WatchStream` of the member's hub. Requests (create, cancel, progress) are applied
 * to the stream in order; responses are drained from the stream's queue and written with
 * backpressure, so a slow client parks its watchers (caught up later from history) instead of
 * growing memory. With `fragment`, a response larger than the request size limit is split.
 */
import type { WatchResponse, WatchStream } from "../../../mvcc/mod.js";
import { eventMsg, watchFiltersOf } from "../convert.js";
import { bidiStream, type MethodDef, type StreamCall } from "../grpc/server.js";
import { encodedSize } from "../proto/codec.js";
import { D, type EventMsg, type WatchRequestMsg, type WatchResponseMsg } from "../proto/messages.js";
import type { ServiceContext } from "./context.js";

/** Responses taken from a stream's queue per batch before writing them. */
export const watchResponsesPerBatchMax = 64;

/** Bytes a response may add on top of its events (header, ids, flags) when fragmenting. */
const responseOverheadBytes = 128;

/** Splits `events` into fragments each (when possible) at most `bytesMax` encoded bytes. */
export function fragmentEvents(events: readonly EventMsg[], bytesMax: number): EventMsg[][] {
  const out: EventMsg[][] = [];
  let current: EventMsg[] = [];
  let size = responseOverheadBytes;
  for (const ev of events) {
    const n = encodedSize(D.Event, ev) + 6;
    if (current.length > 0 && size + n > bytesMax) {
      out.push(current);
      current = [];
      size = responseOverheadBytes;
    }
    current.push(ev);
    size += n;
  }
  out.push(current);
  return out;
}

/** The Watch method by gRPC path. */
export function watchMethods(sc: ServiceContext): Record<string, MethodDef> {
  return {
    "/etcdserverpb.Watch/Watch": bidiStream<WatchRequestMsg, WatchResponseMsg>(
      D.WatchRequest,
      D.WatchResponse,
      async (call, ctx) => {
        const session = new WatchSession(sc, call, sc.backend.watchHub().newStream());
        try {
          await session.readRequests();
          // A half-closed stream keeps delivering events until the client cancels (as etcd).
          if (!ctx.signal.aborted && !call.ended) {
            await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve()));
          }
        } finally {
          session.close();
        }
      },
    ),
  };
}

class WatchSession {
  readonly #fragment = new Set<number>();
  #flushing = false;
  #closed = false;

  constructor(
    readonly sc: ServiceContext,
    readonly call: StreamCall<WatchRequestMsg, WatchResponseMsg>,
    readonly stream: WatchStream,
  ) {
    stream.onReady = () => this.#kick();
  }

  async readRequests(): Promise<void> {
    for await (const req of this.call.requests) {
      if (this.#closed) return;
      const c = req.createRequest;
      if (c !== undefined) {
        const id = this.stream.watch({
          key: c.key,
          rangeEnd: c.rangeEnd,
          startRevision: c.startRevision,
          filters: watchFiltersOf(c.filters),
          prevKv: c.prevKv,
          progressNotify: c.progressNotify,
          watchId: c.watchId,
        });
        if (id !== -1 && c.fragment) this.#fragment.add(id);
        if (this.stream.unsynced > 0) this.sc.backend.requestWatchSync();
      } else if (req.cancelRequest !== undefined) {
        const id = req.cancelRequest.watchId;
        if (this.stream.cancel(id)) this.#fragment.delete(id);
      } else if (req.progressRequest !== undefined) {
        this.stream.requestProgress();
      }
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.stream.onReady = null;
    this.stream.close();
  }

  #kick(): void {
    if (this.#flushing || this.#closed) return;
    this.#flushing = true;
    this.#flush().then(
      () => {},
      () => this.close(),
    );
  }

  async #flush(): Promise<void> {
    try {
      for (;;) {
        if (this.#closed || this.call.ended) return;
        const batch = this.stream.take(watchResponsesPerBatchMax);
        if (batch.length === 0) break;
        for (const r of batch) await this.#send(r);
      }
    } finally {
      this.#flushing = false;
    }
    // Drained: parked watchers can be caught up now.
    if (this.stream.unsynced > 0) this.sc.backend.requestWatchSync();
  }

  async #send(r: WatchResponse): Promise<void> {
    const base = {
      header: this.sc.header(r.revision),
      watchId: r.watchId,
      created: r.created,
      canceled: r.canceled,
      compactRevision: r.compactRevision,
      cancelReason: r.cancelReason,
    };
    if (r.canceled) this.#fragment.delete(r.watchId);
    const events = r.events.map(eventMsg);
    if (events.length < 2 || !this.#fragment.has(r.watchId)) {
      await this.call.send({ ...base, events });
      return;
    }
    const parts = fragmentEvents(events, this.sc.requestBytesMax);
    for (const [i, part] of parts.entries()) {
      await this.call.send({ ...base, events: part, fragment: i < parts.length - 1 });
    }
  }
}
