/**
 * Peer protocol framing: how a byte stream is cut into frames. Pure: no I/O, no clock, no
 * randomness; see docs/peer-protocol.md.
 *
 * Every frame is a 12-byte big-endian header and a payload:
 *
 * ```
 * 0  u32 length    payload bytes; checked against the reader's limit before any payload is read
 * 4  u8  type      FrameType
 * 5  u8[3]         reserved, zero
 * 8  u32 crc       CRC-32C of header bytes [0, 8) followed by the payload
 * ```
 *
 * The payloads of each frame type are defined in codec.ts.
 */
import { AssertionError, assert } from "../../lib/assert.js";
// The checksum file itself, not the WAL's mod.ts: that one also re-exports the WAL's I/O shell.
import { crc32cUpdate } from "../../wal/crc32c.js";

/** Bytes of a frame header. */
export const peerFrameHeaderBytes = 12;

/** Frame kinds. 0 is never used, so a zeroed header is not a frame. */
export const FrameType = {
  /** Dialer → listener, first frame: who is calling, for which cluster, whom it expects. */
  hello: 1,
  /** Listener → dialer: the handshake is accepted. */
  welcome: 2,
  /** Listener → dialer: the handshake is refused; the connection closes after it. */
  refuse: 3,
  /** Dialer → listener: a batch of Raft messages (never a snapshot message). */
  messages: 4,
  /** Dialer → listener: a snapshot message without its data, and the data's length. */
  snapshotBegin: 5,
  /** Dialer → listener: the next piece of the current snapshot's data. */
  snapshotChunk: 6,
  /** Listener → dialer: a snapshot was received whole and delivered, or was rejected. */
  snapshotAck: 7,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

/** A frame type's name for messages, e.g. "snapshotChunk". */
export function frameName(type: number): string {
  for (const [name, value] of Object.entries(FrameType)) if (value === type) return name;
  return `unknown (${type})`;
}

/**
 * A growable output buffer that writes whole frames: {@link beginFrame}, payload writes, then
 * {@link endFrame} fills in the header. Several frames may share one buffer, so that everything
 * for one peer in one batch goes out in one socket write. Writing invalid values
 * (unsafe integers, nested frames) is a programmer error and throws.
 */
const emptyBuffer = new Uint8Array(0);

export class FrameWriter {
  #buf: Uint8Array;
  #len = 0;
  #frameStart = -1;
  readonly #initialBytes: number;

  /** `initialBytes`: the buffer's starting size; it grows as needed. */
  constructor(initialBytes = 4096) {
    this.#initialBytes = Math.max(16, initialBytes);
    this.#buf = new Uint8Array(this.#initialBytes);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#len;
  }

  /** Payload bytes of the open frame so far (0 when none is open). */
  get framePayloadBytes(): number {
    return this.#frameStart < 0 ? 0 : this.#len - this.#frameStart - peerFrameHeaderBytes;
  }

  /** Starts a frame of `type`; its length and CRC are written by {@link endFrame}. */
  beginFrame(type: FrameType): void {
    assert(this.#frameStart < 0, "FrameWriter: a frame is already open");
    this.#frameStart = this.#len;
    this.#reserve(peerFrameHeaderBytes);
    this.#buf.fill(0, this.#len, this.#len + peerFrameHeaderBytes);
    this.#buf[this.#len + 4] = type;
    this.#len += peerFrameHeaderBytes;
  }

  /** Closes the open frame: writes its length and CRC. */
  endFrame(): void {
    const start = this.#frameStart;
    assert(start >= 0, "FrameWriter: no frame is open");
    putU32(this.#buf, start, this.#len - start - peerFrameHeaderBytes);
    const crc = crc32cUpdate(crc32cUpdate(0, this.#buf, start, start + 8), this.#buf, start + 12, this.#len);
    putU32(this.#buf, start + 8, crc);
    this.#frameStart = -1;
  }

  /** Drops the open frame and everything written in it. */
  abortFrame(): void {
    assert(this.#frameStart >= 0, "FrameWriter: no frame is open");
    this.#len = this.#frameStart;
    this.#frameStart = -1;
  }

  /** Drops the bytes after offset `length` of the open frame (to undo a write that did not fit). */
  truncate(length: number): void {
    assert(
      this.#frameStart >= 0 && length >= this.#frameStart + peerFrameHeaderBytes && length <= this.#len,
      `FrameWriter: cannot truncate to ${length}`,
    );
    this.#len = length;
  }

  /** Overwrites the u32 at absolute offset `at` (inside the open frame). */
  patchU32(at: number, n: number): void {
    assert(
      at >= this.#frameStart + peerFrameHeaderBytes && at + 4 <= this.#len,
      `FrameWriter: cannot patch ${at}`,
    );
    putU32(this.#buf, at, n);
  }

  /**
   * The bytes written, handed over without a copy (the caller may keep them, e.g. in a socket's
   * write queue); the writer continues empty, in a fresh buffer.
   */
  take(): Uint8Array {
    assert(this.#frameStart < 0, "FrameWriter: a frame is still open");
    const out = this.#buf.subarray(0, this.#len);
    this.#buf = emptyBuffer; // a new buffer only if the writer is used again (most are not)
    this.#len = 0;
    return out;
  }

  u8(n: number): void {
    this.#reserve(1);
    this.#buf[this.#len++] = n;
  }

  u16(n: number): void {
    this.#reserve(2);
    this.#buf[this.#len++] = n >>> 8;
    this.#buf[this.#len++] = n & 0xff;
  }

  u32(n: number): void {
    this.#reserve(4);
    putU32(this.#buf, this.#len, n);
    this.#len += 4;
  }

  /** A safe non-negative integer as two u32 halves, high first. */
  u64(n: number): void {
    // The message is built only on failure (a template argument would be built on every call).
    if (!(Number.isSafeInteger(n) && n >= 0)) throw new AssertionError(`FrameWriter: u64 of ${n}`);
    this.u32(Math.floor(n / 2 ** 32));
    this.u32(n >>> 0);
  }

  /** A safe non-negative integer as an unsigned LEB128 varint (at most 8 bytes). */
  uvarint(n: number): void {
    if (!(Number.isSafeInteger(n) && n >= 0)) throw new AssertionError(`FrameWriter: uvarint of ${n}`);
    this.#reserve(8);
    const b = this.#buf;
    while (n >= 0x80) {
      b[this.#len++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    b[this.#len++] = n;
  }

  /** Varint length, then the bytes. */
  bytes(b: Uint8Array): void {
    this.uvarint(b.length);
    this.raw(b);
  }

  /** Bytes without a length. */
  raw(b: Uint8Array): void {
    this.#reserve(b.length);
    this.#buf.set(b, this.#len);
    this.#len += b.length;
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const grown = new Uint8Array(Math.max(this.#buf.length * 2, this.#initialBytes, this.#len + n));
    grown.set(this.#buf.subarray(0, this.#len));
    this.#buf = grown;
  }
}

function putU32(buf: Uint8Array, at: number, n: number): void {
  buf[at] = n >>> 24;
  buf[at + 1] = (n >>> 16) & 0xff;
  buf[at + 2] = (n >>> 8) & 0xff;
  buf[at + 3] = n & 0xff;
}

/**
 * `bytes` as a plain Uint8Array view. Subclasses such as Node's Buffer change what `slice` means
 * (a view instead of a copy), and decoded values must be plain copies.
 */
export function plain(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A frame as cut from the byte stream, CRC verified, payload not yet decoded. */
export interface RawFrame {
  readonly type: FrameType;
  /** The payload; may be a view of the pushed chunk, valid only during the callback. */
  readonly payload: Uint8Array;
}

/**
 * Cuts a byte stream into frames: a byte-level state machine that is fed chunks as they arrive
 * and calls back once per complete, CRC-checked frame. A header is checked (length against the
 * current limit, known type, zero reserved bytes) before any of its payload is buffered, so a
 * peer can never make it allocate more than one frame's limit. After the first error the reader
 * is failed for good and returns the same reason.
 */
export class FrameReader {
  #limit: number;
  readonly #header = new Uint8Array(peerFrameHeaderBytes);
  #headerFill = 0;
  #payload: Uint8Array | null = null;
  #payloadFill = 0;
  #failed: string | null = null;
  #stopped = false;

  /** `frameBytesMax`: the largest payload accepted (changeable with {@link setLimit}). */
  constructor(frameBytesMax: number) {
    this.#limit = frameBytesMax;
  }

  /** Changes the payload limit for the frames after the current one. */
  setLimit(frameBytesMax: number): void {
    this.#limit = frameBytesMax;
  }

  /** Stops delivering frames (e.g. the connection is being closed); later pushes are ignored. */
  stop(): void {
    this.#stopped = true;
  }

  /** Why the stream is malformed, or null. */
  get failure(): string | null {
    return this.#failed;
  }

  /** Bytes buffered towards the frame in progress. */
  get bufferedBytes(): number {
    return this.#headerFill + this.#payloadFill;
  }

  /**
   * Feeds `chunk` and calls `onFrame` for each complete frame, in order. Returns null, or the
   * reason the stream is malformed (frames before the bad one have been delivered).
   */
  push(chunk: Uint8Array, onFrame: (frame: RawFrame) => void): string | null {
    chunk = plain(chunk);
    let at = 0;
    while (at < chunk.length && this.#failed === null && !this.#stopped) {
      if (this.#payload === null) {
        at = this.#readHeader(chunk, at, onFrame);
        continue;
      }
      const n = Math.min(chunk.length - at, this.#payload.length - this.#payloadFill);
      this.#payload.set(chunk.subarray(at, at + n), this.#payloadFill);
      this.#payloadFill += n;
      at += n;
      if (this.#payloadFill === this.#payload.length) this.#finish(onFrame);
    }
    return this.#failed;
  }

  /**
   * Consumes header bytes from `chunk[at..]`; once complete, validates the header and sets up the
   * payload, finishing the frame at once when its whole payload is already in `chunk`.
   */
  #readHeader(chunk: Uint8Array, at: number, onFrame: (frame: RawFrame) => void): number {
    const n = Math.min(chunk.length - at, peerFrameHeaderBytes - this.#headerFill);
    this.#header.set(chunk.subarray(at, at + n), this.#headerFill);
    this.#headerFill += n;
    at += n;
    if (this.#headerFill < peerFrameHeaderBytes) return at;
    const h = this.#header;
    const length =
      (((h[0] as number) << 24) | ((h[1] as number) << 16) | ((h[2] as number) << 8) | (h[3] as number)) >>>
      0;
    const type = h[4] as number;
    let failure: string | null = null;
    if (length > this.#limit)
      failure = `frame of ${length} bytes exceeds the limit of ${this.#limit} bytes${httpHint(h)}`;
    else if (type < FrameType.hello || type > FrameType.snapshotAck) failure = `unknown frame type ${type}`;
    else if (h[5] !== 0 || h[6] !== 0 || h[7] !== 0) failure = "frame header reserved bytes are not zero";
    if (failure !== null) {
      this.#failed = failure;
      this.#headerFill = 0;
      return at;
    }
    // The whole payload is already here: use it in place instead of copying.
    if (chunk.length - at >= length) {
      this.#payload = chunk.subarray(at, at + length);
      this.#payloadFill = length;
      this.#finish(onFrame);
      return at + length;
    }
    this.#payload = new Uint8Array(length);
    this.#payloadFill = 0;
    return at;
  }

  #finish(onFrame: (frame: RawFrame) => void): void {
    const h = this.#header;
    const payload = this.#payload as Uint8Array;
    const want =
      (((h[8] as number) << 24) | ((h[9] as number) << 16) | ((h[10] as number) << 8) | (h[11] as number)) >>>
      0;
    const got = crc32cUpdate(crc32cUpdate(0, h, 0, 8), payload);
    const type = h[4] as FrameType;
    this.#headerFill = 0;
    this.#payload = null;
    this.#payloadFill = 0;
    if (got !== want) {
      this.#failed = `${frameName(type)} frame of ${payload.length} bytes fails its CRC (stored ${hex(want)}, computed ${hex(got)})`;
      return;
    }
    onFrame({ type, payload });
  }
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, "0")}`;
}

/** A hint when a stream's first bytes are an HTTP request (e.g. an etcd member or a browser). */
function httpHint(header: Uint8Array): string {
  const start = String.fromCharCode(...header.subarray(0, 4));
  return ["GET ", "POST", "PUT ", "HEAD", "PRI ", "DELE", "OPTI"].includes(start)
    ? " (this looks like HTTP: the peer port speaks the Synod peer protocol, not etcd's)"
    : "";
}
