/**
 * The etcd Watch service (`etcdserverpb.Watch/Watch`): one bidirectional stream multiplexing many
 * watchers over a `WatchStream` of the member's hub. Requests (create, cancel, progress) are applied
 * to the stream in order; responses are drained from the stream's queue and written with
 * backpressure, so a slow client parks its watchers (caught up later from history) instead of
 * growing memory. With `fragment`, a response larger than the request size limit is split.
 */
import { EMPTY_BYTES, type Event, type WatchResponse, type WatchStream } from "../../../mvcc/mod.js";
import { AuthGate } from "../auth/gate.js";
import { eventMsg, watchFiltersOf } from "../convert.js";
import { bidiStream, type CallContext, type MethodDef, type StreamCall } from "../grpc/server.js";
import { GrpcError } from "../grpc/status.js";
import { Encoded, encodedSize, encodeMessage } from "../proto/codec.js";
import { D, type EventMsg, type WatchRequestMsg, type WatchResponseMsg } from "../proto/messages.js";
import type { ServiceContext } from "./context.js";

/** Responses taken from a stream's queue per batch before writing them. */
export const watchResponsesPerBatchMax = 64;

/** Bytes a response may add on top of its events (header, ids, flags) when fragmenting. */
const responseOverheadBytes = 128;

/**
 * Each event encoded once, however many watchers it goes to (the store hands every watcher the same
 * event objects): with many watchers, encoding was most of the fan-out's cost.
 */
const encodedEvents = new WeakMap<Event, Encoded>();

function encodedEvent(e: Event): Encoded {
  let enc = encodedEvents.get(e);
  if (enc === undefined) {
    enc = new Encoded(encodeMessage(D.Event, eventMsg(e)));
    encodedEvents.set(e, enc);
  }
  return enc;
}

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
        const session = new WatchSession(sc, call, sc.backend.watchHub().newStream(), ctx);
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

/** A failed create, as etcd answers it: created and canceled at once, watch id -1, with a reason. */
function refusedCreate(revision: number, cancelReason: string): WatchResponse {
  return {
    watchId: -1,
    revision,
    events: [],
    created: true,
    canceled: true,
    compactRevision: 0,
    cancelReason,
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
    readonly ctx: CallContext,
  ) {
    stream.onReady = () => this.#kick();
  }

  /**
   * Why the stream's caller may not watch `[key, rangeEnd)` (etcd checks read permission when a
   * watch is created, with the stream's token), as the text of a cancel reason; "" if it may.
   */
  async #refusal(key: Uint8Array, rangeEnd: Uint8Array): Promise<string> {
    try {
      const caller = await this.sc.auth.caller(this.ctx);
      // An empty key watches from the smallest key, "\0" (as the watch itself treats it).
      const from = key.length === 0 ? new Uint8Array([0]) : key;
      AuthGate.enforce(this.sc.auth.denial(caller, from, rangeEnd ?? EMPTY_BYTES, "read"));
      return "";
    } catch (e) {
      if (e instanceof GrpcError) return e.message;
      throw e;
    }
  }

  async readRequests(): Promise<void> {
    for await (const req of this.call.requests) {
      if (this.#closed) return;
      const c = req.createRequest;
      if (c !== undefined) {
        const refusal = await this.#refusal(c.key, c.rangeEnd);
        if (this.#closed) return;
        if (refusal !== "") {
          this.stream.enqueue(null, refusedCreate(this.sc.backend.watchHub().currentRevision, refusal), 0);
          continue;
        }
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
    if (!this.#fragment.has(r.watchId) || r.events.length < 2) {
      // Pre-encoded events stand where EventMsg objects go (encodeMessage copies their bytes).
      const events = r.events.map(encodedEvent) as unknown as EventMsg[];
      await this.call.send({ ...base, events });
      return;
    }
    const events = r.events.map(eventMsg);
    const parts = fragmentEvents(events, this.sc.requestBytesMax);
    for (const [i, part] of parts.entries()) {
      await this.call.send({ ...base, events: part, fragment: i < parts.length - 1 });
    }
  }
}
