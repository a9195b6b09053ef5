import http2 from "node:http2";
import type { Duplex } from "node:stream";
import { decodeMessage, encodeMessage, type MessageDesc } from "../proto/codec.js";
import {
  type ClientIdentity,
  connectionIdentity,
  identityFields,
  setConnectionIdentity,
} from "../tlsidentity.js";
import { encodeGrpcMessage, FrameParser, frameMessage, parseGrpcTimeout } from "./frames.js";
import { GrpcError, GrpcStatus } from "./status.js";

/** What a handler knows about its call. */
export interface CallContext {
  /** Aborted when the client cancels, the deadline passes or the server shuts down. */
  readonly signal: AbortSignal;
  /** Request metadata (HTTP/2 headers), names lower-case. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Encoded size of the (first) request message in bytes; 0 for bidi streams. */
  readonly requestBytes: number;
  /**
   * The subject CN of the client's certificate, when the connection is TLS with client certificate
   * auth on (`--client-cert-auth`) and the certificate has a CN; absent otherwise. etcd takes it
   * as the user name of requests without a token.
   */
  readonly peerCommonName?: string;
  /** The client's IP address as this server saw it; absent if unknown. For per-client limits. */
  readonly remoteAddress?: string;
}

/** The client side of a bidirectional or client stream, as its handler sees it. */
export interface StreamCall<Req, Res> {
  /** Requests in arrival order; ends when the client half-closes or the call ends. */
  readonly requests: AsyncIterable<Req>;
  /** Sends one response; resolves once the transport can take more (backpressure). */
  send(res: Res): Promise<void>;
  /** Whether the call has ended (cancelled, failed or finished). */
  readonly ended: boolean;
}

/** A registered method. Build with {@link unary}, {@link serverStream} or {@link bidiStream}. */
export type MethodDef =
  | {
      readonly kind: "unary";
      readonly requestDesc: MessageDesc;
      readonly responseDesc: MessageDesc;
      readonly handle: (req: unknown, ctx: CallContext) => Promise<object>;
    }
  | {
      readonly kind: "serverStream";
      readonly requestDesc: MessageDesc;
      readonly responseDesc: MessageDesc;
      readonly handle: (
        req: unknown,
        ctx: CallContext,
        send: (res: object) => Promise<void>,
      ) => Promise<void>;
    }
  | {
      readonly kind: "bidi";
      readonly requestDesc: MessageDesc;
      readonly responseDesc: MessageDesc;
      readonly handle: (call: StreamCall<unknown, object>, ctx: CallContext) => Promise<void>;
    };

/** A unary method: one request, one response (or a thrown {@link GrpcError}). */
export function unary<Req, Res extends object>(
  requestDesc: MessageDesc,
  responseDesc: MessageDesc,
  handle: (req: Req, ctx: CallContext) => Promise<Res>,
): MethodDef {
  return { kind: "unary", requestDesc, responseDesc, handle: (req, ctx) => handle(req as Req, ctx) };
}

/** A server-streaming method: one request, responses sent with `send`. */
export function serverStream<Req, Res extends object>(
  requestDesc: MessageDesc,
  responseDesc: MessageDesc,
  handle: (req: Req, ctx: CallContext, send: (res: Res) => Promise<void>) => Promise<void>,
): MethodDef {
  return {
    kind: "serverStream",
    requestDesc,
    responseDesc,
    handle: (req, ctx, send) => handle(req as Req, ctx, send as (res: Res) => Promise<void>),
  };
}

/** A bidirectional streaming method. */
export function bidiStream<Req, Res extends object>(
  requestDesc: MessageDesc,
  responseDesc: MessageDesc,
  handle: (call: StreamCall<Req, Res>, ctx: CallContext) => Promise<void>,
): MethodDef {
  return {
    kind: "bidi",
    requestDesc,
    responseDesc,
    handle: (call, ctx) => handle(call as unknown as StreamCall<Req, Res>, ctx),
  };
}

/** Options of a {@link GrpcServer}. */
export interface GrpcServerOptions {
  /** Largest request message accepted, in bytes (etcd: max-request-bytes + 512 KiB). */
  readonly receiveMessageBytesMax: number;
  /** Requests queued on a stream and not yet taken by its handler before reading pauses. */
  readonly streamRequestsQueuedMax?: number;
  /** Called for unexpected handler exceptions (the call fails with INTERNAL). */
  readonly onInternalError?: (path: string, error: unknown) => void;
  /** Text of the message for unknown methods; default grpc-go's. */
  readonly unknownMethodMessage?: (path: string) => string;
}

/** Default queued-request bound per stream before the transport stops reading from the client. */
export const streamRequestsQueuedMaxDefault = 1024;

/** Milliseconds an HTTP/2 session gets to finish after a graceful close before it is destroyed. */
export const sessionCloseGraceMs = 1000;
/** How long a graceful close waits for unary calls in flight to finish before failing them. */
export const unaryDrainMs = 3000;

/**
 * A gRPC server written directly on `node:http2` (h2c, prior knowledge): message framing, status
 * trailers (trailers-only responses for early failures), `grpc-timeout` deadlines, cancellation
 * when the client resets the stream, per-stream backpressure both ways, and a receive size limit
 * checked from the frame header before the body is buffered. Connections are handed in with
 * {@link GrpcServer.handleConnection} (see `listener.ts`, which shares one port with HTTP/1.1).
 */
/** The HTTP/2 settings the server announces (the probe in `listener.ts` announces the same). */
export const http2Settings: http2.Settings = { maxConcurrentStreams: 4_294_967_295 >>> 1 };

export class GrpcServer {
  readonly #http2: http2.Http2Server;
  readonly #methods = new Map<string, MethodDef>();
  /** Streaming calls in flight (they never end by themselves: a close fails them at once). */
  readonly #calls = new Set<Abortable>();
  /** Unary calls in flight (a close lets them finish, up to {@link unaryDrainMs}). */
  readonly #unaryCalls = new Set<Abortable>();
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  /** The identity of the connection being handed to node:http2 (see {@link handleConnection}). */
  #pendingIdentity: ClientIdentity | null = null;
  /** The client address of the connection being handed to node:http2 ("" if unknown). */
  #pendingAddress = "";
  readonly #options: GrpcServerOptions;
  #closing = false;

  constructor(options: GrpcServerOptions) {
    this.#options = options;
    this.#http2 = http2.createServer({ maxSessionMemory: 64, settings: http2Settings });
    this.#http2.on("session", (session) => {
      this.#sessions.add(session);
      if (this.#pendingIdentity !== null) setConnectionIdentity(session, this.#pendingIdentity);
      if (this.#pendingAddress !== "") sessionAddresses.set(session, this.#pendingAddress);
      session.on("close", () => this.#sessions.delete(session));
      session.on("error", () => session.destroy());
    });
    this.#http2.on("stream", (stream, headers) => this.#onStream(stream, headers));
  }

  /** Registers `method` at `path` (`/package.Service/Method`). */
  register(path: string, method: MethodDef): void {
    this.#methods.set(path, method);
  }

  /** Whether a method is registered at `path`. */
  has(path: string): boolean {
    return this.#methods.has(path);
  }

  /** The method registered at `path`, if any (the JSON gateway calls handlers directly). */
  method(path: string): MethodDef | undefined {
    return this.#methods.get(path);
  }

  /**
   * Serves HTTP/2 on an accepted connection whose first bytes are the HTTP/2 connection preface:
   * a socket, or a stream that rewrites the client's bytes (`listener.ts`).
   */
  handleConnection(socket: Duplex): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    // node:http2 makes the session synchronously inside this emit, so the connection's verified
    // client identity (if any) is handed to the session there.
    this.#pendingIdentity = connectionIdentity(socket) ?? null;
    // A socket, or the authority-rewriting stream, which reports its socket's address (node:http2
    // wraps such a stream and loses it, hence this record).
    const address: unknown = (socket as { remoteAddress?: unknown }).remoteAddress;
    this.#pendingAddress = typeof address === "string" ? address : "";
    try {
      this.#http2.emit("connection", socket);
    } finally {
      this.#pendingIdentity = null;
      this.#pendingAddress = "";
    }
  }

  /**
   * Graceful close: refuses new calls, ends streaming calls with UNAVAILABLE, lets unary calls in
   * flight finish (up to {@link unaryDrainMs}, then fails them), and closes every session
   * (destroyed after a grace period).
   */
  async close(): Promise<void> {
    this.#closing = true;
    const stopped = (): GrpcError => new GrpcError(GrpcStatus.unavailable, "etcdserver: server stopped");
    for (const c of this.#calls) c.abort(stopped());
    const deadline = Date.now() + unaryDrainMs;
    while (this.#unaryCalls.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const c of this.#unaryCalls) c.abort(stopped());
    const sessions = [...this.#sessions];
    await Promise.all(
      sessions.map(
        (s) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              s.destroy();
              resolve();
            }, sessionCloseGraceMs);
            s.close(() => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
  }

  #onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    stream.on("error", () => {});
    const path = String(headers[":path"] ?? "");
    const contentType = String(headers["content-type"] ?? "");
    if (headers[":method"] !== "POST" || !contentType.startsWith("application/grpc")) {
      stream.respond({ ":status": 415 }, { endStream: true });
      return;
    }
    const method = this.#methods.get(path);
    const call = new Call(stream, this.#options, method?.kind === "unary" ? this.#unaryCalls : this.#calls);
    if (this.#closing) {
      call.finish(new GrpcError(GrpcStatus.unavailable, "etcdserver: server stopped"));
      return;
    }
    if (method === undefined) {
      const text = this.#options.unknownMethodMessage?.(path) ?? `unknown method ${path}`;
      call.finish(new GrpcError(GrpcStatus.unimplemented, text));
      return;
    }
    call.start(method, headers, path);
  }
}

/** A call in flight, as a server close sees it. */
interface Abortable {
  abort(reason: unknown): void;
}

/** One in-flight call: reads frames, runs the handler, writes responses and the status. */
class Call implements Abortable {
  readonly #stream: http2.ServerHttp2Stream;
  readonly #options: GrpcServerOptions;
  readonly #registry: Set<Abortable>;
  /**
   * The handler's abort signal, made on first use: most unary handlers never look at it, and an
   * AbortController with its listener costs about 4 us per call (profiled: ~9% of a Put's CPU
   * in the API layer).
   */
  #controller: AbortController | null = null;
  #aborted = false;
  #abortReason: unknown = undefined;
  /** Ends a bidi call's request queue on abort. */
  #onAbort: (() => void) | null = null;
  #headersSent = false;
  #done = false;
  #timer: NodeJS.Timeout | null = null;

  constructor(stream: http2.ServerHttp2Stream, options: GrpcServerOptions, registry: Set<Abortable>) {
    this.#stream = stream;
    this.#options = options;
    this.#registry = registry;
    registry.add(this);
    stream.on("close", () => {
      if (!this.#done) this.abort(new GrpcError(GrpcStatus.canceled, "context canceled"));
      this.#cleanup();
    });
  }

  get ended(): boolean {
    return this.#done;
  }

  /** The call's abort signal (already aborted, with the same reason, if the call was). */
  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  /**
   * Aborts the call once: a {@link GrpcError} reason ends it with that status, then a bidi call's
   * request queue ends, then the handler's signal fires (the order the listeners ran in when
   * the signal was made eagerly).
   */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#abortReason = reason;
    if (reason instanceof GrpcError) this.finish(reason);
    this.#onAbort?.();
    this.#controller?.abort(reason);
  }

  /** A handler's context; its `signal` is made only if the handler reads it. */
  #context(metadata: Record<string, string>, requestBytes: number): CallContext {
    const call = this;
    return {
      get signal() {
        return call.signal;
      },
      metadata,
      requestBytes,
      ...identityFields(this.#stream.session),
      ...remoteAddressFields(this.#stream.session),
    };
  }

  start(method: MethodDef, headers: http2.IncomingHttpHeaders, path: string): void {
    const timeoutMs = parseGrpcTimeout(headers["grpc-timeout"] as string | undefined);
    if (timeoutMs !== null) {
      this.#timer = setTimeout(
        () => this.abort(new GrpcError(GrpcStatus.deadlineExceeded, "context deadline exceeded")),
        Math.max(0, timeoutMs),
      );
    }
    // A for-in loop: Object.entries here was ~2% of a Put's CPU in the API layer (profiled).
    const metadata: Record<string, string> = {};
    for (const k in headers) if (k.charCodeAt(0) !== 58 /* ":" */) metadata[k] = String(headers[k]);
    const parser = new FrameParser(this.#options.receiveMessageBytesMax);
    if (method.kind === "bidi") this.#runBidi(method, parser, metadata, path);
    else this.#runSingleRequest(method, parser, metadata, path);
  }

  /** Unary and server-streaming calls: wait for the one request message, then run. */
  #runSingleRequest(
    method: Extract<MethodDef, { kind: "unary" | "serverStream" }>,
    parser: FrameParser,
    metadata: Record<string, string>,
    path: string,
  ): void {
    let request: Uint8Array | null = null;
    let count = 0;
    this.#stream.on("data", (chunk: Buffer) => {
      for (const ev of parser.push(chunk)) {
        if (!this.#frameOk(ev)) return;
        if (ev.type === "message") {
          count++;
          request = ev.message;
        }
      }
    });
    this.#stream.on("end", () => {
      if (this.#done) return;
      if (count !== 1 || request === null) {
        this.finish(
          new GrpcError(
            count === 0 ? GrpcStatus.internal : GrpcStatus.unimplemented,
            count === 0
              ? "grpc: client streaming ended without sending a request message"
              : "grpc: too many request messages for a unary call",
          ),
        );
        return;
      }
      const decoded = decodeMessage<unknown>(method.requestDesc, request);
      if (!decoded.ok) {
        this.finish(
          new GrpcError(GrpcStatus.invalidArgument, `grpc: error unmarshalling request: ${decoded.reason}`),
        );
        return;
      }
      const ctx = this.#context(metadata, request.length);
      const run =
        method.kind === "unary"
          ? method.handle(decoded.value, ctx).then((res) => this.#sendOne(method.responseDesc, res))
          : method.handle(decoded.value, ctx, (res) => this.send(method.responseDesc, res));
      run.then(
        () => this.finish(null),
        (e: unknown) => this.#fail(path, e),
      );
    });
  }

  #runBidi(
    method: Extract<MethodDef, { kind: "bidi" }>,
    parser: FrameParser,
    metadata: Record<string, string>,
    path: string,
  ): void {
    const queue = new RequestQueue(
      this.#stream,
      this.#options.streamRequestsQueuedMax ?? streamRequestsQueuedMaxDefault,
    );
    this.#onAbort = () => queue.end();
    this.#stream.on("data", (chunk: Buffer) => {
      for (const ev of parser.push(chunk)) {
        if (!this.#frameOk(ev)) {
          queue.end();
          return;
        }
        if (ev.type !== "message") continue;
        const decoded = decodeMessage<unknown>(method.requestDesc, ev.message);
        if (!decoded.ok) {
          this.finish(
            new GrpcError(GrpcStatus.invalidArgument, `grpc: error unmarshalling request: ${decoded.reason}`),
          );
          queue.end();
          return;
        }
        queue.push(decoded.value);
      }
    });
    this.#stream.on("end", () => queue.end());
    const self = this;
    const call: StreamCall<unknown, object> = {
      requests: queue,
      send: (res) => this.send(method.responseDesc, res),
      get ended() {
        return self.#done;
      },
    };
    const ctx = this.#context(metadata, 0);
    method.handle(call, ctx).then(
      () => this.finish(null),
      (e: unknown) => this.#fail(path, e),
    );
  }

  #frameOk(ev: ReturnType<FrameParser["push"]>[number]): boolean {
    if (ev.type === "tooLarge") {
      this.finish(
        new GrpcError(
          GrpcStatus.resourceExhausted,
          `grpc: received message larger than max (${ev.length} vs. ${this.#options.receiveMessageBytesMax})`,
        ),
      );
      return false;
    }
    if (ev.type === "compressed") {
      this.finish(new GrpcError(GrpcStatus.unimplemented, "grpc: compressed messages are not supported"));
      return false;
    }
    return true;
  }

  #fail(path: string, e: unknown): void {
    if (e instanceof GrpcError) {
      this.finish(e);
      return;
    }
    this.#options.onInternalError?.(path, e);
    this.finish(new GrpcError(GrpcStatus.internal, `etcdserver: internal error: ${String(e)}`));
  }

  #respondHeaders(): void {
    if (this.#headersSent) return;
    this.#headersSent = true;
    this.#stream.respond(
      { ":status": 200, "content-type": "application/grpc", "grpc-accept-encoding": "identity" },
      { waitForTrailers: true },
    );
  }

  async #sendOne(desc: MessageDesc, res: object): Promise<void> {
    await this.send(desc, res);
  }

  /** Writes one response message; resolves when the stream can take more. */
  send(desc: MessageDesc, res: object): Promise<void> {
    if (this.#done || this.#stream.destroyed) return Promise.resolve();
    this.#respondHeaders();
    const ok = this.#stream.write(frameMessage(encodeMessage(desc, res)));
    if (ok) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.#stream.off("drain", done);
        this.#stream.off("close", done);
        resolve();
      };
      this.#stream.on("drain", done);
      this.#stream.on("close", done);
    });
  }

  /** Ends the call with OK (`error` null) or the error's status; later calls do nothing. */
  finish(error: GrpcError | null): void {
    if (this.#done) return;
    this.#done = true;
    this.#cleanup();
    this.abort(null);
    const s = this.#stream;
    if (s.destroyed || s.closed) return;
    const trailers: http2.OutgoingHttpHeaders = { "grpc-status": String(error?.code ?? GrpcStatus.ok) };
    if (error !== null) trailers["grpc-message"] = encodeGrpcMessage(error.message);
    if (!this.#headersSent) {
      // Trailers-only response.
      this.#headersSent = true;
      s.respond({ ":status": 200, "content-type": "application/grpc", ...trailers }, { endStream: true });
      return;
    }
    s.once("wantTrailers", () => s.sendTrailers(trailers));
    s.end();
  }

  #cleanup(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#registry.delete(this);
  }
}

/** Decoded requests of a stream, consumed as an async iterable; reading pauses while it is full. */
class RequestQueue implements AsyncIterable<unknown> {
  readonly #items: unknown[] = [];
  #ended = false;
  #waiter: (() => void) | null = null;

  constructor(
    readonly stream: http2.ServerHttp2Stream,
    readonly queuedMax: number,
  ) {}

  push(item: unknown): void {
    if (this.#ended) return;
    this.#items.push(item);
    if (this.#items.length >= this.queuedMax) this.stream.pause();
    this.#wake();
  }

  end(): void {
    this.#ended = true;
    this.#wake();
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<unknown> {
    for (;;) {
      if (this.#items.length > 0) {
        const item = this.#items.shift();
        if (this.#items.length < this.queuedMax / 2 && this.stream.isPaused()) this.stream.resume();
        yield item;
        continue;
      }
      if (this.#ended) return;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
      });
    }
  }
}

/** The type of {@link remoteAddressFields}' result. */
type RemoteAddressFields = { readonly remoteAddress?: string };

/** Client addresses of HTTP/2 sessions, recorded when the connection was handed over. */
const sessionAddresses = new WeakMap<http2.Http2Session, string>();

/** `{ remoteAddress }` for a {@link CallContext}: the client address of the session, or `{}`. */
function remoteAddressFields(session: http2.Http2Session | undefined): RemoteAddressFields {
  const address = session === undefined ? undefined : sessionAddresses.get(session);
  return address === undefined ? {} : { remoteAddress: address };
}
