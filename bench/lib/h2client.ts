/**
 * A minimal HTTP/2 client (RFC 9113; h2c with prior knowledge over node:net) for gRPC calls, made
 * for the load generator: node:http2 costs the generator tens of microseconds of CPU per request,
 * which on a small machine is taken from the servers being measured. What it does:
 *
 * - Connection: preface and SETTINGS (push off, a large INITIAL_WINDOW_SIZE and a connection
 *   WINDOW_UPDATE to match), SETTINGS ACK, PING ACK, GOAWAY (calls above the last stream id fail,
 *   no new calls), connection errors answered with GOAWAY and a close.
 * - Flow control both ways: DATA is sent within the server's connection and stream windows and
 *   its SETTINGS_MAX_FRAME_SIZE (INITIAL_WINDOW_SIZE changes adjust open streams); receive windows
 *   are replenished once half of them is used. SETTINGS_MAX_CONCURRENT_STREAMS is honoured by
 *   queueing new calls.
 * - Frames read: DATA (padding), HEADERS + CONTINUATION (padding, priority), RST_STREAM, SETTINGS,
 *   PING, GOAWAY, WINDOW_UPDATE; PUSH_PROMISE is a protocol error (push is off); others ignored.
 * - HPACK: one decoder per connection decodes every header block in order (src/api/etcd/grpc/hpack);
 *   requests are literal-only, their constant header block encoded once per path. The first block
 *   sets our encoder's dynamic table size to 0, so the server's SETTINGS_HEADER_TABLE_SIZE never
 *   matters.
 * - gRPC: unary calls (resolve with the response message, reject with a GrpcError for a non-zero
 *   grpc-status, trailers or trailers-only) and bidirectional streams (a callback per message).
 * - Writes are batched: frames go into one buffer and are written with one socket.write per turn
 *   of the event loop (setImmediate), so a burst of requests and window updates is one syscall.
 *
 * Errors are the project client's (src/api/etcd/client/errors): GrpcError, ConnectionError
 * (connection lost, stream reset, GOAWAY), ClientTimeoutError; their messages are what the load
 * generator's error tally counts by.
 */
import net from "node:net";
import { codeOfHttpStatus } from "../../src/api/etcd/client/connection.js";
import {
  ClientTimeoutError,
  ConnectionError,
  GrpcCode,
  GrpcError,
} from "../../src/api/etcd/client/errors.js";
import { FrameParser } from "../../src/api/etcd/grpc/frames.js";
import {
  defaultMaxFrameBytes,
  defaultWindowBytes,
  Flag,
  FrameType,
  frameHeaderBytes,
  H2Error,
  http2Preface,
  Setting,
  windowBytesMax,
} from "../../src/api/etcd/grpc/h2.js";
import { encodeLiterals, type HeaderField, HpackDecoder, HpackError } from "../../src/api/etcd/grpc/hpack.js";

/** Largest frame payload a peer may announce for itself (2^24 - 1), in bytes. */
const peerFrameBytesLimit = 16_777_215;
/** Largest stream id. */
const streamIdMax = 2 ** 31 - 1;
/** Default receive window per stream and for the connection, in bytes. */
export const receiveWindowBytesDefault = 16 * 1024 * 1024;
/** Largest gRPC response message accepted, in bytes. */
export const responseBytesMax = 256 * 1024 * 1024;
/** Largest header block (HEADERS + CONTINUATION) accepted, in bytes. */
export const headerBlockBytesMax = 1024 * 1024;
/** Size of the buffer outgoing frames are gathered in, in bytes (a larger one is made for a larger burst). */
const outBufferBytes = 256 * 1024;
/** Ticks of the timeout sweep per timeout (a unary call fails 1 to 1 + 1/8 timeouts after it starts). */
const sweepTicksPerTimeout = 8;

const ascii = (s: string): Uint8Array => Buffer.from(s, "latin1");
const nameStatus = ascii(":status");
const nameGrpcStatus = ascii("grpc-status");
const nameGrpcMessage = ascii("grpc-message");

/** Options of {@link H2Connection.connect}. */
export interface H2Options {
  /** Receive window per stream and for the connection, in bytes (default 16 MiB; at least 65,535). */
  readonly receiveWindowBytes?: number;
  /** Unary call timeout in milliseconds (default 30,000; 0: none). Streams have none. */
  readonly timeoutMs?: number;
  /** Milliseconds to connect and receive the server's SETTINGS (default 2000). */
  readonly dialTimeoutMs?: number;
}

/** What a bidirectional stream's owner is told. */
export interface StreamHandlers {
  /** One response message (unframed protobuf; valid until the handler returns unless copied). */
  onMessage(message: Uint8Array): void;
  /**
   * The stream ended: null when the server ended it with status OK or the caller cancelled it,
   * else a GrpcError or ConnectionError. Called exactly once; nothing follows.
   */
  onEnd(error: Error | null): void;
}

/** Where a stream's messages and end go. */
interface Sink {
  message(message: Uint8Array): void;
  end(error: Error | null): void;
}

/** One HTTP/2 stream (one gRPC call). */
class Stream {
  id = 0;
  /** Send window, in bytes (may go negative after a SETTINGS change). */
  sendWindow = 0;
  /** DATA waiting to be sent (framed gRPC messages), oldest first; `outOffset` into the first. */
  readonly out: Uint8Array[] = [];
  outOffset = 0;
  /** END_STREAM goes out once `out` drains. */
  endQueued = false;
  localEnded = false;
  /** In the connection's list of streams waiting for window. */
  blocked = false;
  recvWindow = 0;
  recvUnacked = 0;
  headersSeen = false;
  httpStatus = 0;
  grpcStatus = -1;
  grpcMessage = "";
  parser: FrameParser | null = null;
  /** The sweep epoch when the call was made (for the unary timeout). */
  epoch = 0;
  done = false;

  constructor(
    readonly path: string,
    readonly sink: Sink,
    /** Unary: subject to the call timeout. */
    readonly timed: boolean,
  ) {}
}

/** A unary call's sink: one response message, then the status. */
class UnarySink implements Sink {
  response: Uint8Array | null = null;
  problem: string | null = null;

  constructor(
    readonly endpoint: string,
    readonly resolve: (message: Uint8Array) => void,
    readonly reject: (error: Error) => void,
  ) {}

  message(message: Uint8Array): void {
    if (this.response === null) this.response = message;
    else this.problem = "more than one response message for a unary call";
  }

  end(error: Error | null): void {
    if (error !== null) this.reject(error);
    else if (this.problem !== null || this.response === null) {
      const why = this.problem ?? "no response message for a unary call";
      this.reject(new GrpcError(GrpcCode.internal, `h2client: ${why}`, this.endpoint));
    } else this.resolve(this.response);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** A decimal header value (":status", "grpc-status"), or -1 when it is not one. */
function decimal(v: Uint8Array): number {
  if (v.length === 0 || v.length > 9) return -1;
  let n = 0;
  for (const b of v) {
    if (b < 0x30 || b > 0x39) return -1;
    n = n * 10 + (b - 0x30);
  }
  return n;
}

/** A `grpc-message` value, percent-decoded (left as is when malformed). */
function grpcMessageText(v: Uint8Array): string {
  const text = Buffer.from(v.buffer, v.byteOffset, v.length).toString("latin1");
  if (!text.includes("%")) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A protocol violation by the server: the connection ends with GOAWAY(`code`). */
class ConnectionFailure extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** A header block being gathered from HEADERS and CONTINUATION frames. */
interface PendingBlock {
  readonly id: number;
  readonly endStream: boolean;
  readonly parts: Buffer[];
  bytes: number;
}

/**
 * One HTTP/2 connection to one gRPC server. Build with {@link H2Connection.connect}; make calls
 * with {@link unary} and {@link stream}; {@link close} when done. Not reconnecting: once the
 * connection is lost or told to go away, new calls fail with a ConnectionError.
 */
export class H2Connection {
  readonly endpoint: string;
  readonly #socket: net.Socket;
  readonly #authority: Uint8Array;
  readonly #recvWindowBytes: number;
  readonly #timeoutMs: number;
  readonly #hpack = new HpackDecoder();
  /** Request header blocks by path. */
  readonly #blocks = new Map<string, Uint8Array>();
  /** The first header block we send starts with a table size update to 0. */
  #tableSizeUpdateSent = false;

  readonly #streams = new Map<number, Stream>();
  /** Streams waiting for the server's concurrent-stream limit, oldest first. */
  readonly #waiting: Stream[] = [];
  #blocked: Stream[] = [];
  #nextId = 1;
  #active = 0;

  // The server's settings and our send window.
  #peerStreamsMax = Number.POSITIVE_INFINITY;
  #peerInitialWindow = defaultWindowBytes;
  #peerFrameBytes = defaultMaxFrameBytes;
  #sendWindow = defaultWindowBytes;
  // Our receive window.
  #recvWindow: number;
  #recvUnacked = 0;

  // Reading.
  #parts: Buffer[] = [];
  #partsBytes = 0;
  #need = frameHeaderBytes;
  #block: PendingBlock | null = null;

  // Writing.
  #outBuf = Buffer.allocUnsafe(outBufferBytes);
  #outStart = 0;
  #outEnd = 0;
  #flushScheduled = false;

  /** Why no new call can start (connection lost, GOAWAY, closed), or null. */
  #refusal: string | null = null;
  /** Why the connection died, or null while it is alive. */
  #failure: string | null = null;
  #settingsSeen = false;
  #onSettled: ((error: Error | null) => void) | null = null;
  #sweep: NodeJS.Timeout | null = null;
  #epoch = 0;

  private constructor(endpoint: string, socket: net.Socket, options: H2Options) {
    this.endpoint = endpoint;
    this.#socket = socket;
    this.#authority = ascii(endpoint);
    this.#recvWindowBytes = Math.min(
      windowBytesMax,
      Math.max(defaultWindowBytes, options.receiveWindowBytes ?? receiveWindowBytesDefault),
    );
    this.#recvWindow = this.#recvWindowBytes;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.#onBytes(chunk));
    socket.on("error", (e: Error) => this.#die(e.message));
    socket.on("close", () => this.#die("connection closed"));
    this.#writePreface();
    if (this.#timeoutMs > 0) {
      const tick = Math.max(1, this.#timeoutMs / sweepTicksPerTimeout);
      this.#sweep = setInterval(() => this.#sweepTimeouts(), tick);
      this.#sweep.unref();
    }
  }

  /**
   * Connects to `endpoint` ("host:port") and resolves once the server's SETTINGS arrived (an
   * HTTP/2 server answered). Rejects with a ConnectionError (`sent: false`) on failure or after
   * the dial timeout.
   */
  static connect(endpoint: string, options: H2Options = {}): Promise<H2Connection> {
    const colon = endpoint.lastIndexOf(":");
    const host = endpoint.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
    const port = Number(endpoint.slice(colon + 1));
    if (colon < 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) {
      return Promise.reject(new Error(`h2client: endpoint must be host:port, got '${endpoint}'`));
    }
    const conn = new H2Connection(endpoint, net.connect({ host, port }), options);
    const dialTimeoutMs = options.dialTimeoutMs ?? 2000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => conn.#die(`dial timeout after ${dialTimeoutMs} ms`), dialTimeoutMs);
      conn.#onSettled = (error) => {
        clearTimeout(timer);
        conn.#onSettled = null;
        if (error === null) resolve(conn);
        else reject(error);
      };
    });
  }

  /** Calls in flight (streams open or waiting to open). */
  get inFlight(): number {
    return this.#streams.size + this.#waiting.length;
  }

  /** Whether new calls can start. */
  get usable(): boolean {
    return this.#refusal === null;
  }

  /**
   * A unary call of `path` (`/package.Service/Method`) with `framed` (a gRPC length-prefixed
   * message; not modified, and not to be modified until the promise settles). Resolves with the
   * response message (unframed); rejects with a GrpcError (non-zero grpc-status, or a malformed
   * response), a ConnectionError or a ClientTimeoutError.
   */
  unary(path: string, framed: Uint8Array): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const s = new Stream(path, new UnarySink(this.endpoint, resolve, reject), true);
      s.out.push(framed);
      s.endQueued = true;
      this.#open(s);
    });
  }

  /** Opens a bidirectional stream on `path`; messages and the end go to `handlers`. */
  stream(path: string, handlers: StreamHandlers): BidiCall {
    const sink: Sink = { message: (m) => handlers.onMessage(m), end: (e) => handlers.onEnd(e) };
    const s = new Stream(path, sink, false);
    const call = new BidiCall(this, s);
    this.#open(s);
    return call;
  }

  /** Ends the connection: GOAWAY, then the socket is closed; calls in flight fail. */
  close(): void {
    if (this.#failure !== null) return;
    this.#refusal ??= "connection closed by the client";
    this.#goaway(H2Error.noError, "");
    this.#socket.end();
    this.#die("connection closed by the client");
  }

  /** @internal Queues `framed` on `s` (and END_STREAM after it when `end`). */
  send(s: Stream, framed: Uint8Array | null, end: boolean): boolean {
    if (s.done || s.endQueued) return false;
    if (framed !== null) s.out.push(framed);
    if (end) s.endQueued = true;
    if (s.id !== 0) this.#pump(s);
    return true;
  }

  /** @internal Cancels `s` (RST_STREAM CANCEL); its sink hears null. */
  cancel(s: Stream): void {
    if (s.done) return;
    if (s.id === 0) {
      const i = this.#waiting.indexOf(s);
      if (i >= 0) this.#waiting.splice(i, 1);
      s.done = true;
    } else {
      this.#rst(s.id, H2Error.cancel);
      this.#finish(s);
    }
    s.sink.end(null);
  }

  // -------------------------------------------------------------------------------------------
  // Streams

  #open(s: Stream): void {
    s.epoch = this.#epoch;
    if (this.#refusal !== null) {
      s.done = true;
      s.sink.end(new ConnectionError(this.endpoint, false, this.#refusal));
      return;
    }
    if (this.#active >= this.#peerStreamsMax) this.#waiting.push(s);
    else this.#start(s);
  }

  #start(s: Stream): void {
    if (this.#nextId > streamIdMax) {
      this.#refusal = "stream ids exhausted";
      s.done = true;
      s.sink.end(new ConnectionError(this.endpoint, false, this.#refusal));
      return;
    }
    s.id = this.#nextId;
    this.#nextId += 2;
    s.sendWindow = this.#peerInitialWindow;
    s.recvWindow = this.#recvWindowBytes;
    this.#streams.set(s.id, s);
    this.#active++;
    let block = this.#blocks.get(s.path);
    if (block === undefined) {
      block = this.#headerBlock(s.path);
      this.#blocks.set(s.path, block);
    }
    if (!this.#tableSizeUpdateSent) {
      this.#tableSizeUpdateSent = true;
      // A dynamic table size update to 0 (RFC 7541 §6.3): our encoder never uses the table.
      const first = new Uint8Array(block.length + 1);
      first[0] = 0x20;
      first.set(block, 1);
      block = first;
    }
    this.#frame(FrameType.headers, Flag.endHeaders, s.id, block.length);
    this.#put(block);
    this.#pump(s);
  }

  #headerBlock(path: string): Uint8Array {
    const f = (name: string, value: string | Uint8Array): HeaderField => ({
      name: ascii(name),
      value: typeof value === "string" ? ascii(value) : value,
      sensitive: false,
    });
    const block = encodeLiterals([
      f(":method", "POST"),
      f(":scheme", "http"),
      f(":path", path),
      f(":authority", this.#authority),
      f("content-type", "application/grpc"),
      f("te", "trailers"),
    ]);
    // One HEADERS frame, no CONTINUATION: every peer accepts frames of 16,384 bytes.
    if (block.length + 1 > defaultMaxFrameBytes)
      throw new Error(`h2client: path too long for one HEADERS frame: ${path}`);
    return block;
  }

  /** Sends as much of `s`'s queued DATA as the windows allow; the rest waits for WINDOW_UPDATE. */
  #pump(s: Stream): void {
    for (;;) {
      const head = s.out[0];
      if (head === undefined) break;
      const left = head.length - s.outOffset;
      const n = Math.min(left, this.#sendWindow, s.sendWindow, this.#peerFrameBytes);
      if (n <= 0) {
        if (!s.blocked) {
          s.blocked = true;
          this.#blocked.push(s);
        }
        return;
      }
      const last = n === left && s.out.length === 1 && s.endQueued;
      this.#frame(FrameType.data, last ? Flag.endStream : 0, s.id, n);
      this.#put(s.outOffset === 0 && n === head.length ? head : head.subarray(s.outOffset, s.outOffset + n));
      this.#sendWindow -= n;
      s.sendWindow -= n;
      if (n === left) {
        s.out.shift();
        s.outOffset = 0;
      } else s.outOffset += n;
      if (last) s.localEnded = true;
    }
    if (s.endQueued && !s.localEnded) {
      this.#frame(FrameType.data, Flag.endStream, s.id, 0);
      s.localEnded = true;
    }
  }

  #retryBlocked(): void {
    const list = this.#blocked;
    this.#blocked = [];
    for (const s of list) {
      s.blocked = false;
      if (!s.done) this.#pump(s);
    }
  }

  /** Removes `s` from the open streams and starts waiting ones the limit now allows. */
  #finish(s: Stream): void {
    s.done = true;
    if (this.#streams.delete(s.id)) this.#active--;
    s.out.length = 0;
    this.#startWaiting();
    if (this.#refusal !== null && this.#streams.size === 0 && this.#failure === null) {
      // Told to go away and nothing is left in flight.
      this.#flush();
      this.#socket.end();
    }
  }

  /** Starts waiting streams as far as the server's concurrent-stream limit allows. */
  #startWaiting(): void {
    while (this.#waiting.length > 0 && this.#active < this.#peerStreamsMax && this.#refusal === null) {
      this.#start(this.#waiting.shift() as Stream);
    }
  }

  /** Ends `s` with `error` after a stream-level problem: RST_STREAM(`code`), then the sink. */
  #failStream(s: Stream, code: number, error: Error): void {
    this.#rst(s.id, code);
    this.#finish(s);
    s.sink.end(error);
  }

  /** The server ended `s` (END_STREAM): the call's outcome from its status. */
  #remoteEnd(s: Stream): void {
    if (!s.localEnded) this.#rst(s.id, H2Error.noError);
    this.#finish(s);
    let error: Error | null = null;
    if (s.grpcStatus > 0) error = new GrpcError(s.grpcStatus, s.grpcMessage, this.endpoint);
    else if (s.grpcStatus < 0) {
      error =
        s.httpStatus !== 200 && s.httpStatus !== 0
          ? new GrpcError(codeOfHttpStatus(s.httpStatus), `HTTP status ${s.httpStatus}`, this.endpoint)
          : new ConnectionError(this.endpoint, true, "stream ended without a gRPC status");
    } else if (s.parser !== null && s.parser.bufferedBytes > 0) {
      error = new GrpcError(GrpcCode.internal, "h2client: response ended inside a message", this.endpoint);
    }
    s.sink.end(error);
  }

  #sweepTimeouts(): void {
    this.#epoch++;
    const late = (s: Stream): boolean => s.timed && this.#epoch - s.epoch > sweepTicksPerTimeout;
    const timeout = (s: Stream): Error => new ClientTimeoutError(this.endpoint, this.#timeoutMs, s.path);
    for (const s of this.#streams.values()) if (late(s)) this.#failStream(s, H2Error.cancel, timeout(s));
    // Calls still waiting for the server's stream limit time out too.
    if (this.#waiting.some(late)) {
      const expired = this.#waiting.filter(late);
      this.#waiting.splice(0, this.#waiting.length, ...this.#waiting.filter((s) => !late(s)));
      for (const s of expired) {
        s.done = true;
        s.sink.end(timeout(s));
      }
    }
  }

  /** The connection is gone: every call fails, nothing new starts. */
  #die(reason: string): void {
    if (this.#failure !== null) return;
    this.#failure = reason;
    this.#refusal ??= reason;
    if (this.#sweep !== null) clearInterval(this.#sweep);
    this.#socket.destroy();
    const open = [...this.#streams.values()];
    const waiting = this.#waiting.splice(0);
    this.#streams.clear();
    this.#active = 0;
    for (const s of open) {
      s.done = true;
      s.sink.end(new ConnectionError(this.endpoint, true, reason));
    }
    for (const s of waiting) {
      s.done = true;
      s.sink.end(new ConnectionError(this.endpoint, false, reason));
    }
    this.#onSettled?.(new ConnectionError(this.endpoint, false, reason));
  }

  /** A connection error of ours: GOAWAY(`code`) and close. */
  #protocolFailure(e: ConnectionFailure): void {
    if (this.#failure !== null) return;
    this.#goaway(e.code, e.message);
    this.#socket.end();
    this.#die(`HTTP/2 connection error ${e.code}: ${e.message}`);
  }

  // -------------------------------------------------------------------------------------------
  // Reading

  #onBytes(chunk: Buffer): void {
    if (this.#failure !== null) return;
    let buf = chunk;
    if (this.#partsBytes > 0) {
      this.#parts.push(chunk);
      this.#partsBytes += chunk.length;
      if (this.#partsBytes < this.#need) return;
      buf = Buffer.concat(this.#parts, this.#partsBytes);
      this.#parts = [];
      this.#partsBytes = 0;
    }
    let pos = 0;
    try {
      while (buf.length - pos >= frameHeaderBytes) {
        const len = ((buf[pos] as number) << 16) | ((buf[pos + 1] as number) << 8) | (buf[pos + 2] as number);
        if (len > defaultMaxFrameBytes)
          throw new ConnectionFailure(H2Error.frameSize, `frame of ${len} bytes`);
        if (buf.length - pos - frameHeaderBytes < len) break;
        const type = buf[pos + 3] as number;
        const flags = buf[pos + 4] as number;
        const id = buf.readUInt32BE(pos + 5) & 0x7fffffff;
        const payload = buf.subarray(pos + frameHeaderBytes, pos + frameHeaderBytes + len);
        pos += frameHeaderBytes + len;
        this.#onFrame(type, flags, id, payload);
        if (this.#failure !== null) return;
      }
    } catch (e) {
      if (e instanceof ConnectionFailure) {
        this.#protocolFailure(e);
        return;
      }
      throw e;
    }
    if (pos < buf.length) {
      const rest = buf.subarray(pos);
      this.#parts.push(rest);
      this.#partsBytes = rest.length;
      this.#need =
        rest.length >= frameHeaderBytes
          ? frameHeaderBytes +
            (((rest[0] as number) << 16) | ((rest[1] as number) << 8) | (rest[2] as number))
          : frameHeaderBytes;
    }
  }

  #onFrame(type: number, flags: number, id: number, p: Buffer): void {
    if (this.#block !== null && type !== FrameType.continuation) {
      throw new ConnectionFailure(H2Error.protocol, `frame type ${type} inside a header block`);
    }
    switch (type) {
      case FrameType.data:
        this.#onData(flags, id, p);
        return;
      case FrameType.headers:
        this.#onHeaders(flags, id, p);
        return;
      case FrameType.continuation:
        this.#onContinuation(flags, id, p);
        return;
      case FrameType.rstStream:
        this.#onRstStream(id, p);
        return;
      case FrameType.settings:
        this.#onSettings(flags, id, p);
        return;
      case FrameType.ping:
        if (id !== 0) throw new ConnectionFailure(H2Error.protocol, "PING on a stream");
        if (p.length !== 8) throw new ConnectionFailure(H2Error.frameSize, "PING of other than 8 bytes");
        if ((flags & Flag.ack) === 0) {
          this.#frame(FrameType.ping, Flag.ack, 0, 8);
          this.#put(p);
        }
        return;
      case FrameType.goaway:
        this.#onGoaway(id, p);
        return;
      case FrameType.windowUpdate:
        this.#onWindowUpdate(id, p);
        return;
      case FrameType.pushPromise:
        throw new ConnectionFailure(H2Error.protocol, "PUSH_PROMISE with push disabled");
      default:
        // PRIORITY and unknown types are ignored (RFC 9113 §5.5).
        return;
    }
  }

  /** A stream id the server may send HEADERS or DATA on: one of ours, opened already. */
  #checkStreamId(id: number, what: string): void {
    if (id === 0 || (id & 1) === 0 || id >= this.#nextId) {
      throw new ConnectionFailure(H2Error.protocol, `${what} on stream ${id}, which we did not open`);
    }
  }

  /** The payload of a frame without its padding (and `skip` bytes after the pad length). */
  #unpad(flags: number, p: Buffer, skip: number): Buffer {
    if ((flags & Flag.padded) === 0) {
      if (p.length < skip) throw new ConnectionFailure(H2Error.frameSize, "frame too short");
      return skip === 0 ? p : p.subarray(skip);
    }
    const pad = p[0];
    if (pad === undefined || 1 + skip + pad > p.length) {
      throw new ConnectionFailure(H2Error.protocol, "padding longer than the frame");
    }
    return p.subarray(1 + skip, p.length - pad);
  }

  #onData(flags: number, id: number, p: Buffer): void {
    this.#checkStreamId(id, "DATA");
    // Flow control counts the whole payload, padding included.
    const total = p.length;
    this.#recvWindow -= total;
    if (this.#recvWindow < 0) throw new ConnectionFailure(H2Error.flowControl, "connection window overrun");
    this.#recvUnacked += total;
    if (this.#recvUnacked >= this.#recvWindowBytes / 2) {
      this.#windowUpdate(0, this.#recvUnacked);
      this.#recvWindow += this.#recvUnacked;
      this.#recvUnacked = 0;
    }
    const data = this.#unpad(flags, p, 0);
    const s = this.#streams.get(id);
    if (s === undefined) return;
    const end = (flags & Flag.endStream) !== 0;
    s.recvWindow -= total;
    if (s.recvWindow < 0) {
      this.#failStream(s, H2Error.flowControl, this.#h2Error(s, "stream window overrun"));
      return;
    }
    if (!s.headersSeen) {
      this.#failStream(s, H2Error.protocol, this.#h2Error(s, "DATA before HEADERS"));
      return;
    }
    if (data.length > 0 && !this.#deliver(s, data)) return;
    if (end) {
      this.#remoteEnd(s);
      return;
    }
    s.recvUnacked += total;
    if (s.recvUnacked >= this.#recvWindowBytes / 2) {
      this.#windowUpdate(s.id, s.recvUnacked);
      s.recvWindow += s.recvUnacked;
      s.recvUnacked = 0;
    }
  }

  #h2Error(s: Stream, what: string): GrpcError {
    return new GrpcError(GrpcCode.internal, `h2client: ${what} on stream ${s.id}`, this.endpoint);
  }

  /** Hands the gRPC messages in `data` to the sink; false if the stream failed. */
  #deliver(s: Stream, data: Buffer): boolean {
    if (s.parser === null && data.length >= 5 && data[0] === 0) {
      // The common case: the DATA frame holds exactly one whole message.
      const n = data.readUInt32BE(1);
      if (n + 5 === data.length) {
        s.sink.message(data.subarray(5));
        return !s.done;
      }
    }
    s.parser ??= new FrameParser(responseBytesMax);
    for (const ev of s.parser.push(data)) {
      if (s.done) return false;
      if (ev.type === "message") s.sink.message(ev.message);
      else {
        this.#failStream(s, H2Error.cancel, this.#h2Error(s, `unusable response message (${ev.type})`));
        return false;
      }
    }
    return !s.done;
  }

  #onHeaders(flags: number, id: number, p: Buffer): void {
    this.#checkStreamId(id, "HEADERS");
    const fragment = this.#unpad(flags, p, (flags & Flag.priority) !== 0 ? 5 : 0);
    const endStream = (flags & Flag.endStream) !== 0;
    if ((flags & Flag.endHeaders) !== 0) {
      this.#onHeaderBlock(id, fragment, endStream);
      return;
    }
    this.#block = { id, endStream, parts: [fragment], bytes: fragment.length };
  }

  #onContinuation(flags: number, id: number, p: Buffer): void {
    const b = this.#block;
    if (b === null || b.id !== id) {
      throw new ConnectionFailure(H2Error.protocol, `CONTINUATION on stream ${id} without a header block`);
    }
    b.parts.push(p);
    b.bytes += p.length;
    if (b.bytes > headerBlockBytesMax) {
      throw new ConnectionFailure(H2Error.protocol, `header block above ${headerBlockBytesMax} bytes`);
    }
    if ((flags & Flag.endHeaders) === 0) return;
    this.#block = null;
    this.#onHeaderBlock(id, Buffer.concat(b.parts, b.bytes), b.endStream);
  }

  #onHeaderBlock(id: number, block: Uint8Array, endStream: boolean): void {
    let fields: HeaderField[];
    try {
      // Every block is decoded, the stream's or not: the decoder's table depends on all of them.
      fields = this.#hpack.decode(block);
    } catch (e) {
      if (e instanceof HpackError) throw new ConnectionFailure(H2Error.compression, e.message);
      throw e;
    }
    const s = this.#streams.get(id);
    if (s === undefined) return;
    const trailers = s.headersSeen;
    s.headersSeen = true;
    for (const f of fields) {
      const n = f.name;
      if (!trailers && n.length === 7 && sameBytes(n, nameStatus)) s.httpStatus = decimal(f.value);
      else if (n.length === 11 && sameBytes(n, nameGrpcStatus)) {
        const code = decimal(f.value);
        s.grpcStatus = code < 0 ? GrpcCode.unknown : code;
      } else if (n.length === 12 && sameBytes(n, nameGrpcMessage)) s.grpcMessage = grpcMessageText(f.value);
    }
    if (endStream) this.#remoteEnd(s);
    else if (trailers) this.#failStream(s, H2Error.protocol, this.#h2Error(s, "trailers without END_STREAM"));
  }

  #onRstStream(id: number, p: Buffer): void {
    if (p.length !== 4) throw new ConnectionFailure(H2Error.frameSize, "RST_STREAM of other than 4 bytes");
    this.#checkStreamId(id, "RST_STREAM");
    const s = this.#streams.get(id);
    if (s === undefined) return;
    const code = p.readUInt32BE(0);
    this.#finish(s);
    s.sink.end(new ConnectionError(this.endpoint, true, `stream reset (HTTP/2 code ${code})`));
  }

  #onSettings(flags: number, id: number, p: Buffer): void {
    if (id !== 0) throw new ConnectionFailure(H2Error.protocol, "SETTINGS on a stream");
    if ((flags & Flag.ack) !== 0) {
      if (p.length !== 0) throw new ConnectionFailure(H2Error.frameSize, "SETTINGS ACK with a payload");
      return;
    }
    if (p.length % 6 !== 0)
      throw new ConnectionFailure(H2Error.frameSize, "SETTINGS not a multiple of 6 bytes");
    for (let i = 0; i < p.length; i += 6) {
      const v = p.readUInt32BE(i + 2);
      switch (p.readUInt16BE(i)) {
        case Setting.enablePush:
          if (v > 1) throw new ConnectionFailure(H2Error.protocol, `SETTINGS_ENABLE_PUSH ${v}`);
          break;
        case Setting.maxConcurrentStreams:
          this.#peerStreamsMax = v;
          break;
        case Setting.initialWindowSize:
          this.#setPeerInitialWindow(v);
          break;
        case Setting.maxFrameSize:
          if (v < defaultMaxFrameBytes || v > peerFrameBytesLimit) {
            throw new ConnectionFailure(H2Error.protocol, `SETTINGS_MAX_FRAME_SIZE ${v}`);
          }
          this.#peerFrameBytes = v;
          break;
        default:
          // HEADER_TABLE_SIZE: our encoder's table is 0 bytes already; others do not concern us.
          break;
      }
    }
    this.#frame(FrameType.settings, Flag.ack, 0, 0);
    this.#retryBlocked();
    this.#startWaiting();
    if (!this.#settingsSeen) {
      this.#settingsSeen = true;
      this.#onSettled?.(null);
    }
  }

  #setPeerInitialWindow(v: number): void {
    if (v > windowBytesMax)
      throw new ConnectionFailure(H2Error.flowControl, `SETTINGS_INITIAL_WINDOW_SIZE ${v}`);
    const delta = v - this.#peerInitialWindow;
    this.#peerInitialWindow = v;
    for (const s of this.#streams.values()) {
      s.sendWindow += delta;
      if (s.sendWindow > windowBytesMax) {
        throw new ConnectionFailure(H2Error.flowControl, "stream window above 2^31-1");
      }
    }
  }

  #onGoaway(id: number, p: Buffer): void {
    if (id !== 0) throw new ConnectionFailure(H2Error.protocol, "GOAWAY on a stream");
    if (p.length < 8) throw new ConnectionFailure(H2Error.frameSize, "GOAWAY shorter than 8 bytes");
    const last = p.readUInt32BE(0) & 0x7fffffff;
    const code = p.readUInt32BE(4);
    const debug = p.subarray(8).toString("latin1").slice(0, 200);
    const reason = `GOAWAY (HTTP/2 code ${code}${debug !== "" ? `: ${debug}` : ""})`;
    this.#refusal ??= reason;
    // Streams above `last` were not processed: they fail, and may be retried elsewhere.
    const unprocessed = [...this.#streams.values()].filter((s) => s.id > last);
    const waiting = this.#waiting.splice(0);
    for (const s of [...unprocessed, ...waiting]) {
      if (s.id !== 0) this.#finish(s);
      s.done = true;
      s.sink.end(new ConnectionError(this.endpoint, false, reason));
    }
    if (this.#streams.size === 0) {
      this.#flush();
      this.#socket.end();
    }
  }

  #onWindowUpdate(id: number, p: Buffer): void {
    if (p.length !== 4) throw new ConnectionFailure(H2Error.frameSize, "WINDOW_UPDATE of other than 4 bytes");
    const inc = p.readUInt32BE(0) & 0x7fffffff;
    if (id === 0) {
      if (inc === 0) throw new ConnectionFailure(H2Error.protocol, "WINDOW_UPDATE of 0");
      this.#sendWindow += inc;
      if (this.#sendWindow > windowBytesMax) {
        throw new ConnectionFailure(H2Error.flowControl, "connection window above 2^31-1");
      }
      this.#retryBlocked();
      return;
    }
    this.#checkStreamId(id, "WINDOW_UPDATE");
    const s = this.#streams.get(id);
    if (s === undefined) return;
    if (inc === 0) {
      this.#failStream(s, H2Error.protocol, this.#h2Error(s, "WINDOW_UPDATE of 0"));
      return;
    }
    s.sendWindow += inc;
    if (s.sendWindow > windowBytesMax) {
      this.#failStream(s, H2Error.flowControl, this.#h2Error(s, "stream window above 2^31-1"));
      return;
    }
    this.#pump(s);
  }

  // -------------------------------------------------------------------------------------------
  // Writing: frames gather in #outBuf[#outStart, #outEnd) and go out in one write per turn.

  #writePreface(): void {
    this.#reserve(http2Preface.length);
    this.#put(http2Preface);
    // SETTINGS: ENABLE_PUSH 0, INITIAL_WINDOW_SIZE; then the connection window to match.
    this.#frame(FrameType.settings, 0, 0, 12);
    const b = this.#outBuf;
    let at = this.#outEnd;
    b.writeUInt16BE(Setting.enablePush, at);
    b.writeUInt32BE(0, at + 2);
    b.writeUInt16BE(Setting.initialWindowSize, at + 6);
    b.writeUInt32BE(this.#recvWindowBytes, at + 8);
    at += 12;
    this.#outEnd = at;
    if (this.#recvWindowBytes > defaultWindowBytes) {
      this.#windowUpdate(0, this.#recvWindowBytes - defaultWindowBytes);
    }
  }

  /** Makes room for `n` more bytes after #outEnd. */
  #reserve(n: number): void {
    if (this.#outEnd + n <= this.#outBuf.length) return;
    // Bytes already handed to the socket stay where they are (the socket may still hold them).
    const pending = this.#outEnd - this.#outStart;
    const next = Buffer.allocUnsafe(Math.max(outBufferBytes, pending + n));
    this.#outBuf.copy(next, 0, this.#outStart, this.#outEnd);
    this.#outBuf = next;
    this.#outStart = 0;
    this.#outEnd = pending;
  }

  /** Writes a frame header and reserves room for its `len`-byte payload (which the caller puts). */
  #frame(type: number, flags: number, id: number, len: number): void {
    this.#reserve(frameHeaderBytes + len);
    const b = this.#outBuf;
    const at = this.#outEnd;
    b[at] = (len >>> 16) & 0xff;
    b[at + 1] = (len >>> 8) & 0xff;
    b[at + 2] = len & 0xff;
    b[at + 3] = type;
    b[at + 4] = flags;
    b.writeUInt32BE(id, at + 5);
    this.#outEnd = at + frameHeaderBytes;
    if (!this.#flushScheduled && this.#failure === null) {
      this.#flushScheduled = true;
      setImmediate(this.#flushSoon);
    }
  }

  /** Copies `bytes` into the reserved payload room. */
  #put(bytes: Uint8Array): void {
    this.#outBuf.set(bytes, this.#outEnd);
    this.#outEnd += bytes.length;
  }

  #windowUpdate(id: number, inc: number): void {
    this.#frame(FrameType.windowUpdate, 0, id, 4);
    this.#outBuf.writeUInt32BE(inc, this.#outEnd);
    this.#outEnd += 4;
  }

  /**
   * Writes GOAWAY(`code`) and flushes at once. The last stream id is 0: a server opens no streams
   * for us to have processed.
   */
  #goaway(code: number, debugText: string): void {
    const debug = ascii(debugText.slice(0, 200));
    this.#frame(FrameType.goaway, 0, 0, 8 + debug.length);
    this.#outBuf.writeUInt32BE(0, this.#outEnd);
    this.#outBuf.writeUInt32BE(code, this.#outEnd + 4);
    this.#outEnd += 8;
    this.#put(debug);
    this.#flush();
  }

  #rst(id: number, code: number): void {
    this.#frame(FrameType.rstStream, 0, id, 4);
    this.#outBuf.writeUInt32BE(code, this.#outEnd);
    this.#outEnd += 4;
  }

  readonly #flushSoon = (): void => {
    this.#flushScheduled = false;
    this.#flush();
  };

  #flush(): void {
    if (this.#outEnd === this.#outStart || this.#failure !== null) return;
    this.#socket.write(this.#outBuf.subarray(this.#outStart, this.#outEnd));
    this.#outStart = this.#outEnd;
  }
}

/** A bidirectional-streaming call. Build with {@link H2Connection.stream}. */
export class BidiCall {
  readonly #conn: H2Connection;
  readonly #stream: Stream;

  constructor(conn: H2Connection, stream: Stream) {
    this.#conn = conn;
    this.#stream = stream;
  }

  /** Whether the call has ended (its `onEnd` was called). */
  get ended(): boolean {
    return this.#stream.done;
  }

  /** Sends one framed message (not to be modified afterwards); false when the call has ended or half-closed. */
  send(framed: Uint8Array): boolean {
    return this.#conn.send(this.#stream, framed, false);
  }

  /** Half-closes: no more messages; the server ends the call. */
  end(): void {
    this.#conn.send(this.#stream, null, true);
  }

  /** Cancels the call (RST_STREAM CANCEL); `onEnd(null)` follows at once. */
  cancel(): void {
    this.#conn.cancel(this.#stream);
  }
}
