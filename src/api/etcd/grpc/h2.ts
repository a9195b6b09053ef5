/**
 * The server side of HTTP/2 (RFC 9113), as much as gRPC needs, written on the socket: frames,
 * HPACK header blocks (decoded with {@link HpackDecoder}; written as literals), stream states,
 * flow control both ways, SETTINGS/PING/GOAWAY/RST_STREAM, and write batching — every frame
 * queued while one event is handled goes to the socket in one write. node:http2 made a stream
 * object, an event emitter and several native calls per request; here a request costs a few
 * small objects, which is the difference between a member that answers 20,000 and one that
 * answers 40,000 requests a second on one core.
 *
 * Every client authority is accepted as is (etcdctl 3.4 sends `http://host:port`, which
 * node:http2 refused). Push, priority and server-initiated streams are not used.
 */
import type { Duplex } from "node:stream";
import { type DecodedField, HpackDecoder, HpackError } from "./hpack.js";

/** The client connection preface (RFC 9113 §3.4). */
export const http2Preface: Uint8Array = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** Frame types (RFC 9113 §6). */
export const FrameType = {
  data: 0x0,
  headers: 0x1,
  priority: 0x2,
  rstStream: 0x3,
  settings: 0x4,
  pushPromise: 0x5,
  ping: 0x6,
  goaway: 0x7,
  windowUpdate: 0x8,
  continuation: 0x9,
} as const;

/** Frame flags. */
export const Flag = { endStream: 0x1, ack: 0x1, endHeaders: 0x4, padded: 0x8, priority: 0x20 } as const;

/** Error codes (RFC 9113 §7). */
export const H2Error = {
  noError: 0x0,
  protocol: 0x1,
  internal: 0x2,
  flowControl: 0x3,
  streamClosed: 0x5,
  frameSize: 0x6,
  refusedStream: 0x7,
  cancel: 0x8,
  compression: 0x9,
  enhanceYourCalm: 0xb,
} as const;

/** Setting identifiers (RFC 9113 §6.5.2). */
export const Setting = {
  headerTableSize: 0x1,
  enablePush: 0x2,
  maxConcurrentStreams: 0x3,
  initialWindowSize: 0x4,
  maxFrameSize: 0x5,
  maxHeaderListSize: 0x6,
} as const;

/** Bytes in a frame header. */
export const frameHeaderBytes = 9;
/** The protocol's default and smallest SETTINGS_MAX_FRAME_SIZE; this server announces it. */
export const defaultMaxFrameBytes = 16_384;
/** The flow-control window every stream and connection starts with. */
export const defaultWindowBytes = 65_535;
/** Largest flow-control window. */
export const windowBytesMax = 2 ** 31 - 1;
/** The stream receive window this server announces (SETTINGS_INITIAL_WINDOW_SIZE). */
export const streamWindowBytes = 1024 * 1024;
/** The connection receive window this server opens at the start (one WINDOW_UPDATE). */
export const connectionWindowBytes = 16 * 1024 * 1024;
/** Streams a client may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS; etcd: no limit). */
export const concurrentStreamsMax = 2 ** 31 - 1;
/** Largest header block (HEADERS plus CONTINUATION payloads) accepted; above it the connection fails. */
export const headerBlockBytesMax = 256 * 1024;
/** Response bytes queued for a stream (flow control or socket) before its writer is asked to wait. */
export const streamQueuedBytesHigh = 256 * 1024;
/** Bytes queued on the socket above which the connection stops reading requests until it drains. */
export const socketQueuedBytesHigh = 8 * 1024 * 1024;
/** Bytes of the output slabs that small frames are copied into. */
export const slabBytes = 64 * 1024;
/** Payload pieces of this size or more are written by reference instead of copied. */
export const byReferenceBytes = 8 * 1024;
/** Header fields a request may have. */
export const headerFieldsMax = 256;

/** A connection error: GOAWAY with `code`, then the connection closes. */
export class H2ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** A frame: 9-byte header then payload, as one array. */
export function encodeFrame(type: number, flags: number, streamId: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(frameHeaderBytes + payload.length);
  writeFrameHeader(out, payload.length, type, flags, streamId);
  out.set(payload, frameHeaderBytes);
  return out;
}

function writeFrameHeader(
  out: Uint8Array,
  length: number,
  type: number,
  flags: number,
  streamId: number,
): void {
  out[0] = (length >>> 16) & 0xff;
  out[1] = (length >>> 8) & 0xff;
  out[2] = length & 0xff;
  out[3] = type;
  out[4] = flags;
  out[5] = (streamId >>> 24) & 0x7f;
  out[6] = (streamId >>> 16) & 0xff;
  out[7] = (streamId >>> 8) & 0xff;
  out[8] = streamId & 0xff;
}

function u32(b: Uint8Array, at: number): number {
  return (
    (((b[at] as number) << 24) >>> 0) +
    ((b[at + 1] as number) << 16) +
    ((b[at + 2] as number) << 8) +
    (b[at + 3] as number)
  );
}

function putU32(out: Uint8Array, at: number, v: number): void {
  out[at] = (v >>> 24) & 0xff;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}

/** A GOAWAY frame. */
export function goawayFrame(lastStreamId: number, code: number, debug = ""): Uint8Array {
  const text = new TextEncoder().encode(debug);
  const payload = new Uint8Array(8 + text.length);
  putU32(payload, 0, lastStreamId & 0x7fffffff);
  putU32(payload, 4, code);
  payload.set(text, 8);
  return encodeFrame(FrameType.goaway, 0, 0, payload);
}

/** The SETTINGS payload this server sends first. */
export function serverSettingsPayload(): Uint8Array {
  const entries: [number, number][] = [
    [Setting.maxConcurrentStreams, concurrentStreamsMax],
    [Setting.initialWindowSize, streamWindowBytes],
    [Setting.enablePush, 0],
  ];
  const out = new Uint8Array(entries.length * 6);
  entries.forEach(([id, value], i) => {
    out[i * 6] = id >>> 8;
    out[i * 6 + 1] = id & 0xff;
    putU32(out, i * 6 + 2, value);
  });
  return out;
}

const settingsPayload = serverSettingsPayload();
/** A request's header fields: pseudo-headers apart, the rest as metadata with lower-case names. */
export interface RequestHeaders {
  readonly method: string;
  readonly path: string;
  /** Regular fields; a repeated name's values joined with ", ". */
  readonly fields: Record<string, string>;
}

/** What a connection asks of its owner. */
export interface H2Handler {
  /** A new request stream with its headers. */
  onStream(stream: H2Stream, headers: RequestHeaders): void;
}

/** Stream states as this server sees them (RFC 9113 §5.1, server side). */
type StreamState = "open" | "halfClosedRemote" | "closed";

/**
 * One request stream. Inbound: {@link onData} per DATA payload, {@link onEnd} at the client's
 * END_STREAM, {@link onClose} once the stream is closed by anything (ours or the client's end,
 * a reset, the connection). Outbound: {@link respond}, {@link write} (false: wait for
 * {@link onDrain}), {@link end} with trailers, or {@link respondAndEnd} for a headers-only answer.
 */
export class H2Stream {
  onData: ((chunk: Uint8Array) => void) | null = null;
  onEnd: (() => void) | null = null;
  onClose: (() => void) | null = null;
  onDrain: (() => void) | null = null;
  /** @internal */ state: StreamState = "open";
  /** @internal */ recvWindow = streamWindowBytes;
  /** @internal credit consumed but not yet given back with WINDOW_UPDATE. */
  recvCredit = 0;
  /** @internal */ sendWindow: number;
  /** @internal DATA waiting for flow-control window. */
  readonly pending: Uint8Array[] = [];
  /** @internal */ pendingBytes = 0;
  /** @internal offset into pending[0] already sent. */
  pendingOffset = 0;
  /** @internal trailers to send once `pending` is empty. */
  trailers: Uint8Array | null = null;
  #paused = false;
  #localEnded = false;

  constructor(
    readonly id: number,
    readonly connection: H2Connection,
    sendWindow: number,
  ) {
    this.sendWindow = sendWindow;
  }

  /** Whether the stream is closed (no more frames either way). */
  get closed(): boolean {
    return this.state === "closed";
  }

  /** Stops giving the client send credit for this stream (its requests are not being taken). */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.connection.giveStreamCredit(this);
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Sends the response headers (an encoded header block). */
  respond(block: Uint8Array): void {
    if (this.state === "closed" || this.#localEnded) return;
    this.connection.sendHeaders(this.id, block, false);
  }

  /**
   * Queues response bytes as DATA; false when the stream or socket has enough queued that the
   * writer should wait for {@link onDrain}.
   */
  write(data: Uint8Array): boolean {
    if (this.state === "closed" || this.#localEnded) return true;
    this.pending.push(data);
    this.pendingBytes += data.length;
    return this.#pumped();
  }

  /**
   * Queues one gRPC message (uncompressed) as DATA: its 5-byte length prefix, then `message`
   * itself, without copying it into a framed buffer first. Returns as {@link write}.
   */
  writeMessage(message: Uint8Array): boolean {
    if (this.state === "closed" || this.#localEnded) return true;
    const n = message.length;
    this.pending.push(
      Uint8Array.of(0, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff),
      message,
    );
    this.pendingBytes += 5 + n;
    return this.#pumped();
  }

  #pumped(): boolean {
    this.connection.pump(this);
    const ok = this.pendingBytes < streamQueuedBytesHigh && !this.connection.congested;
    if (!ok) this.connection.wantsDrain(this);
    return ok;
  }

  /** Ends the response with a trailer block after every queued DATA. */
  end(trailers: Uint8Array): void {
    if (this.state === "closed" || this.#localEnded) return;
    this.#localEnded = true;
    this.trailers = trailers;
    this.connection.pump(this);
  }

  /** Answers with one header block that also ends the stream (a trailers-only response). */
  respondAndEnd(block: Uint8Array): void {
    if (this.state === "closed" || this.#localEnded) return;
    this.#localEnded = true;
    this.connection.sendHeaders(this.id, block, true);
    this.connection.localEndSent(this);
  }

  /** Resets the stream with `code` (RST_STREAM). */
  reset(code: number): void {
    if (this.state === "closed") return;
    this.connection.resetStream(this, code);
  }
}

/**
 * One HTTP/2 connection, server side, over `socket`. `head` holds the bytes already read from
 * the socket (they start with the client preface).
 */
export class H2Connection {
  readonly #socket: Duplex;
  readonly #handler: H2Handler;
  readonly #decoder = new HpackDecoder(4096);
  readonly #streams = new Map<number, H2Stream>();
  /** Streams with DATA waiting for connection window, in arrival order. */
  readonly #blocked = new Set<H2Stream>();
  /** Streams whose writer waits for {@link H2Stream.onDrain}. */
  readonly #drainWanted = new Set<H2Stream>();
  #in: Uint8Array | null = null;
  #prefaceSeen = false;
  #settingsSeen = false;
  #lastStreamId = 0;
  /** A header block being continued: its stream, flags and fragments. */
  #continuing: { streamId: number; endStream: boolean; parts: Uint8Array[]; bytes: number } | null = null;
  // Receive flow control.
  #recvWindow = connectionWindowBytes;
  #recvCredit = 0;
  // Send flow control and the peer's settings.
  #sendWindow = defaultWindowBytes;
  #peerInitialWindow = defaultWindowBytes;
  #peerMaxFrame = defaultMaxFrameBytes;
  /** A dynamic table size update owed at the start of the next header block we send, or -1. */
  #tableSizeUpdate = -1;
  // Output: frames are written into a slab, handed to the socket a segment per flush; payloads
  // of {@link byReferenceBytes} or more go by reference, in order, between segments.
  #slab: Uint8Array = new Uint8Array(0);
  #pos = 0;
  #start = 0;
  #pieces: Uint8Array[] = [];
  #outBytes = 0;
  #flushQueued = false;
  #readPaused = false;
  #goingAway = false;
  #closed = false;
  /** Resolves when the connection has closed. */
  readonly closedPromise: Promise<void>;
  #resolveClosed: () => void = () => {};

  constructor(socket: Duplex, head: Uint8Array, handler: H2Handler) {
    this.#socket = socket;
    this.#handler = handler;
    this.closedPromise = new Promise((r) => {
      this.#resolveClosed = r;
    });
    this.#emit(FrameType.settings, 0, 0, settingsPayload);
    this.#frameU32(FrameType.windowUpdate, 0, connectionWindowBytes - defaultWindowBytes);
    socket.on("data", (chunk: Uint8Array) => this.#receive(chunk));
    socket.on("drain", () => this.#onSocketDrain());
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.#onSocketClose());
    socket.on("end", () => {
      // The client closed its side: nothing more will arrive; finish what is queued and close.
      this.#flush();
      socket.end();
    });
    if (head.length > 0) this.#receive(head);
    socket.resume();
  }

  /** Whether the socket has so much queued that writers should wait. */
  get congested(): boolean {
    return this.#outBytes + this.#socket.writableLength >= socketQueuedBytesHigh;
  }

  /**
   * Graceful close: GOAWAY(NO_ERROR) with the last stream id seen; new streams are refused;
   * the socket closes once the open streams are done.
   */
  goAway(): void {
    if (this.#closed || this.#goingAway) return;
    this.#goingAway = true;
    this.#append(goawayFrame(this.#lastStreamId, H2Error.noError));
    this.#flush();
    if (this.#streams.size === 0) this.#socket.end();
  }

  /** Closes the socket at once; open streams close. */
  destroy(): void {
    this.#socket.destroy();
    this.#onSocketClose();
  }

  // ---- output ----

  /** Marks output pending and schedules one flush for this tick. */
  #pending(): void {
    if (!this.#flushQueued) {
      this.#flushQueued = true;
      process.nextTick(() => this.#flush());
    }
  }

  /** Makes room for `n` contiguous bytes at the slab's end (a new slab if needed). */
  #reserve(n: number): void {
    if (this.#slab.length - this.#pos >= n) return;
    this.#cut();
    this.#slab = new Uint8Array(Math.max(slabBytes, n));
    this.#pos = 0;
    this.#start = 0;
  }

  /** Ends the slab's current segment: its bytes become the next piece to write. */
  #cut(): void {
    if (this.#pos > this.#start) {
      this.#pieces.push(this.#slab.subarray(this.#start, this.#pos));
      this.#start = this.#pos;
    }
  }

  /** Appends bytes: small ones copied into the slab, big ones written by reference. */
  #append(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.#outBytes += bytes.length;
    this.#pending();
    if (bytes.length >= byReferenceBytes) {
      this.#cut();
      this.#pieces.push(bytes);
      return;
    }
    this.#reserve(bytes.length);
    this.#slab.set(bytes, this.#pos);
    this.#pos += bytes.length;
  }

  /** Appends a frame header. */
  #header(length: number, type: number, flags: number, streamId: number): void {
    this.#reserve(frameHeaderBytes);
    const b = this.#slab;
    const at = this.#pos;
    b[at] = (length >>> 16) & 0xff;
    b[at + 1] = (length >>> 8) & 0xff;
    b[at + 2] = length & 0xff;
    b[at + 3] = type;
    b[at + 4] = flags;
    b[at + 5] = (streamId >>> 24) & 0x7f;
    b[at + 6] = (streamId >>> 16) & 0xff;
    b[at + 7] = (streamId >>> 8) & 0xff;
    b[at + 8] = streamId & 0xff;
    this.#pos += frameHeaderBytes;
    this.#outBytes += frameHeaderBytes;
    this.#pending();
  }

  /** Appends a whole frame. */
  #emit(type: number, flags: number, streamId: number, payload: Uint8Array): void {
    this.#header(payload.length, type, flags, streamId);
    this.#append(payload);
  }

  /** Appends a frame whose payload is one 32-bit value (RST_STREAM, WINDOW_UPDATE). */
  #frameU32(type: number, streamId: number, value: number): void {
    this.#header(4, type, 0, streamId);
    this.#reserve(4);
    putU32(this.#slab, this.#pos, value);
    this.#pos += 4;
    this.#outBytes += 4;
  }

  #flush(): void {
    this.#flushQueued = false;
    this.#cut();
    const out = this.#pieces;
    this.#pieces = [];
    this.#outBytes = 0;
    if (out.length === 0 || this.#closed) return;
    const s = this.#socket;
    if (s.destroyed || !s.writable) return;
    if (out.length === 1) s.write(out[0] as Uint8Array);
    else {
      s.cork();
      for (const b of out) s.write(b);
      s.uncork();
    }
    if (!this.#readPaused && s.writableLength >= socketQueuedBytesHigh) {
      this.#readPaused = true;
      s.pause();
    }
    // Writers told to wait because this flush's bytes were still queued here may go on now.
    if (this.#drainWanted.size > 0) this.#notifyDrains();
  }

  /** @internal `st`'s writer waits for its onDrain. */
  wantsDrain(st: H2Stream): void {
    this.#drainWanted.add(st);
  }

  #onSocketDrain(): void {
    if (this.#readPaused) {
      this.#readPaused = false;
      this.#socket.resume();
    }
    this.#notifyDrains();
  }

  #notifyDrains(): void {
    if (this.congested) return;
    for (const st of this.#drainWanted) {
      if (st.pendingBytes < streamQueuedBytesHigh) {
        this.#drainWanted.delete(st);
        st.onDrain?.();
      }
    }
  }

  /** @internal Sends a header block on `streamId` (split into CONTINUATION frames as needed). */
  sendHeaders(streamId: number, block: Uint8Array, endStream: boolean): void {
    let b = block;
    if (this.#tableSizeUpdate >= 0) {
      const prefix = tableSizeUpdate(this.#tableSizeUpdate);
      this.#tableSizeUpdate = -1;
      const joined = new Uint8Array(prefix.length + block.length);
      joined.set(prefix);
      joined.set(block, prefix.length);
      b = joined;
    }
    const max = this.#peerMaxFrame;
    const es = endStream ? Flag.endStream : 0;
    if (b.length <= max) {
      this.#emit(FrameType.headers, es | Flag.endHeaders, streamId, b);
      return;
    }
    for (let at = 0; at < b.length; at += max) {
      const part = b.subarray(at, Math.min(b.length, at + max));
      const last = at + max >= b.length;
      const type = at === 0 ? FrameType.headers : FrameType.continuation;
      this.#emit(type, (at === 0 ? es : 0) | (last ? Flag.endHeaders : 0), streamId, part);
    }
  }

  /** @internal Sends as much of the stream's queued DATA as the windows allow, then its trailers. */
  pump(st: H2Stream): void {
    if (st.state === "closed") return;
    while (st.pendingBytes > 0) {
      const room = Math.min(st.sendWindow, this.#sendWindow, this.#peerMaxFrame);
      if (room <= 0) {
        if (this.#sendWindow <= 0 && st.sendWindow > 0) this.#blocked.add(st);
        return;
      }
      // One DATA frame of `n` bytes, taken from as many queued chunks as it spans.
      const n = Math.min(room, st.pendingBytes);
      this.#header(n, FrameType.data, 0, st.id);
      let want = n;
      while (want > 0) {
        const head = st.pending[0] as Uint8Array;
        const take = Math.min(want, head.length - st.pendingOffset);
        this.#append(take === head.length ? head : head.subarray(st.pendingOffset, st.pendingOffset + take));
        want -= take;
        if (st.pendingOffset + take === head.length) {
          st.pending.shift();
          st.pendingOffset = 0;
        } else st.pendingOffset += take;
      }
      st.sendWindow -= n;
      this.#sendWindow -= n;
      st.pendingBytes -= n;
    }
    this.#blocked.delete(st);
    if (this.#drainWanted.has(st) && !this.congested) {
      this.#drainWanted.delete(st);
      st.onDrain?.();
    }
    if (st.trailers !== null) {
      const t = st.trailers;
      st.trailers = null;
      this.sendHeaders(st.id, t, true);
      this.localEndSent(st);
    }
  }

  /** @internal The server's END_STREAM went out on `st`. */
  localEndSent(st: H2Stream): void {
    if (st.state === "halfClosedRemote") {
      this.#closeStream(st);
      return;
    }
    // The client is still sending: ask it to stop, without an error (RFC 9113 §8.1).
    this.#frameU32(FrameType.rstStream, st.id, H2Error.noError);
    this.#closeStream(st);
  }

  /** @internal */
  resetStream(st: H2Stream, code: number): void {
    this.#frameU32(FrameType.rstStream, st.id, code);
    this.#closeStream(st);
  }

  /** @internal Returns receive credit to a resumed stream. */
  giveStreamCredit(st: H2Stream): void {
    if (st.state !== "open" || st.paused || st.recvCredit === 0) return;
    if (st.recvCredit < streamWindowBytes / 4 && st.recvWindow > streamWindowBytes / 2) return;
    const credit = st.recvCredit;
    st.recvCredit = 0;
    st.recvWindow += credit;
    this.#frameU32(FrameType.windowUpdate, st.id, credit);
  }

  #closeStream(st: H2Stream): void {
    if (st.state === "closed") return;
    st.state = "closed";
    st.pending.length = 0;
    st.pendingBytes = 0;
    st.trailers = null;
    this.#streams.delete(st.id);
    this.#blocked.delete(st);
    this.#drainWanted.delete(st);
    st.onClose?.();
    if (this.#goingAway && this.#streams.size === 0) {
      this.#flush();
      this.#socket.end();
    }
  }

  #onSocketClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#pieces = [];
    this.#outBytes = 0;
    for (const st of [...this.#streams.values()]) this.#closeStream(st);
    this.#resolveClosed();
  }

  /** A connection error: GOAWAY with the code, then close. */
  #fail(code: number, message: string): void {
    if (this.#closed) return;
    this.#append(goawayFrame(this.#lastStreamId, code, message));
    this.#flush();
    this.#closed = true;
    for (const st of [...this.#streams.values()]) this.#closeStream(st);
    this.#socket.end();
    const s = this.#socket;
    setTimeout(() => s.destroy(), 1000).unref();
    this.#resolveClosed();
  }

  // ---- input ----

  #receive(chunk: Uint8Array): void {
    if (this.#closed) return;
    let buf: Uint8Array;
    // A plain view: subarrays of a Buffer are Buffers, whose construction costs several times more.
    if (this.#in === null) buf = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length);
    else {
      buf = new Uint8Array(this.#in.length + chunk.length);
      buf.set(this.#in);
      buf.set(chunk, this.#in.length);
      this.#in = null;
    }
    let at = 0;
    try {
      if (!this.#prefaceSeen) {
        if (buf.length < http2Preface.length) {
          this.#in = buf;
          return;
        }
        for (let i = 0; i < http2Preface.length; i++) {
          if (buf[i] !== http2Preface[i])
            throw new H2ConnectionError(H2Error.protocol, "bad connection preface");
        }
        this.#prefaceSeen = true;
        at = http2Preface.length;
      }
      while (!this.#closed && buf.length - at >= frameHeaderBytes) {
        const length = ((buf[at] as number) << 16) | ((buf[at + 1] as number) << 8) | (buf[at + 2] as number);
        if (length > defaultMaxFrameBytes) {
          throw new H2ConnectionError(
            H2Error.frameSize,
            `frame of ${length} bytes exceeds SETTINGS_MAX_FRAME_SIZE`,
          );
        }
        if (buf.length - at < frameHeaderBytes + length) break;
        const type = buf[at + 3] as number;
        const flags = buf[at + 4] as number;
        const streamId = u32(buf, at + 5) & 0x7fffffff;
        const payload = buf.subarray(at + frameHeaderBytes, at + frameHeaderBytes + length);
        at += frameHeaderBytes + length;
        this.#frame(type, flags, streamId, payload);
      }
    } catch (e) {
      if (e instanceof H2ConnectionError) {
        this.#fail(e.code, e.message);
        return;
      }
      if (e instanceof HpackError) {
        this.#fail(H2Error.compression, `header block: ${e.message}`);
        return;
      }
      throw e;
    }
    if (at < buf.length && !this.#closed) this.#in = buf.slice(at);
  }

  #frame(type: number, flags: number, streamId: number, payload: Uint8Array): void {
    if (!this.#settingsSeen) {
      if (type !== FrameType.settings || (flags & Flag.ack) !== 0) {
        throw new H2ConnectionError(H2Error.protocol, "the first frame was not SETTINGS");
      }
      this.#settingsSeen = true;
    }
    if (this.#continuing !== null && type !== FrameType.continuation) {
      throw new H2ConnectionError(H2Error.protocol, "expected CONTINUATION");
    }
    switch (type) {
      case FrameType.data:
        this.#data(flags, streamId, payload);
        return;
      case FrameType.headers:
        this.#headers(flags, streamId, payload);
        return;
      case FrameType.continuation:
        this.#continuation(flags, streamId, payload);
        return;
      case FrameType.priority:
        if (streamId === 0) throw new H2ConnectionError(H2Error.protocol, "PRIORITY on stream 0");
        if (payload.length !== 5) this.#streamError(streamId, H2Error.frameSize);
        return;
      case FrameType.rstStream:
        this.#rst(streamId, payload);
        return;
      case FrameType.settings:
        this.#settings(flags, streamId, payload);
        return;
      case FrameType.pushPromise:
        throw new H2ConnectionError(H2Error.protocol, "a client may not send PUSH_PROMISE");
      case FrameType.ping:
        if (streamId !== 0) throw new H2ConnectionError(H2Error.protocol, "PING on a stream");
        if (payload.length !== 8)
          throw new H2ConnectionError(H2Error.frameSize, "PING payload is not 8 bytes");
        if ((flags & Flag.ack) === 0) {
          this.#emit(FrameType.ping, Flag.ack, 0, payload);
          this.#flush();
        }
        return;
      case FrameType.goaway:
        if (streamId !== 0) throw new H2ConnectionError(H2Error.protocol, "GOAWAY on a stream");
        if (payload.length < 8) throw new H2ConnectionError(H2Error.frameSize, "GOAWAY payload too short");
        // The client is leaving: no new streams will come; open ones finish.
        this.#goingAway = true;
        if (this.#streams.size === 0) {
          this.#flush();
          this.#socket.end();
        }
        return;
      case FrameType.windowUpdate:
        this.#windowUpdate(streamId, payload);
        return;
      default:
        // Unknown frame types are ignored (RFC 9113 §4.1).
        return;
    }
  }

  #streamError(streamId: number, code: number): void {
    const st = this.#streams.get(streamId);
    if (st !== undefined) this.resetStream(st, code);
    else this.#frameU32(FrameType.rstStream, streamId, code);
  }

  #data(flags: number, streamId: number, payload: Uint8Array): void {
    if (streamId === 0) throw new H2ConnectionError(H2Error.protocol, "DATA on stream 0");
    // Flow control counts the whole payload, padding included.
    this.#recvWindow -= payload.length;
    if (this.#recvWindow < 0) throw new H2ConnectionError(H2Error.flowControl, "connection window exceeded");
    this.#recvCredit += payload.length;
    if (this.#recvCredit >= connectionWindowBytes / 4) {
      this.#recvWindow += this.#recvCredit;
      this.#frameU32(FrameType.windowUpdate, 0, this.#recvCredit);
      this.#recvCredit = 0;
    }
    const data = unpad(flags, payload);
    const st = this.#streams.get(streamId);
    if (st === undefined) {
      if (streamId > this.#lastStreamId)
        throw new H2ConnectionError(H2Error.protocol, "DATA on an idle stream");
      // A stream this server already closed (reset, or answered in full): ignored.
      return;
    }
    if (st.state !== "open") {
      this.resetStream(st, H2Error.streamClosed);
      return;
    }
    st.recvWindow -= payload.length;
    if (st.recvWindow < 0) {
      this.resetStream(st, H2Error.flowControl);
      return;
    }
    st.recvCredit += payload.length;
    if (data.length > 0) st.onData?.(data);
    if ((flags & Flag.endStream) !== 0) {
      this.#remoteEnd(st);
      return;
    }
    if (st.state === "open" && !st.paused && st.recvCredit >= streamWindowBytes / 4)
      this.giveStreamCredit(st);
  }

  #remoteEnd(st: H2Stream): void {
    if (st.state !== "open") return;
    st.state = "halfClosedRemote";
    st.onEnd?.();
  }

  #headers(flags: number, streamId: number, payload: Uint8Array): void {
    if (streamId === 0) throw new H2ConnectionError(H2Error.protocol, "HEADERS on stream 0");
    let block = unpad(flags, payload);
    if ((flags & Flag.priority) !== 0) {
      if (block.length < 5)
        throw new H2ConnectionError(H2Error.frameSize, "HEADERS priority fields truncated");
      block = block.subarray(5);
    }
    const endStream = (flags & Flag.endStream) !== 0;
    if ((flags & Flag.endHeaders) === 0) {
      this.#continuing = { streamId, endStream, parts: [block], bytes: block.length };
      return;
    }
    this.#headerBlock(streamId, endStream, block);
  }

  #continuation(flags: number, streamId: number, payload: Uint8Array): void {
    const c = this.#continuing;
    if (c === null || c.streamId !== streamId) {
      throw new H2ConnectionError(H2Error.protocol, "CONTINUATION without HEADERS");
    }
    c.parts.push(payload);
    c.bytes += payload.length;
    if (c.bytes > headerBlockBytesMax) {
      throw new H2ConnectionError(H2Error.enhanceYourCalm, `header block over ${headerBlockBytesMax} bytes`);
    }
    if ((flags & Flag.endHeaders) === 0) return;
    this.#continuing = null;
    const block = new Uint8Array(c.bytes);
    let at = 0;
    for (const p of c.parts) {
      block.set(p, at);
      at += p.length;
    }
    this.#headerBlock(streamId, c.endStream, block);
  }

  #headerBlock(streamId: number, endStream: boolean, block: Uint8Array): void {
    // Decoded whatever happens next: the HPACK context must stay in step with the client's.
    const fields = this.#decoder.decode(block);
    const existing = this.#streams.get(streamId);
    if (existing !== undefined) {
      // Trailers from the client: they must end the stream.
      if (!endStream) {
        this.resetStream(existing, H2Error.protocol);
        return;
      }
      this.#remoteEnd(existing);
      return;
    }
    if (streamId <= this.#lastStreamId) {
      // A stream already closed here (trailers racing a reset): ignored.
      return;
    }
    if ((streamId & 1) === 0) throw new H2ConnectionError(H2Error.protocol, "a client stream id must be odd");
    this.#lastStreamId = streamId;
    if (this.#goingAway) {
      this.#frameU32(FrameType.rstStream, streamId, H2Error.refusedStream);
      return;
    }
    const headers = requestHeaders(fields);
    if (headers === null) {
      this.#frameU32(FrameType.rstStream, streamId, H2Error.protocol);
      return;
    }
    const st = new H2Stream(streamId, this, this.#peerInitialWindow);
    this.#streams.set(streamId, st);
    this.#handler.onStream(st, headers);
    if (endStream) this.#remoteEnd(st);
  }

  #rst(streamId: number, payload: Uint8Array): void {
    if (streamId === 0) throw new H2ConnectionError(H2Error.protocol, "RST_STREAM on stream 0");
    if (payload.length !== 4)
      throw new H2ConnectionError(H2Error.frameSize, "RST_STREAM payload is not 4 bytes");
    if (streamId > this.#lastStreamId)
      throw new H2ConnectionError(H2Error.protocol, "RST_STREAM on an idle stream");
    const st = this.#streams.get(streamId);
    if (st !== undefined) this.#closeStream(st);
  }

  #settings(flags: number, streamId: number, payload: Uint8Array): void {
    if (streamId !== 0) throw new H2ConnectionError(H2Error.protocol, "SETTINGS on a stream");
    if ((flags & Flag.ack) !== 0) {
      if (payload.length !== 0) throw new H2ConnectionError(H2Error.frameSize, "SETTINGS ACK with a payload");
      return;
    }
    if (payload.length % 6 !== 0)
      throw new H2ConnectionError(H2Error.frameSize, "SETTINGS payload not a multiple of 6");
    for (let i = 0; i < payload.length; i += 6) {
      const id = ((payload[i] as number) << 8) | (payload[i + 1] as number);
      const value = u32(payload, i + 2);
      switch (id) {
        case Setting.headerTableSize:
          // This side never indexes, but a smaller table must still be announced to the client's
          // decoder before the next block (RFC 7541 §4.2).
          if (value < 4096) this.#tableSizeUpdate = value;
          break;
        case Setting.enablePush:
          if (value > 1) throw new H2ConnectionError(H2Error.protocol, "SETTINGS_ENABLE_PUSH above 1");
          break;
        case Setting.initialWindowSize: {
          if (value > windowBytesMax) {
            throw new H2ConnectionError(H2Error.flowControl, "SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1");
          }
          const delta = value - this.#peerInitialWindow;
          this.#peerInitialWindow = value;
          for (const st of this.#streams.values()) {
            st.sendWindow += delta;
            if (st.sendWindow > windowBytesMax) {
              throw new H2ConnectionError(H2Error.flowControl, "a stream window above 2^31-1");
            }
          }
          if (delta > 0) for (const st of [...this.#streams.values()]) this.pump(st);
          break;
        }
        case Setting.maxFrameSize:
          if (value < defaultMaxFrameBytes || value > 16_777_215) {
            throw new H2ConnectionError(H2Error.protocol, "SETTINGS_MAX_FRAME_SIZE out of range");
          }
          this.#peerMaxFrame = value;
          break;
        default:
          // SETTINGS_MAX_CONCURRENT_STREAMS (server never opens streams), SETTINGS_MAX_HEADER_LIST_SIZE
          // (our header blocks are small) and unknown settings need nothing here.
          break;
      }
    }
    this.#header(0, FrameType.settings, Flag.ack, 0);
  }

  #windowUpdate(streamId: number, payload: Uint8Array): void {
    if (payload.length !== 4)
      throw new H2ConnectionError(H2Error.frameSize, "WINDOW_UPDATE payload is not 4 bytes");
    const inc = u32(payload, 0) & 0x7fffffff;
    if (streamId === 0) {
      if (inc === 0) throw new H2ConnectionError(H2Error.protocol, "WINDOW_UPDATE of 0");
      this.#sendWindow += inc;
      if (this.#sendWindow > windowBytesMax)
        throw new H2ConnectionError(H2Error.flowControl, "connection window above 2^31-1");
      for (const st of [...this.#blocked]) {
        if (this.#sendWindow <= 0) break;
        this.pump(st);
      }
      return;
    }
    const st = this.#streams.get(streamId);
    if (st === undefined) {
      if (streamId > this.#lastStreamId)
        throw new H2ConnectionError(H2Error.protocol, "WINDOW_UPDATE on an idle stream");
      return;
    }
    if (inc === 0) {
      this.resetStream(st, H2Error.protocol);
      return;
    }
    st.sendWindow += inc;
    if (st.sendWindow > windowBytesMax) {
      this.resetStream(st, H2Error.flowControl);
      return;
    }
    this.pump(st);
  }
}

/** An HPACK dynamic table size update to `size` (RFC 7541 §6.3). */
function tableSizeUpdate(size: number): Uint8Array {
  if (size < 31) return Uint8Array.of(0x20 | size);
  const out = [0x3f];
  let rest = size - 31;
  while (rest >= 0x80) {
    out.push((rest & 0x7f) | 0x80);
    rest >>>= 7;
  }
  out.push(rest);
  return Uint8Array.from(out);
}

/** The payload without its padding (PADDED flag); a pad length beyond the payload is an error. */
function unpad(flags: number, payload: Uint8Array): Uint8Array {
  if ((flags & Flag.padded) === 0) return payload;
  if (payload.length < 1) throw new H2ConnectionError(H2Error.frameSize, "padded frame without a pad length");
  const pad = payload[0] as number;
  if (pad >= payload.length) throw new H2ConnectionError(H2Error.protocol, "padding exceeds the payload");
  return payload.subarray(1, payload.length - pad);
}

/**
 * A request's header fields checked as RFC 9113 §8.3 asks of what gRPC uses: `:method` and
 * `:path` present, pseudo-headers before regular ones and not repeated, names lower-case, no
 * connection-specific fields. Null: the request is malformed (the stream is reset).
 */
export function requestHeaders(fields: readonly DecodedField[]): RequestHeaders | null {
  if (fields.length > headerFieldsMax) return null;
  let method = "";
  let path = "";
  let regularSeen = false;
  const out: Record<string, string> = {};
  for (const f of fields) {
    const name = f.nameText;
    const value = f.valueText;
    if (name.charCodeAt(0) === 58 /* ":" */) {
      if (regularSeen) return null;
      if (name === ":method") {
        if (method !== "") return null;
        method = value;
      } else if (name === ":path") {
        if (path !== "") return null;
        path = value;
      } else if (name !== ":scheme" && name !== ":authority") return null;
      continue;
    }
    regularSeen = true;
    if (hasUpperCase(name) || name === "connection") return null;
    const prior = out[name];
    out[name] = prior === undefined ? value : `${prior}, ${value}`;
  }
  if (method === "" || path === "") return null;
  return { method, path, fields: out };
}

function hasUpperCase(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) return true;
  }
  return false;
}
