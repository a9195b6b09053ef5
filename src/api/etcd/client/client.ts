/**
 * A small etcd v3 gRPC client on `node:http2` and this project's own protobuf codec, for tools
 * and tests that talk to Synod or etcd as a real client would: the benchmark, the chaos harness,
 * the admin CLI. No dependencies.
 *
 * Calls go to the endpoints in turn ("round-robin", the default) or stick to one until its
 * connection fails ("pinned"); a connection that dies is dialled again by the next call. A call
 * whose connection cannot be dialled moves on to the next endpoint (the request was never sent,
 * so this is safe), unless the call named its endpoint. Errors tell a definite failure from an
 * unknown outcome: see `errors.ts`.
 */

import { frameMessage } from "../grpc/frames.js";
import { encodeMessage, type MessageDesc } from "../proto/codec.js";
import {
  type CompactionRequestMsg,
  D,
  type DeleteRangeRequestMsg,
  type DeleteRangeResponseMsg,
  type HashKVResponseMsg,
  type HeaderOnlyMsg,
  type LeaseGrantResponseMsg,
  type LeaseKeepAliveResponseMsg,
  type LeaseTimeToLiveResponseMsg,
  LockD,
  type LockResponseMsg,
  type MemberAddResponseMsg,
  type MembersResponseMsg,
  type PutRequestMsg,
  type PutResponseMsg,
  type RangeRequestMsg,
  type RangeResponseMsg,
  type StatusResponseMsg,
  type TxnRequestMsg,
  type TxnResponseMsg,
  type WatchResponseMsg,
} from "../proto/messages.js";
import { BidiStream, Connection, type Metadata, unaryCall } from "./connection.js";
import { ClientClosedError, ClientTimeoutError, ConnectionError } from "./errors.js";
import { KeepAliveStream, LeaseKeeper, type LeaseKeeperOptions } from "./lease.js";
import { type WatchCreate, type Watcher, type WatchHandlers, WatchStream } from "./watch.js";

/** Default dial timeout, in milliseconds. */
export const dialTimeoutMsDefault = 2000;
/** Default per-call timeout, in milliseconds. */
export const callTimeoutMsDefault = 5000;

/** How calls choose an endpoint. */
export type EndpointSelection = "round-robin" | "pinned";

/** Options of an {@link EtcdClient}. */
export interface EtcdClientOptions {
  /** Endpoints as "host:port" (no scheme); at least one. */
  readonly endpoints: readonly string[];
  /** Milliseconds a connection attempt may take; default {@link dialTimeoutMsDefault}. */
  readonly dialTimeoutMs?: number;
  /** Milliseconds a unary call may wait for its answer once sent; default {@link callTimeoutMsDefault}. */
  readonly defaultTimeoutMs?: number;
  /** Endpoint choice per call; default "round-robin". */
  readonly endpointSelection?: EndpointSelection;
}

/** Per-call options. */
export interface CallOptions {
  /** Milliseconds to wait for the answer once sent (sent as `grpc-timeout` too); 0: no deadline. */
  readonly timeoutMs?: number;
  /** Send to this endpoint ("host:port") only, whatever the selection policy. */
  readonly endpoint?: string;
  /** Extra request metadata (HTTP/2 headers, lower-case names). */
  readonly metadata?: Metadata;
}

/** Stream options: which endpoint and what metadata. */
export type StreamOptions = Omit<CallOptions, "timeoutMs">;

/** Keys and values: bytes, or text sent as UTF-8. */
export type Bytes = Uint8Array | string;

const utf8 = new TextEncoder();

/** `b` as bytes (text as UTF-8). */
export function toBytes(b: Bytes): Uint8Array {
  return typeof b === "string" ? utf8.encode(b) : b;
}

/** Arguments of {@link EtcdClient.range}. */
export type RangeArgs = Omit<Partial<RangeRequestMsg>, "key" | "rangeEnd"> & {
  readonly key: Bytes;
  readonly rangeEnd?: Bytes;
};
/** Arguments of {@link EtcdClient.put}. */
export type PutArgs = Omit<Partial<PutRequestMsg>, "key" | "value"> & {
  readonly key: Bytes;
  readonly value?: Bytes;
};
/** Arguments of {@link EtcdClient.deleteRange}. */
export type DeleteArgs = Omit<Partial<DeleteRangeRequestMsg>, "key" | "rangeEnd"> & {
  readonly key: Bytes;
  readonly rangeEnd?: Bytes;
};

/** A single watcher on its own stream, from {@link EtcdClient.watch}. */
export interface WatchHandle {
  readonly watcher: Watcher;
  /** Resolves with the watch id once the server created the watcher. */
  readonly created: Promise<number>;
  /** Asks the server to cancel the watcher (then `onCanceled`); the stream closes afterwards. */
  cancel(): void;
  /** Closes the stream at once. */
  close(): void;
}

/** An etcd v3 client over gRPC. */
export class EtcdClient {
  readonly endpoints: readonly string[];
  readonly dialTimeoutMs: number;
  readonly defaultTimeoutMs: number;
  readonly selection: EndpointSelection;
  readonly #connections = new Map<string, Connection>();
  readonly #ordered: Connection[];
  readonly #streams = new Set<{ close(): void }>();
  #next = 0;
  #closed = false;

  constructor(options: EtcdClientOptions) {
    if (options.endpoints.length === 0)
      throw new Error("EtcdClient: 'endpoints' must name at least one endpoint, got []");
    for (const e of options.endpoints) {
      if (!/^[^/\s]+:\d+$/.test(e))
        throw new Error(`EtcdClient: an endpoint must be "host:port", got '${e}'`);
    }
    this.endpoints = [...options.endpoints];
    this.dialTimeoutMs = options.dialTimeoutMs ?? dialTimeoutMsDefault;
    this.defaultTimeoutMs = options.defaultTimeoutMs ?? callTimeoutMsDefault;
    this.selection = options.endpointSelection ?? "round-robin";
    this.#ordered = this.endpoints.map((e) => this.#connection(e));
  }

  #connection(endpoint: string): Connection {
    let c = this.#connections.get(endpoint);
    if (c === undefined) {
      c = new Connection(endpoint, this.dialTimeoutMs);
      this.#connections.set(endpoint, c);
    }
    return c;
  }

  /** The endpoint the next call without an explicit endpoint goes to first. */
  get currentEndpoint(): string {
    return (this.#ordered[this.#next % this.#ordered.length] as Connection).endpoint;
  }

  /** Connections to try for one call, in order. */
  #candidates(endpoint: string | undefined): Connection[] {
    if (endpoint !== undefined) return [this.#connection(endpoint)];
    const n = this.#ordered.length;
    const start = this.#next % n;
    if (this.selection === "round-robin") this.#next = (start + 1) % n;
    const out: Connection[] = [];
    for (let i = 0; i < n; i++) out.push(this.#ordered[(start + i) % n] as Connection);
    return out;
  }

  /** A connected session from the first candidate that dials; moves a pinned client on failure. */
  async #session(candidates: Connection[]): Promise<Connection> {
    let last: unknown = null;
    for (const c of candidates) {
      try {
        await c.session();
        return c;
      } catch (e) {
        last = e;
        if (this.selection === "pinned" && c === this.#ordered[this.#next % this.#ordered.length]) {
          this.#next = (this.#next + 1) % this.#ordered.length;
        }
        if (this.#closed) throw new ClientClosedError();
      }
    }
    throw last instanceof Error
      ? last
      : new ConnectionError(candidates[0]?.endpoint ?? "?", false, String(last));
  }

  /**
   * One unary call to `service` (e.g. "etcdserverpb.KV") `method` (e.g. "Range"). Resolves with the
   * decoded response; rejects with a GrpcError (status from the server), ClientTimeoutError
   * (no answer within the timeout), ConnectionError or ClientClosedError.
   */
  unary<Res>(
    service: string,
    method: string,
    requestDesc: MessageDesc,
    responseDesc: MessageDesc,
    request: object,
    options: CallOptions = {},
  ): Promise<Res> {
    if (this.#closed) return Promise.reject(new ClientClosedError());
    const framed = frameMessage(encodeMessage(requestDesc, request));
    const path = `/${service}/${method}`;
    const timeoutMs = options.timeoutMs ?? this.defaultTimeoutMs;
    const candidates = this.#candidates(options.endpoint);
    const send = (c: Connection, session: NonNullable<Connection["ready"]>): Promise<Res> =>
      unaryCall<Res>({
        session,
        endpoint: c.endpoint,
        path,
        framed,
        responseDesc,
        timeoutMs,
        metadata: options.metadata,
        onTimeout: () => new ClientTimeoutError(c.endpoint, timeoutMs, path),
      });
    const first = candidates[0] as Connection;
    const ready = first.ready;
    if (ready !== null) return send(first, ready);
    return this.#session(candidates).then((c) => {
      const s = c.ready;
      if (s === null) throw new ConnectionError(c.endpoint, false, "connection lost before sending");
      return send(c, s);
    });
  }

  /** Opens a bidi stream for `sink` (attach on success, end on failure). */
  #openStream<Res>(
    path: string,
    requestDesc: MessageDesc,
    responseDesc: MessageDesc,
    options: StreamOptions,
    sink: {
      attach(call: BidiStream<object, Res>): void;
      handleMessage(res: Res): void;
      handleEnd(error: Error | null): void;
      close(): void;
    },
  ): void {
    if (this.#closed) {
      sink.handleEnd(new ClientClosedError());
      return;
    }
    this.#streams.add(sink);
    const end = (error: Error | null): void => {
      this.#streams.delete(sink);
      sink.handleEnd(error);
    };
    this.#session(this.#candidates(options.endpoint)).then(
      (c) => {
        const session = c.ready;
        if (session === null || this.#closed) {
          end(
            this.#closed
              ? new ClientClosedError()
              : new ConnectionError(c.endpoint, false, "connection lost"),
          );
          return;
        }
        try {
          const call = new BidiStream<object, Res>(
            session,
            c.endpoint,
            path,
            requestDesc,
            responseDesc,
            options.metadata,
            {
              onMessage: (res) => sink.handleMessage(res),
              onEnd: end,
            },
          );
          sink.attach(call);
        } catch (e) {
          end(new ConnectionError(c.endpoint, false, e instanceof Error ? e.message : String(e)));
        }
      },
      (e: unknown) => end(e instanceof Error ? e : new Error(String(e))),
    );
  }

  /** A watch stream for any number of watchers (see {@link WatchStream}). */
  watchStream(options: StreamOptions = {}): WatchStream {
    const ws = new WatchStream();
    this.#openStream<WatchResponseMsg>(
      "/etcdserverpb.Watch/Watch",
      D.WatchRequest,
      D.WatchResponse,
      options,
      ws,
    );
    return ws;
  }

  /** One watcher on its own stream; the stream closes when the watcher ends. */
  watch(create: WatchCreate, handlers: WatchHandlers = {}, options: StreamOptions = {}): WatchHandle {
    const ws = this.watchStream(options);
    const watcher = ws.watch(create, {
      ...handlers,
      onCanceled: (info) => {
        ws.close();
        handlers.onCanceled?.(info);
      },
    });
    return { watcher, created: watcher.created, cancel: () => watcher.cancel(), close: () => ws.close() };
  }

  /** A lease keep-alive stream (see {@link KeepAliveStream}). */
  keepAliveStream(options: StreamOptions = {}): KeepAliveStream {
    const ks = new KeepAliveStream();
    this.#openStream<LeaseKeepAliveResponseMsg>(
      "/etcdserverpb.Lease/LeaseKeepAlive",
      D.LeaseKeepAliveRequest,
      D.LeaseKeepAliveResponse,
      options,
      ks,
    );
    return ks;
  }

  /** Keeps lease `id` alive on its own stream until closed (see {@link LeaseKeeper}). */
  leaseKeepAlive(id: number, options: LeaseKeeperOptions & StreamOptions = {}): LeaseKeeper {
    return new LeaseKeeper(id, this.keepAliveStream(options), options);
  }

  // -------------------------------------------------------------------------------------------
  // KV

  /** `KV/Range`. */
  range(args: RangeArgs, options?: CallOptions): Promise<RangeResponseMsg> {
    const req = {
      ...args,
      key: toBytes(args.key),
      rangeEnd: args.rangeEnd === undefined ? undefined : toBytes(args.rangeEnd),
    };
    return this.unary("etcdserverpb.KV", "Range", D.RangeRequest, D.RangeResponse, req, options);
  }

  /** `KV/Put`. */
  put(args: PutArgs, options?: CallOptions): Promise<PutResponseMsg> {
    const req = {
      ...args,
      key: toBytes(args.key),
      value: args.value === undefined ? undefined : toBytes(args.value),
    };
    return this.unary("etcdserverpb.KV", "Put", D.PutRequest, D.PutResponse, req, options);
  }

  /** `KV/DeleteRange`. */
  deleteRange(args: DeleteArgs, options?: CallOptions): Promise<DeleteRangeResponseMsg> {
    const req = {
      ...args,
      key: toBytes(args.key),
      rangeEnd: args.rangeEnd === undefined ? undefined : toBytes(args.rangeEnd),
    };
    return this.unary(
      "etcdserverpb.KV",
      "DeleteRange",
      D.DeleteRangeRequest,
      D.DeleteRangeResponse,
      req,
      options,
    );
  }

  /** `KV/Txn` (the request as the wire has it; omitted lists are empty). */
  txn(req: Partial<TxnRequestMsg>, options?: CallOptions): Promise<TxnResponseMsg> {
    return this.unary("etcdserverpb.KV", "Txn", D.TxnRequest, D.TxnResponse, req, options);
  }

  /** `KV/Compact` up to `revision`. */
  compact(revision: number, physical = false, options?: CallOptions): Promise<HeaderOnlyMsg> {
    const req: CompactionRequestMsg = { revision, physical };
    return this.unary("etcdserverpb.KV", "Compact", D.CompactionRequest, D.CompactionResponse, req, options);
  }

  // -------------------------------------------------------------------------------------------
  // Lease

  /**
   * `Lease/LeaseGrant`: a lease of `ttlSeconds` (id 0: the server picks one). Lease ids are
   * numbers here: etcd's server-picked ids are random 63-bit values that a number does not hold
   * exactly, so against etcd pass an id below 2^53.
   */
  leaseGrant(ttlSeconds: number, id = 0, options?: CallOptions): Promise<LeaseGrantResponseMsg> {
    return this.unary(
      "etcdserverpb.Lease",
      "LeaseGrant",
      D.LeaseGrantRequest,
      D.LeaseGrantResponse,
      { TTL: ttlSeconds, ID: id },
      options,
    );
  }

  /** `Lease/LeaseRevoke`. */
  leaseRevoke(id: number, options?: CallOptions): Promise<HeaderOnlyMsg> {
    return this.unary(
      "etcdserverpb.Lease",
      "LeaseRevoke",
      D.LeaseRevokeRequest,
      D.LeaseRevokeResponse,
      { ID: id },
      options,
    );
  }

  /** `Lease/LeaseTimeToLive` (`TTL` -1 when the lease does not exist). */
  leaseTimeToLive(id: number, keys = false, options?: CallOptions): Promise<LeaseTimeToLiveResponseMsg> {
    return this.unary(
      "etcdserverpb.Lease",
      "LeaseTimeToLive",
      D.LeaseTimeToLiveRequest,
      D.LeaseTimeToLiveResponse,
      { ID: id, keys },
      options,
    );
  }

  // -------------------------------------------------------------------------------------------
  // Cluster and maintenance

  /** `Cluster/MemberList`. */
  memberList(linearizable = false, options?: CallOptions): Promise<MembersResponseMsg> {
    return this.unary(
      "etcdserverpb.Cluster",
      "MemberList",
      D.MemberListRequest,
      D.MemberListResponse,
      { linearizable },
      options,
    );
  }

  /** `Cluster/MemberAdd`. */
  memberAdd(
    peerURLs: readonly string[],
    isLearner = false,
    options?: CallOptions,
  ): Promise<MemberAddResponseMsg> {
    return this.unary(
      "etcdserverpb.Cluster",
      "MemberAdd",
      D.MemberAddRequest,
      D.MemberAddResponse,
      { peerURLs, isLearner },
      options,
    );
  }

  /** `Cluster/MemberRemove`. */
  memberRemove(id: bigint, options?: CallOptions): Promise<MembersResponseMsg> {
    return this.unary(
      "etcdserverpb.Cluster",
      "MemberRemove",
      D.MemberRemoveRequest,
      D.MemberRemoveResponse,
      { ID: id },
      options,
    );
  }

  /** `Maintenance/Status` of one member (name it with `options.endpoint`). */
  status(options?: CallOptions): Promise<StatusResponseMsg> {
    return this.unary("etcdserverpb.Maintenance", "Status", D.StatusRequest, D.StatusResponse, {}, options);
  }

  /** `Maintenance/HashKV` at `revision` (0: the latest). */
  hashKV(revision = 0, options?: CallOptions): Promise<HashKVResponseMsg> {
    return this.unary(
      "etcdserverpb.Maintenance",
      "HashKV",
      D.HashKVRequest,
      D.HashKVResponse,
      { revision },
      options,
    );
  }

  /** `Maintenance/MoveLeader` to member `targetID` (send it to the leader). */
  moveLeader(targetID: bigint, options?: CallOptions): Promise<HeaderOnlyMsg> {
    return this.unary(
      "etcdserverpb.Maintenance",
      "MoveLeader",
      D.MoveLeaderRequest,
      D.MoveLeaderResponse,
      { targetID },
      options,
    );
  }

  // -------------------------------------------------------------------------------------------
  // Lock

  /** `Lock/Lock`: waits until `name` is held under `lease`; the answer's `key` unlocks it. */
  lock(name: Bytes, lease: number, options?: CallOptions): Promise<LockResponseMsg> {
    return this.unary(
      "v3lockpb.Lock",
      "Lock",
      LockD.LockRequest,
      LockD.LockResponse,
      { name: toBytes(name), lease },
      options,
    );
  }

  /** `Lock/Unlock` of the key `lock` returned. */
  unlock(key: Uint8Array, options?: CallOptions): Promise<HeaderOnlyMsg> {
    return this.unary("v3lockpb.Lock", "Unlock", LockD.UnlockRequest, LockD.UnlockResponse, { key }, options);
  }

  /** Whether {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Ends every stream and destroys every session; calls in flight fail, new calls are refused. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of [...this.#streams]) s.close();
    this.#streams.clear();
    for (const c of this.#connections.values()) c.close();
  }
}
