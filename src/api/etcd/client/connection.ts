/**
 * One HTTP/2 (h2c, prior knowledge) connection to one etcd endpoint, dialled lazily and redialled
 * after it dies, and the two gRPC call shapes the client needs on it: unary calls and
 * bidirectional streams. Many calls share one session (HTTP/2 multiplexing), so a handful of
 * connections carry thousands of concurrent requests.
 */
import http2 from "node:http2";
import { FrameParser, frameMessage } from "../grpc/frames.js";
import { decodeMessage, encodeMessage, type MessageDesc } from "../proto/codec.js";
import { ConnectionError, GrpcCode, GrpcError } from "./errors.js";

/** Largest response message accepted, in bytes (grpc-go clients accept up to 2 GiB - 1). */
export const responseBytesMax = 256 * 1024 * 1024;
/** Per-stream and per-session HTTP/2 receive window, in bytes (large responses need no round trips). */
export const receiveWindowBytes = 16 * 1024 * 1024;
/** HTTP/2 session memory bound, in megabytes (node's default of 10 is low for thousands of streams). */
const sessionMemoryMaxMegabytes = 256;

/** Request metadata: extra HTTP/2 headers, names lower-case. */
export type Metadata = Readonly<Record<string, string>>;

/** A lazily dialled connection to `endpoint` ("host:port"). */
export class Connection {
  readonly endpoint: string;
  readonly #dialTimeoutMs: number;
  #session: http2.ClientHttp2Session | null = null;
  #connected = false;
  #dialing: Promise<http2.ClientHttp2Session> | null = null;
  #closed = false;

  constructor(endpoint: string, dialTimeoutMs: number) {
    this.endpoint = endpoint;
    this.#dialTimeoutMs = dialTimeoutMs;
  }

  /** The session if it is connected and usable now (the synchronous fast path), else null. */
  get ready(): http2.ClientHttp2Session | null {
    const s = this.#session;
    if (s === null || !this.#connected || s.closed || s.destroyed) return null;
    return s;
  }

  /** Whether the last dial succeeded and the session has not died since. */
  get healthy(): boolean {
    return this.ready !== null;
  }

  /**
   * A connected session: the current one, or a new dial. Rejects with a {@link ConnectionError}
   * (`sent: false`) when the dial fails or exceeds the dial timeout.
   */
  session(): Promise<http2.ClientHttp2Session> {
    const s = this.ready;
    if (s !== null) return Promise.resolve(s);
    if (this.#closed) return Promise.reject(new ConnectionError(this.endpoint, false, "client closed"));
    if (this.#dialing === null) {
      this.#dialing = this.#dial().finally(() => {
        this.#dialing = null;
      });
    }
    return this.#dialing;
  }

  #dial(): Promise<http2.ClientHttp2Session> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(`http://${this.endpoint}`, {
        maxSessionMemory: sessionMemoryMaxMegabytes,
        settings: { enablePush: false, initialWindowSize: receiveWindowBytes },
      });
      this.#session = session;
      this.#connected = false;
      let settled = false;
      const fail = (reason: string): void => {
        if (this.#session === session) {
          this.#session = null;
          this.#connected = false;
        }
        session.destroy();
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          reject(new ConnectionError(this.endpoint, false, reason));
        }
      };
      const timer = setTimeout(
        () => fail(`dial timeout after ${this.#dialTimeoutMs} ms`),
        this.#dialTimeoutMs,
      );
      session.on("error", (e: Error) => fail(e.message));
      session.on("goaway", () => {
        // No new streams on this session; calls in flight finish, new ones dial afresh.
        if (this.#session === session) {
          this.#session = null;
          this.#connected = false;
        }
      });
      session.on("close", () => fail("connection closed"));
      session.on("connect", () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (this.#closed) {
          session.destroy();
          reject(new ConnectionError(this.endpoint, false, "client closed"));
          return;
        }
        this.#connected = true;
        try {
          session.setLocalWindowSize(receiveWindowBytes);
          session.socket.setNoDelay(true);
        } catch {
          // Best effort: tuning only.
        }
        resolve(session);
      });
    });
  }

  /** Destroys the session (calls in flight fail with a ConnectionError) and refuses new dials. */
  close(): void {
    this.#closed = true;
    this.#session?.destroy();
    this.#session = null;
    this.#connected = false;
  }

  /** Destroys the current session (if any) so the next call dials again; the connection stays usable. */
  reset(): void {
    this.#session?.destroy();
    this.#session = null;
    this.#connected = false;
  }
}

/** The gRPC code for an HTTP status that came without a `grpc-status` (the gRPC HTTP/2 spec's table). */
export function codeOfHttpStatus(status: number): number {
  switch (status) {
    case 400:
      return GrpcCode.internal;
    case 401:
      return GrpcCode.unauthenticated;
    case 403:
      return GrpcCode.permissionDenied;
    case 404:
      return GrpcCode.unimplemented;
    case 429:
    case 502:
    case 503:
    case 504:
      return GrpcCode.unavailable;
    default:
      return GrpcCode.unknown;
  }
}

function decodeGrpcMessage(value: unknown): string {
  if (value === undefined) return "";
  const text = String(value);
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Reads status and message from response headers or trailers, and the HTTP status. */
class StatusReader {
  code = -1;
  details = "";
  httpStatus = 0;

  take(h: http2.IncomingHttpHeaders): void {
    const st = h[":status"];
    if (st !== undefined) this.httpStatus = Number(st);
    const code = h["grpc-status"];
    if (code !== undefined) {
      this.code = Number(code);
      this.details = decodeGrpcMessage(h["grpc-message"]);
    }
  }

  /** The call's failure, or null for OK. `reset` describes how the stream ended without a status. */
  failure(endpoint: string, reset: string): Error | null {
    if (this.code === 0) return null;
    if (this.code > 0) return new GrpcError(this.code, this.details, endpoint);
    if (this.httpStatus !== 0 && this.httpStatus !== 200) {
      return new GrpcError(codeOfHttpStatus(this.httpStatus), `HTTP status ${this.httpStatus}`, endpoint);
    }
    return new ConnectionError(endpoint, true, reset);
  }
}

function resetReason(stream: http2.ClientHttp2Stream, error: Error | null): string {
  if (error !== null) return error.message;
  return stream.rstCode !== undefined && stream.rstCode !== 0
    ? `stream reset (HTTP/2 code ${stream.rstCode})`
    : "stream ended without a gRPC status";
}

function requestHeaders(
  path: string,
  timeoutMs: number,
  metadata: Metadata | undefined,
): http2.OutgoingHttpHeaders {
  const h: http2.OutgoingHttpHeaders = {
    ":method": "POST",
    ":path": path,
    "content-type": "application/grpc",
    te: "trailers",
  };
  if (timeoutMs > 0 && Number.isFinite(timeoutMs)) h["grpc-timeout"] = `${Math.ceil(timeoutMs)}m`;
  if (metadata !== undefined) for (const [k, v] of Object.entries(metadata)) h[k] = v;
  return h;
}

/** What {@link unaryCall} needs. */
export interface UnaryCallSpec {
  readonly session: http2.ClientHttp2Session;
  readonly endpoint: string;
  /** `/package.Service/Method`. */
  readonly path: string;
  /** The framed, encoded request. */
  readonly framed: Uint8Array;
  readonly responseDesc: MessageDesc;
  /** 0 or Infinity: no deadline. */
  readonly timeoutMs: number;
  readonly metadata?: Metadata | undefined;
  /** Called when the deadline passes (the stream is cancelled); makes the rejection. */
  readonly onTimeout: () => Error;
}

/**
 * One unary call on a connected session. Resolves with the decoded response; rejects with a
 * {@link GrpcError} (status from the server), a {@link ConnectionError} (`sent: true`: the
 * session died or the stream was reset) or whatever `onTimeout` returns.
 */
export function unaryCall<Res>(spec: UnaryCallSpec): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    let stream: http2.ClientHttp2Stream;
    try {
      stream = spec.session.request(requestHeaders(spec.path, spec.timeoutMs, spec.metadata), {
        endStream: false,
      });
    } catch (e) {
      reject(new ConnectionError(spec.endpoint, false, e instanceof Error ? e.message : String(e)));
      return;
    }
    const status = new StatusReader();
    const parser = new FrameParser(responseBytesMax);
    let response: Uint8Array | null = null;
    let problem: string | null = null;
    let streamError: Error | null = null;
    let settled = false;
    let timer: NodeJS.Timeout | null = null;
    if (spec.timeoutMs > 0 && Number.isFinite(spec.timeoutMs)) {
      timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        stream.close(http2.constants.NGHTTP2_CANCEL);
        reject(spec.onTimeout());
      }, spec.timeoutMs);
    }
    stream.on("response", (h) => status.take(h));
    stream.on("trailers", (h) => status.take(h));
    stream.on("data", (chunk: Buffer) => {
      for (const ev of parser.push(chunk)) {
        if (ev.type === "message") {
          if (response === null) response = ev.message;
          else problem = "more than one response message for a unary call";
        } else problem = `unusable response frame (${ev.type})`;
      }
    });
    stream.on("error", (e: Error) => {
      streamError = e;
    });
    stream.on("close", () => {
      if (timer !== null) clearTimeout(timer);
      if (settled) return;
      settled = true;
      const failure = status.failure(spec.endpoint, resetReason(stream, streamError));
      if (failure !== null) {
        reject(failure);
        return;
      }
      if (problem !== null || response === null) {
        const why = problem ?? "no response message for a unary call";
        reject(new GrpcError(GrpcCode.internal, `synod client: ${why}`, spec.endpoint));
        return;
      }
      const decoded = decodeMessage<Res>(spec.responseDesc, response);
      if (decoded.ok) resolve(decoded.value);
      else reject(new GrpcError(GrpcCode.internal, `synod client: ${decoded.reason}`, spec.endpoint));
    });
    stream.end(spec.framed);
  });
}

/** Callbacks of a {@link BidiStream}. */
export interface BidiHandlers<Res> {
  /** One decoded response message. */
  onMessage(res: Res): void;
  /**
   * The stream ended: null for status OK, else a {@link GrpcError}, or a {@link ConnectionError}
   * when it ended without a status (reset, connection lost). Called exactly once.
   */
  onEnd(error: Error | null): void;
}

/** A bidirectional-streaming call on a connected session. */
export class BidiStream<Req extends object, Res> {
  readonly endpoint: string;
  readonly #stream: http2.ClientHttp2Stream;
  readonly #requestDesc: MessageDesc;
  #ended = false;

  constructor(
    session: http2.ClientHttp2Session,
    endpoint: string,
    path: string,
    requestDesc: MessageDesc,
    responseDesc: MessageDesc,
    metadata: Metadata | undefined,
    handlers: BidiHandlers<Res>,
  ) {
    this.endpoint = endpoint;
    this.#requestDesc = requestDesc;
    this.#stream = session.request(requestHeaders(path, 0, metadata), { endStream: false });
    const stream = this.#stream;
    const status = new StatusReader();
    const parser = new FrameParser(responseBytesMax);
    let streamError: Error | null = null;
    let failed: Error | null = null;
    stream.on("response", (h) => status.take(h));
    stream.on("trailers", (h) => status.take(h));
    stream.on("data", (chunk: Buffer) => {
      if (failed !== null) return;
      for (const ev of parser.push(chunk)) {
        if (ev.type !== "message") {
          failed = new GrpcError(
            GrpcCode.internal,
            `synod client: unusable response frame (${ev.type})`,
            endpoint,
          );
          stream.close(http2.constants.NGHTTP2_CANCEL);
          return;
        }
        const decoded = decodeMessage<Res>(responseDesc, ev.message);
        if (!decoded.ok) {
          failed = new GrpcError(GrpcCode.internal, `synod client: ${decoded.reason}`, endpoint);
          stream.close(http2.constants.NGHTTP2_CANCEL);
          return;
        }
        handlers.onMessage(decoded.value);
      }
    });
    stream.on("error", (e: Error) => {
      streamError = e;
    });
    stream.on("close", () => {
      this.#ended = true;
      if (failed !== null) handlers.onEnd(failed);
      else if (status.code < 0 && this.#cancelled) handlers.onEnd(null);
      else handlers.onEnd(status.failure(endpoint, resetReason(stream, streamError)));
    });
  }

  #cancelled = false;

  /** Whether the stream has closed. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Sends one request message; false when the stream is closed (the message is dropped). */
  send(req: Req): boolean {
    if (this.#ended || this.#stream.writableEnded || this.#stream.destroyed) return false;
    this.#stream.write(frameMessage(encodeMessage(this.#requestDesc, req)));
    return true;
  }

  /** Half-closes: no more requests; the server ends the call. */
  end(): void {
    if (!this.#stream.writableEnded && !this.#stream.destroyed) this.#stream.end();
  }

  /** Cancels the call (RST_STREAM CANCEL); `onEnd` then reports null. */
  cancel(): void {
    if (this.#ended) return;
    this.#cancelled = true;
    this.#stream.close(http2.constants.NGHTTP2_CANCEL);
  }
}
