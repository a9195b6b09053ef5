/**
 * Lease keep-alives over one `etcdserverpb.Lease/LeaseKeepAlive` stream: {@link KeepAliveStream}
 * sends one request per call and matches answers by lease id (oldest first), and
 * {@link LeaseKeeper} renews one lease periodically as etcd's client does (every TTL/3).
 */
import type { LeaseKeepAliveResponseMsg } from "../proto/messages.js";
import type { BidiStream } from "./connection.js";

interface Waiter {
  resolve(res: LeaseKeepAliveResponseMsg): void;
  reject(error: Error): void;
}

/** Keep-alive requests and their answers on one stream. Build with `EtcdClient.keepAliveStream()`. */
export class KeepAliveStream {
  readonly #waiting = new Map<number, Waiter[]>();
  #call: BidiStream<object, LeaseKeepAliveResponseMsg> | null = null;
  #queued: number[] = [];
  #ended: Error | undefined = undefined;

  /** @internal */
  attach(call: BidiStream<object, LeaseKeepAliveResponseMsg>): void {
    this.#call = call;
    for (const id of this.#queued) call.send({ ID: id });
    this.#queued = [];
  }

  /** Whether the stream has ended. */
  get ended(): boolean {
    return this.#ended !== undefined;
  }

  /**
   * Renews lease `id` once. Resolves with the server's answer: `TTL` is the remaining time to live
   * in seconds, or <= 0 when the lease does not exist (expired or revoked). Rejects when the
   * stream ends first.
   */
  keepAlive(id: number): Promise<LeaseKeepAliveResponseMsg> {
    if (this.#ended !== undefined) return Promise.reject(this.#ended);
    return new Promise((resolve, reject) => {
      const list = this.#waiting.get(id);
      if (list === undefined) this.#waiting.set(id, [{ resolve, reject }]);
      else list.push({ resolve, reject });
      if (this.#call === null) this.#queued.push(id);
      else this.#call.send({ ID: id });
    });
  }

  /** Ends the stream; pending renewals reject. */
  close(): void {
    if (this.#call !== null) this.#call.cancel();
    else this.handleEnd(null);
  }

  /** @internal */
  handleMessage(res: LeaseKeepAliveResponseMsg): void {
    const list = this.#waiting.get(res.ID);
    const w = list?.shift();
    if (list !== undefined && list.length === 0) this.#waiting.delete(res.ID);
    w?.resolve(res);
  }

  /** @internal */
  handleEnd(error: Error | null): void {
    if (this.#ended !== undefined) return;
    this.#ended = error ?? new Error("lease keep-alive stream closed");
    for (const list of this.#waiting.values()) for (const w of list) w.reject(this.#ended);
    this.#waiting.clear();
  }
}

/** Options of {@link LeaseKeeper}. */
export interface LeaseKeeperOptions {
  /** Milliseconds between renewals; default a third of the TTL the server last reported (min 100). */
  readonly intervalMs?: number;
  /** Each answer (TTL in seconds). */
  readonly onResponse?: (res: LeaseKeepAliveResponseMsg) => void;
  /** The lease is gone (TTL <= 0) or the stream failed; renewals stop. */
  readonly onError?: (error: Error) => void;
}

/** Smallest interval between automatic renewals, in milliseconds. */
export const keepAliveIntervalMinMs = 100;

/** Renews one lease periodically until closed, the lease is gone or the stream fails. */
export class LeaseKeeper {
  readonly id: number;
  readonly #stream: KeepAliveStream;
  readonly #options: LeaseKeeperOptions;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  /** The last answer, or null before the first. */
  last: LeaseKeepAliveResponseMsg | null = null;

  constructor(id: number, stream: KeepAliveStream, options: LeaseKeeperOptions) {
    this.id = id;
    this.#stream = stream;
    this.#options = options;
    this.#renew();
  }

  /** Renews now (outside the schedule) and returns the answer. */
  once(): Promise<LeaseKeepAliveResponseMsg> {
    return this.#stream.keepAlive(this.id);
  }

  #renew(): void {
    if (this.#closed) return;
    this.#stream.keepAlive(this.id).then(
      (res) => {
        if (this.#closed) return;
        this.last = res;
        this.#options.onResponse?.(res);
        if (res.TTL <= 0) {
          this.#fail(new Error(`lease ${this.id} not found (expired or revoked)`));
          return;
        }
        const ms = this.#options.intervalMs ?? Math.max(keepAliveIntervalMinMs, (res.TTL * 1000) / 3);
        this.#timer = setTimeout(() => this.#renew(), ms);
      },
      (e: unknown) => this.#fail(e instanceof Error ? e : new Error(String(e))),
    );
  }

  #fail(error: Error): void {
    if (this.#closed) return;
    this.close();
    this.#options.onError?.(error);
  }

  /** Stops renewing and ends the stream. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#stream.close();
  }
}
