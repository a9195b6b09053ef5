import { assert } from "../lib/assert.js";

/** Thrown inside decoders on malformed input; decoders turn it into a returned reason. */
export class CodecError extends Error {
  override readonly name = "CodecError";
}

/**
 * Thrown by a {@link Reader} that ran out of bytes; streaming decoders wait for more input.
 * `needed` is a lower bound on the input length (from the start of the buffer) that could succeed.
 */
export class NeedMoreError extends CodecError {
  constructor(
    message: string,
    readonly needed: number,
  ) {
    super(message);
  }
}

/**
 * A growable byte buffer with the primitive encodings used by commands and snapshots:
 * unsigned LEB128 varints (up to 2^53-1), zigzag varints for signed values (|n| < 2^52), and
 * length-prefixed byte strings.
 */
export class Writer {
  #buf: Uint8Array;
  #len = 0;

  constructor(initialBytes = 256) {
    this.#buf = new Uint8Array(initialBytes);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#len;
  }

  /** A copy of the bytes written. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#len);
  }

  /**
   * The bytes written, without a copy (a view of the current buffer), leaving the writer empty
   * with a fresh buffer of `nextBytes`: for streams of large chunks.
   */
  take(nextBytes: number): Uint8Array {
    const out = this.#buf.subarray(0, this.#len);
    this.#buf = new Uint8Array(nextBytes);
    this.#len = 0;
    return out;
  }

  /** Forgets the bytes written, keeping the buffer. */
  reset(): void {
    this.#len = 0;
  }

  u8(n: number): void {
    this.#reserve(1);
    this.#buf[this.#len++] = n;
  }

  /** Unsigned varint of a safe non-negative integer. */
  uvarint(n: number): void {
    assert(Number.isSafeInteger(n) && n >= 0, `Writer: uvarint needs a safe non-negative integer, got ${n}`);
    this.#reserve(8);
    while (n >= 0x80) {
      this.#buf[this.#len++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.#buf[this.#len++] = n;
  }

  /** Zigzag varint of a signed integer with |n| < 2^52. */
  svarint(n: number): void {
    assert(Number.isSafeInteger(n) && Math.abs(n) < 2 ** 52, `Writer: svarint out of range: ${n}`);
    this.uvarint(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  /** Length-prefixed bytes. */
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

  /** Big-endian u32. */
  u32(n: number): void {
    this.#reserve(4);
    const b = this.#buf;
    b[this.#len++] = n >>> 24;
    b[this.#len++] = (n >>> 16) & 0xff;
    b[this.#len++] = (n >>> 8) & 0xff;
    b[this.#len++] = n & 0xff;
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    const grown = new Uint8Array(Math.max(this.#buf.length * 2, this.#len + n));
    grown.set(this.#buf.subarray(0, this.#len));
    this.#buf = grown;
  }
}

/** Reads what {@link Writer} wrote; throws {@link NeedMoreError} at the end of input. */
export class Reader {
  pos = 0;

  constructor(readonly buf: Uint8Array) {}

  /** Bytes left. */
  get remaining(): number {
    return this.buf.length - this.pos;
  }

  u8(): number {
    if (this.pos >= this.buf.length) throw new NeedMoreError("input ends inside a byte", this.pos + 1);
    return this.buf[this.pos++] as number;
  }

  uvarint(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      n += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(n)) throw new CodecError(`varint ${n} exceeds 2^53-1`);
        return n;
      }
      scale *= 0x80;
    }
    throw new CodecError("varint longer than 8 bytes");
  }

  svarint(): number {
    const z = this.uvarint();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  /** Length-prefixed bytes as a view into the input, at most `max` long. */
  bytes(max: number): Uint8Array {
    const n = this.uvarint();
    if (n > max) throw new CodecError(`byte string of ${n} bytes exceeds ${max}`);
    return this.raw(n);
  }

  /** `n` bytes as a view into the input. */
  raw(n: number): Uint8Array {
    if (this.pos + n > this.buf.length)
      throw new NeedMoreError("input ends inside a byte string", this.pos + n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  u32(): number {
    const b = this.raw(4);
    return (
      (((b[0] as number) << 24) | ((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number)) >>> 0
    );
  }

  bool(): boolean {
    const b = this.u8();
    if (b > 1) throw new CodecError(`boolean byte ${b}`);
    return b === 1;
  }
}
