/**
 * Watches over one `etcdserverpb.Watch/Watch` stream. A {@link WatchStream} carries any number of
 * watchers (as etcd's clients multiplex them); create requests are answered in order, so each
 * `created` response is matched to the oldest create still waiting.
 */
import type { EventMsg, WatchCreateRequestMsg, WatchResponseMsg } from "../proto/messages.js";
import type { BidiStream } from "./connection.js";

/** What a watcher is told. Every callback is optional. */
export interface WatchHandlers {
  /** The server created the watcher (its id is now known). */
  onCreated?(watchId: number, res: WatchResponseMsg): void;
  /** Events for this watcher (fragments already joined), in revision order. */
  onEvents?(events: readonly EventMsg[], res: WatchResponseMsg): void;
  /** A progress notification (no events): `res.header.revision` is the watcher's progress. */
  onProgress?(res: WatchResponseMsg): void;
  /**
   * The server cancelled the watcher: `compactRevision` > 0 when its start revision was
   * compacted (restart from there), `cancelReason` otherwise. No callbacks follow.
   */
  onCanceled?(info: { compactRevision: number; cancelReason: string; res: WatchResponseMsg }): void;
  /** The stream failed or ended before the watcher was cancelled. No callbacks follow. */
  onError?(error: Error): void;
}

/** A create request: every field optional but the key. */
export type WatchCreate = Partial<WatchCreateRequestMsg> & { readonly key: Uint8Array };

/** One watcher on a {@link WatchStream}. */
export class Watcher {
  /** The server-assigned id, or -1 until created. */
  id = -1;
  /** Resolves with the id once created; rejects if the watcher ends first. */
  readonly created: Promise<number>;
  /** Whether the watcher has ended (cancelled or failed). */
  done = false;
  readonly handlers: WatchHandlers;
  readonly #stream: WatchStream;
  #resolveCreated: (id: number) => void = () => {};
  #rejectCreated: (e: Error) => void = () => {};

  constructor(stream: WatchStream, handlers: WatchHandlers) {
    this.#stream = stream;
    this.handlers = handlers;
    this.created = new Promise<number>((resolve, reject) => {
      this.#resolveCreated = resolve;
      this.#rejectCreated = reject;
    });
    // A caller that only uses callbacks must not see an unhandled rejection.
    this.created.catch(() => {});
  }

  /** Asks the server to cancel this watcher (its `onCanceled` follows). */
  cancel(): void {
    if (this.done) return;
    if (this.id >= 0) this.#stream.sendCancel(this.id);
    else this.#stream.cancelWhenCreated(this);
  }

  /** @internal */
  markCreated(id: number, res: WatchResponseMsg): void {
    this.id = id;
    this.#resolveCreated(id);
    this.handlers.onCreated?.(id, res);
  }

  /** @internal */
  end(error: Error | null, res?: WatchResponseMsg): void {
    if (this.done) return;
    this.done = true;
    if (error !== null) {
      this.#rejectCreated(error);
      this.handlers.onError?.(error);
    } else if (res !== undefined) {
      this.#rejectCreated(new Error(`watch canceled: ${res.cancelReason ?? ""}`));
      this.handlers.onCanceled?.({
        compactRevision: res.compactRevision ?? 0,
        cancelReason: res.cancelReason ?? "",
        res,
      });
    }
  }
}

/** Many watchers on one gRPC stream. Build with `EtcdClient.watchStream()`. */
export class WatchStream {
  readonly #byId = new Map<number, Watcher>();
  /** Creates sent and not yet answered, oldest first. */
  readonly #pending: Watcher[] = [];
  readonly #cancelOnCreate = new Set<Watcher>();
  /** Events of fragmented responses being joined, by watch id. */
  readonly #fragments = new Map<number, EventMsg[]>();
  #call: BidiStream<object, WatchResponseMsg> | null = null;
  /** Requests issued before the stream was open. */
  #queued: object[] = [];
  #ended: Error | null | undefined = undefined;
  /** Called once when the stream ends (after every watcher was told). */
  onEnd: ((error: Error | null) => void) | null = null;

  /** @internal Attaches the open call; queued requests go out. */
  attach(call: BidiStream<object, WatchResponseMsg>): void {
    this.#call = call;
    for (const r of this.#queued) call.send(r);
    this.#queued = [];
  }

  /** Whether the stream has ended. */
  get ended(): boolean {
    return this.#ended !== undefined;
  }

  /** Watchers created and not ended. */
  get size(): number {
    return this.#byId.size;
  }

  /** Adds a watcher. If the stream has ended already, the watcher fails at once. */
  watch(create: WatchCreate, handlers: WatchHandlers = {}): Watcher {
    const w = new Watcher(this, handlers);
    if (this.#ended !== undefined) {
      w.end(this.#ended ?? new Error("watch stream closed"));
      return w;
    }
    this.#pending.push(w);
    this.#send({ createRequest: create });
    return w;
  }

  /** Asks for a progress notification for every watcher on the stream. */
  requestProgress(): void {
    this.#send({ progressRequest: {} });
  }

  /** @internal */
  sendCancel(id: number): void {
    this.#send({ cancelRequest: { watchId: id } });
  }

  /** @internal */
  cancelWhenCreated(w: Watcher): void {
    this.#cancelOnCreate.add(w);
  }

  #send(req: object): void {
    if (this.#ended !== undefined) return;
    if (this.#call === null) this.#queued.push(req);
    else this.#call.send(req);
  }

  /** Ends the stream (every open watcher gets `onError` with a "watch stream closed" error). */
  close(): void {
    if (this.#call !== null) this.#call.cancel();
    else this.handleEnd(null);
  }

  /** @internal One response from the server. */
  handleMessage(res: WatchResponseMsg): void {
    const id = res.watchId ?? 0;
    if (res.created === true) {
      const w = this.#pending.shift();
      if (w === undefined) return;
      this.#byId.set(id, w);
      w.markCreated(id, res);
      if (this.#cancelOnCreate.delete(w) && res.canceled !== true) this.sendCancel(id);
    }
    if (id === -1 && res.created !== true && res.canceled !== true) {
      // A requested progress notification: not tied to one watcher, broadcast to all (as etcd's client).
      for (const each of this.#byId.values()) each.handlers.onProgress?.(res);
      return;
    }
    const w = this.#byId.get(id);
    if (res.canceled === true) {
      this.#byId.delete(id);
      this.#fragments.delete(id);
      w?.end(null, res);
      return;
    }
    if (w === undefined || res.created === true) return;
    const events = res.events ?? [];
    if (res.fragment === true) {
      const acc = this.#fragments.get(id) ?? [];
      for (const e of events) acc.push(e);
      this.#fragments.set(id, acc);
      return;
    }
    const earlier = this.#fragments.get(id);
    if (earlier !== undefined) {
      this.#fragments.delete(id);
      for (const e of events) earlier.push(e);
      w.handlers.onEvents?.(earlier, res);
      return;
    }
    if (events.length > 0) w.handlers.onEvents?.(events, res);
    else w.handlers.onProgress?.(res);
  }

  /** @internal The stream ended (null: closed by the client or ended with OK). */
  handleEnd(error: Error | null): void {
    if (this.#ended !== undefined) return;
    this.#ended = error;
    const reason = error ?? new Error("watch stream closed");
    const all = [...this.#pending, ...this.#byId.values()];
    this.#pending.length = 0;
    this.#byId.clear();
    for (const w of all) w.end(reason);
    this.onEnd?.(error);
  }
}
