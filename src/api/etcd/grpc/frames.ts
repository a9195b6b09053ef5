/**
 * gRPC message framing (the "Length-Prefixed-Message" of the gRPC over HTTP/2 protocol): a 1-byte
 * compressed flag, a 4-byte big-endian length, then the message. Pure: no `node:*` imports.
 */

/** Bytes in a frame header. */
export const frameHeaderBytes = 5;

/** Frames `message` (uncompressed). */
export function frameMessage(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(frameHeaderBytes + message.length);
  const n = message.length;
  out[1] = (n >>> 24) & 0xff;
  out[2] = (n >>> 16) & 0xff;
  out[3] = (n >>> 8) & 0xff;
  out[4] = n & 0xff;
  out.set(message, frameHeaderBytes);
  return out;
}

/** What the parser found in the bytes pushed so far. */
export type FrameEvent =
  | { readonly type: "message"; readonly message: Uint8Array }
  | { readonly type: "tooLarge"; readonly length: number }
  | { readonly type: "compressed" };

/**
 * Splits a byte stream into gRPC messages. A message longer than `messageBytesMax` is reported
 * (`tooLarge`) as soon as its header arrives, before its body is buffered; a compressed message is
 * reported as `compressed` (this server negotiates no compression). After either, the parser
 * stops: the call is failed.
 */
export class FrameParser {
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #stopped = false;

  constructor(readonly messageBytesMax: number) {}

  /** Bytes received and not yet returned as messages. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Adds bytes and returns every complete message (and at most one failure, last). */
  push(chunk: Uint8Array): FrameEvent[] {
    if (this.#stopped) return [];
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const out: FrameEvent[] = [];
    while (this.#buffered >= frameHeaderBytes) {
      const head = this.#peek(frameHeaderBytes);
      const flag = head[0] as number;
      const length =
        (((head[1] as number) << 24) >>> 0) +
        ((head[2] as number) << 16) +
        ((head[3] as number) << 8) +
        (head[4] as number);
      if (flag !== 0) {
        this.#stopped = true;
        out.push({ type: "compressed" });
        break;
      }
      if (length > this.messageBytesMax) {
        this.#stopped = true;
        out.push({ type: "tooLarge", length });
        break;
      }
      if (this.#buffered < frameHeaderBytes + length) break;
      const whole = this.#take(frameHeaderBytes + length);
      out.push({ type: "message", message: whole.subarray(frameHeaderBytes) });
    }
    return out;
  }

  /** Copies the first `n` buffered bytes without consuming them. */
  #peek(n: number): Uint8Array {
    const first = this.#chunks[0] as Uint8Array;
    if (first.length >= n) return first;
    return this.#concat(n, false);
  }

  #take(n: number): Uint8Array {
    const first = this.#chunks[0] as Uint8Array;
    if (first.length === n) {
      this.#chunks.shift();
      this.#buffered -= n;
      return first;
    }
    if (first.length > n) {
      this.#chunks[0] = first.subarray(n);
      this.#buffered -= n;
      return first.subarray(0, n);
    }
    return this.#concat(n, true);
  }

  #concat(n: number, consume: boolean): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    let i = 0;
    while (at < n) {
      const c = this.#chunks[i] as Uint8Array;
      const take = Math.min(c.length, n - at);
      out.set(c.subarray(0, take), at);
      at += take;
      if (consume) {
        if (take === c.length) this.#chunks.shift();
        else this.#chunks[0] = c.subarray(take);
      } else {
        i++;
      }
    }
    if (consume) this.#buffered -= n;
    return out;
  }
}

/**
 * Percent-encodes a `grpc-message` value as the gRPC protocol requires: bytes outside printable
 * ASCII (0x20–0x7E) and `%` itself become `%XX` of their UTF-8 bytes.
 */
export function encodeGrpcMessage(text: string): string {
  let plain = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x25) {
      plain = false;
      break;
    }
  }
  if (plain) return text;
  let out = "";
  for (const b of new TextEncoder().encode(text)) {
    if (b < 0x20 || b > 0x7e || b === 0x25) out += `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
    else out += String.fromCharCode(b);
  }
  return out;
}

/**
 * Parses a `grpc-timeout` header ("1-8 digits" + unit H, M, S, m, u, n) into milliseconds, or
 * null when absent or malformed.
 */
export function parseGrpcTimeout(value: string | undefined): number | null {
  if (value === undefined) return null;
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null) return null;
  const n = Number(match[1]);
  switch (match[2]) {
    case "H":
      return n * 3_600_000;
    case "M":
      return n * 60_000;
    case "S":
      return n * 1000;
    case "m":
      return n;
    case "u":
      return n / 1000;
    default:
      return n / 1_000_000;
  }
}
