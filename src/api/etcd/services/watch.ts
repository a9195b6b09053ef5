/**
 * The etcd Watch service (`etcdserverpb.Watch/Watch`): one bidirectional stream multiplexing many
 * watchers over a `WatchStream` of the member's hub. Requests (create, cancel, progress) are applied
 * to the stream in order; responses are drained from the stream's queue and written with
 * backpressure, so a slow client parks its watchers (caught up later from history) instead of
 * growing memory. With `fragment`, a response larger than the request size limit is split.
 */
import {
  concatBytes,
  EMPTY_BYTES,
  type Event,
  type WatchResponse,
  type WatchStream,
} from "../../../mvcc/mod.js";
import { AuthGate } from "../auth/gate.js";
import { eventMsg, watchFiltersOf } from "../convert.js";
import { frameHeaderBytes, frameMessage } from "../grpc/frames.js";
import { bidiStream, type CallContext, type MethodDef, type StreamCall } from "../grpc/server.js";
import { GrpcError } from "../grpc/status.js";
import { Encoded, encodedSize, encodeMessage } from "../proto/codec.js";
import { D, type EventMsg, type WatchRequestMsg, type WatchResponseMsg } from "../proto/messages.js";
import type { ServiceContext } from "./context.js";

/** Responses taken from a stream's queue per batch; a batch is written as one buffer. */
export const watchResponsesPerBatchMax = 256;

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

function varintBytes(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

function putVarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  out[at++] = n;
  return at;
}

/**
 * An event-only `WatchResponse` (header, watch id, events; no flags) in gRPC framing, written
 * directly from the pre-encoded header and events: byte for byte what `encodeMessage` makes of
 * `{ header, watchId, events }` (field 1, field 2 unless 0, field 11 per event), without its size
 * pass and object walk — with 10,000 watchers, this is done 10,000 times per revision.
 * `watchId` must be a non-negative integer.
 */
export function framedEventResponse(
  header: Uint8Array,
  watchId: number,
  events: readonly Uint8Array[],
): Uint8Array {
  let size = 1 + varintBytes(header.length) + header.length;
  if (watchId !== 0) size += 1 + varintBytes(watchId);
  for (const e of events) size += 1 + varintBytes(e.length) + e.length;
  const out = new Uint8Array(frameHeaderBytes + size);
  out[1] = (size >>> 24) & 0xff;
  out[2] = (size >>> 16) & 0xff;
  out[3] = (size >>> 8) & 0xff;
  out[4] = size & 0xff;
  let at = frameHeaderBytes;
  out[at++] = 0x0a;
  at = putVarint(out, at, header.length);
  out.set(header, at);
  at += header.length;
  if (watchId !== 0) {
    out[at++] = 0x10;
    at = putVarint(out, at, watchId);
  }
  for (const e of events) {
    out[at++] = 0x5a;
    at = putVarint(out, at, e.length);
    out.set(e, at);
    at += e.length;
  }
  return out;
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
  #headerRevision = -1;
  #headerBytes: Uint8Array = new Uint8Array(0);
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
        const parts: Uint8Array[] = [];
        let bytes = 0;
        for (const r of batch) {
          for (const p of this.#encode(r)) {
            parts.push(p);
            bytes += p.length;
          }
        }
        await this.call.sendFramed(parts.length === 1 ? (parts[0] as Uint8Array) : concatBytes(parts, bytes));
      }
    } finally {
      this.#flushing = false;
    }
    // Drained: parked watchers can be caught up now.
    if (this.stream.unsynced > 0) this.sc.backend.requestWatchSync();
  }

  /** The encoded header at `revision`, kept while responses are at the same revision. */
  #headerAt(revision: number): Uint8Array {
    if (revision !== this.#headerRevision) {
      this.#headerBytes = encodeMessage(D.ResponseHeader, this.sc.header(revision));
      this.#headerRevision = revision;
    }
    return this.#headerBytes;
  }

  /** One response as gRPC-framed messages (several when fragmented). */
  #encode(r: WatchResponse): Uint8Array[] {
    if (r.canceled) this.#fragment.delete(r.watchId);
    const plain =
      !r.created && !r.canceled && r.compactRevision === 0 && r.cancelReason === "" && r.watchId >= 0;
    if (plain && r.events.length > 0 && (r.events.length < 2 || !this.#fragment.has(r.watchId))) {
      const events = r.events.map((e) => encodedEvent(e).bytes);
      return [framedEventResponse(this.#headerAt(r.revision), r.watchId, events)];
    }
    const base = {
      header: this.sc.header(r.revision),
      watchId: r.watchId,
      created: r.created,
      canceled: r.canceled,
      compactRevision: r.compactRevision,
      cancelReason: r.cancelReason,
    };
    if (!this.#fragment.has(r.watchId) || r.events.length < 2) {
      // Pre-encoded events stand where EventMsg objects go (encodeMessage copies their bytes).
      const events = r.events.map(encodedEvent) as unknown as EventMsg[];
      return [frameMessage(encodeMessage(D.WatchResponse, { ...base, events }))];
    }
    const parts = fragmentEvents(r.events.map(eventMsg), this.sc.requestBytesMax);
    return parts.map((part, i) =>
      frameMessage(encodeMessage(D.WatchResponse, { ...base, events: part, fragment: i < parts.length - 1 })),
    );
  }
}
