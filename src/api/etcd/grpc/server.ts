import type { Duplex } from "node:stream";
import { concatBytes } from "../../../mvcc/mod.js";
import { decodeMessage, encodeMessage, type MessageDesc } from "../proto/codec.js";
import { identityFields } from "../tlsidentity.js";
import { encodeGrpcMessage, FrameParser, parseGrpcTimeout } from "./frames.js";
import { H2Connection, type H2Stream, type RequestHeaders } from "./h2.js";
import { encodeLiterals, type HeaderField } from "./hpack.js";
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
  /**
   * Sends responses already encoded and in gRPC framing (one or more length-prefixed messages
   * of the method's response type), as one write; resolves as {@link send} does.
   */
  sendFramed(framed: Uint8Array): Promise<void>;
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

/** Milliseconds a connection gets to finish after a graceful close before it is destroyed. */
export const sessionCloseGraceMs = 1000;
/** How long a graceful close waits for unary calls in flight to finish before failing them. */
export const unaryDrainMs = 3000;

const utf8 = new TextEncoder();

function fields(pairs: readonly (readonly [string, string])[]): HeaderField[] {
  return pairs.map(([n, v]) => ({ name: utf8.encode(n), value: utf8.encode(v), sensitive: false }));
}

/** `:status: 200` (static table index 8), then the gRPC response fields as literals. */
const responseHeaders: Uint8Array = Uint8Array.from([
  0x88,
  ...encodeLiterals(
    fields([
      ["content-type", "application/grpc"],
      ["grpc-accept-encoding", "identity"],
    ]),
  ),
]);
const okTrailers: Uint8Array = encodeLiterals(fields([["grpc-status", "0"]]));
const notGrpcResponse: Uint8Array = encodeLiterals(fields([[":status", "415"]]));

/** The trailer block of a call ending with `error` (OK when null). */
function trailerBlock(error: GrpcError | null): Uint8Array {
  if (error === null) return okTrailers;
  return encodeLiterals(
    fields([
      ["grpc-status", String(error.code)],
      ["grpc-message", encodeGrpcMessage(error.message)],
    ]),
  );
}

/** A trailers-only response block (HEADERS with END_STREAM carrying the status). */
function trailersOnlyBlock(error: GrpcError | null): Uint8Array {
  return concatBytes([responseHeaders, trailerBlock(error)]);
}

/** What a call knows of its connection. */
interface ConnectionInfo {
  readonly identity: { readonly peerCommonName?: string };
  readonly address: { readonly remoteAddress?: string };
}

/**
 * A gRPC server on Synod's own HTTP/2 connection code (`h2.ts`; h2c with prior knowledge, or
 * TLS with ALPN h2): message framing, status trailers (trailers-only responses for early
 * failures), `grpc-timeout` deadlines, cancellation when the client resets the stream,
 * per-stream backpressure both ways, and a receive size limit checked from the message header
 * before the body is buffered. Connections are handed in with {@link GrpcServer.handleConnection}
 * (see `listener.ts`, which shares one port with HTTP/1.1).
 */
export class GrpcServer {
  readonly #methods = new Map<string, MethodDef>();
  /** Streaming calls in flight (they never end by themselves: a close fails them at once). */
  readonly #calls = new Set<Abortable>();
  /** Unary calls in flight (a close lets them finish, up to {@link unaryDrainMs}). */
  readonly #unaryCalls = new Set<Abortable>();
  readonly #connections = new Set<H2Connection>();
  readonly #options: GrpcServerOptions;
  #closing = false;

  constructor(options: GrpcServerOptions) {
    this.#options = options;
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
   * Serves HTTP/2 on an accepted connection (a TCP or TLS socket) whose bytes read so far are
   * `head` (they start with the client connection preface).
   */
  handleConnection(socket: Duplex, head: Uint8Array = new Uint8Array(0)): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    const address: unknown = (socket as { remoteAddress?: unknown }).remoteAddress;
    const info: ConnectionInfo = {
      identity: identityFields(socket),
      address: typeof address === "string" && address !== "" ? { remoteAddress: address } : {},
    };
    const connection = new H2Connection(socket, head, {
      onStream: (stream, headers) => this.#onStream(stream, headers, info),
    });
    this.#connections.add(connection);
    void connection.closedPromise.then(() => this.#connections.delete(connection));
  }

  /**
   * Graceful close: refuses new calls, ends streaming calls with UNAVAILABLE, lets unary calls in
   * flight finish (up to {@link unaryDrainMs}, then fails them), and closes every connection
   * (destroyed after a grace period).
   */
  async close(): Promise<void> {
    this.#closing = true;
    const stopped = (): GrpcError => new GrpcError(GrpcStatus.unavailable, "etcdserver: server stopped");
    for (const c of this.#calls) c.abort(stopped());
    const deadline = Date.now() + unaryDrainMs;
    while (this.#unaryCalls.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const c of this.#unaryCalls) c.abort(stopped());
    const connections = [...this.#connections];
    await Promise.all(
      connections.map(async (c) => {
        c.goAway();
        let timer: NodeJS.Timeout | undefined;
        const grace = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, sessionCloseGraceMs);
        });
        await Promise.race([c.closedPromise, grace]);
        clearTimeout(timer);
        c.destroy();
      }),
    );
  }

  #onStream(stream: H2Stream, headers: RequestHeaders, info: ConnectionInfo): void {
    const contentType = headers.fields["content-type"] ?? "";
    if (headers.method !== "POST" || !contentType.startsWith("application/grpc")) {
      stream.respondAndEnd(notGrpcResponse);
      return;
    }
    const path = headers.path;
    const method = this.#methods.get(path);
    const call = new Call(
      stream,
      this.#options,
      method?.kind === "unary" ? this.#unaryCalls : this.#calls,
      info,
    );
    if (this.#closing) {
      call.finish(new GrpcError(GrpcStatus.unavailable, "etcdserver: server stopped"));
      return;
    }
    if (method === undefined) {
      const text = this.#options.unknownMethodMessage?.(path) ?? `unknown method ${path}`;
      call.finish(new GrpcError(GrpcStatus.unimplemented, text));
      return;
    }
    call.start(method, headers.fields, path);
  }
}

/** A call in flight, as a server close sees it. */
interface Abortable {
  abort(reason: unknown): void;
}

/** One in-flight call: reads frames, runs the handler, writes responses and the status. */
class Call implements Abortable {
  readonly #stream: H2Stream;
  readonly #options: GrpcServerOptions;
  readonly #registry: Set<Abortable>;
  readonly #info: ConnectionInfo;
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
  /** Senders waiting for the stream to take more. */
  #drainWaiters: (() => void)[] = [];

  constructor(stream: H2Stream, options: GrpcServerOptions, registry: Set<Abortable>, info: ConnectionInfo) {
    this.#stream = stream;
    this.#options = options;
    this.#registry = registry;
    this.#info = info;
    registry.add(this);
    stream.onDrain = () => this.#wakeSenders();
    stream.onClose = () => {
      this.#wakeSenders();
      if (!this.#done) this.abort(new GrpcError(GrpcStatus.canceled, "context canceled"));
      this.#cleanup();
    };
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
      ...this.#info.identity,
      ...this.#info.address,
    };
  }

  start(method: MethodDef, metadata: Record<string, string>, path: string): void {
    const timeoutMs = parseGrpcTimeout(metadata["grpc-timeout"]);
    if (timeoutMs !== null) {
      this.#timer = setTimeout(
        () => this.abort(new GrpcError(GrpcStatus.deadlineExceeded, "context deadline exceeded")),
        Math.max(0, timeoutMs),
      );
    }
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
    this.#stream.onData = (chunk) => {
      for (const ev of parser.push(chunk)) {
        if (!this.#frameOk(ev)) return;
        if (ev.type === "message") {
          count++;
          request = ev.message;
        }
      }
    };
    this.#stream.onEnd = () => {
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
          ? method.handle(decoded.value, ctx).then((res) => this.#sendLast(method.responseDesc, res))
          : method.handle(decoded.value, ctx, (res) => this.send(method.responseDesc, res));
      run.then(
        () => this.finish(null),
        (e: unknown) => this.#fail(path, e),
      );
    };
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
    this.#stream.onData = (chunk) => {
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
    };
    this.#stream.onEnd = () => queue.end();
    const self = this;
    const call: StreamCall<unknown, object> = {
      requests: queue,
      send: (res) => this.send(method.responseDesc, res),
      sendFramed: (framed) => this.#write(framed),
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
    this.#stream.respond(responseHeaders);
  }

  /** A unary call's response: written without waiting, the status follows at once. */
  #sendLast(desc: MessageDesc, res: object): void {
    if (this.#done || this.#stream.closed) return;
    this.#respondHeaders();
    this.#stream.writeMessage(encodeMessage(desc, res));
  }

  /** Writes one response message; resolves when the stream can take more. */
  send(desc: MessageDesc, res: object): Promise<void> {
    if (this.#done || this.#stream.closed) return Promise.resolve();
    this.#respondHeaders();
    if (this.#stream.writeMessage(encodeMessage(desc, res))) return Promise.resolve();
    return new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Writes framed response bytes; resolves when the stream can take more. */
  #write(framed: Uint8Array): Promise<void> {
    if (this.#done || this.#stream.closed) return Promise.resolve();
    this.#respondHeaders();
    if (this.#stream.write(framed)) return Promise.resolve();
    return new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
  }

  #wakeSenders(): void {
    const waiters = this.#drainWaiters;
    if (waiters.length === 0) return;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }

  /** Ends the call with OK (`error` null) or the error's status; later calls do nothing. */
  finish(error: GrpcError | null): void {
    if (this.#done) return;
    this.#done = true;
    this.#cleanup();
    this.abort(null);
    const s = this.#stream;
    if (s.closed) return;
    if (!this.#headersSent) {
      this.#headersSent = true;
      s.respondAndEnd(trailersOnlyBlock(error));
      return;
    }
    s.end(trailerBlock(error));
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
    readonly stream: H2Stream,
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
        if (this.#items.length < this.queuedMax / 2 && this.stream.paused) this.stream.resume();
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
