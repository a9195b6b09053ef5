/**
 * Accepting the `:authority` that etcd 3.4's Go client sends. etcdctl 3.4 (clientv3 on grpc-go)
 * dials an endpoint given as a URL with `:authority: http://host:port`; node:http2 (nghttp2)
 * resets every such stream with PROTOCOL_ERROR before Synod sees it, and has no switch to relax
 * the check. etcd's Go server accepts it. Two pieces, both pure (no `node:*`; the socket plumbing
 * is in `listener.ts`):
 *
 * - {@link Http2Probe} looks at a new HTTP/2 connection before node:http2 gets it. Clients that
 *   open with a non-empty SETTINGS frame (every HTTP/2 stack but Go's) are handed over at once.
 *   Go clients open with an empty SETTINGS frame and, in grpc-go, send no request before the
 *   server's SETTINGS; for them the probe sends the server's SETTINGS itself (the same payload
 *   node:http2 will send), removes the client's acknowledgement of it from the byte stream (so
 *   node:http2 never sees an ACK it did not ask for) and reads the first request's headers. If
 *   `:authority` is acceptable the connection is handed to node:http2 untouched ("native", at full
 *   speed); otherwise it goes through an {@link AuthorityRewriter}.
 * - {@link AuthorityRewriter} sits between the socket and node:http2 for such connections: it
 *   decodes every header block with the client's HPACK context, replaces an `:authority` of the
 *   form `scheme://host:port[/...]` by `host:port`, and re-encodes the block with literals only
 *   (so node:http2's HPACK table stays empty and in step). Every other frame passes unchanged.
 */
import { encodeLiterals, type HeaderField, HpackDecoder, HpackError } from "./hpack.js";

export const frameHeaderBytes = 9;
/** The largest frame payload every HTTP/2 peer accepts (SETTINGS_MAX_FRAME_SIZE's minimum). */
export const minMaxFrameBytes = 16_384;
/** The largest header block (all its fragments) the rewriter and the probe buffer. */
export const headerBlockBytesMax = 256 * 1024;
/** Bytes the probe buffers before it hands the connection over without having seen a request. */
export const probeBytesMax = 64 * 1024;

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

const flagEndStream = 0x1;
const flagAck = 0x1;
const flagEndHeaders = 0x4;
const flagPadded = 0x8;
const flagPriority = 0x20;

/** HTTP/2 error codes used here (RFC 9113 §7). */
export const H2Error = { protocol: 0x1, frameSize: 0x6, compression: 0x9 } as const;

/** A connection-level failure: the caller sends GOAWAY with `code` and closes. */
export class H2ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const prefaceLength = 24;

/** Encodes one frame. */
export function encodeFrame(type: number, flags: number, streamId: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(frameHeaderBytes + payload.length);
  out[0] = (payload.length >>> 16) & 0xff;
  out[1] = (payload.length >>> 8) & 0xff;
  out[2] = payload.length & 0xff;
  out[3] = type;
  out[4] = flags;
  out[5] = (streamId >>> 24) & 0x7f;
  out[6] = (streamId >>> 16) & 0xff;
  out[7] = (streamId >>> 8) & 0xff;
  out[8] = streamId & 0xff;
  out.set(payload, frameHeaderBytes);
  return out;
}

/** A GOAWAY frame (last stream 0) with `code`. */
export function goawayFrame(code: number): Uint8Array {
  const p = new Uint8Array(8);
  p[4] = (code >>> 24) & 0xff;
  p[5] = (code >>> 16) & 0xff;
  p[6] = (code >>> 8) & 0xff;
  p[7] = code & 0xff;
  return encodeFrame(FrameType.goaway, 0, 0, p);
}

interface FrameHead {
  readonly length: number;
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
}

function readHead(b: Uint8Array, at: number): FrameHead {
  const u = (i: number): number => b[at + i] as number;
  return {
    length: (u(0) << 16) | (u(1) << 8) | u(2),
    type: u(3),
    flags: u(4),
    streamId: ((u(5) & 0x7f) << 24) | (u(6) << 16) | (u(7) << 8) | u(8),
  };
}

const dec = new TextDecoder();
const enc = new TextEncoder();
const authorityName = ":authority";

/**
 * The replacement for an `:authority` value nghttp2 refuses because it is a URL: `scheme://rest`
 * becomes `rest` up to its first `/`. `null` when the value is fine as it is.
 */
export function fixAuthority(value: string): string | null {
  if (!value.includes("/")) return null;
  const sep = value.indexOf("://");
  const rest = sep >= 0 ? value.slice(sep + 3) : value;
  const slash = rest.indexOf("/");
  return slash >= 0 ? rest.slice(0, slash) : rest;
}

function authorityOf(fields: readonly HeaderField[]): string | null {
  for (const f of fields) if (dec.decode(f.name) === authorityName) return dec.decode(f.value);
  return null;
}

/** Payload of a HEADERS frame without padding: the priority bytes (if any) and the fragment. */
function splitHeadersPayload(
  head: FrameHead,
  payload: Uint8Array,
): { priority: Uint8Array | null; fragment: Uint8Array } {
  let start = 0;
  let end = payload.length;
  if ((head.flags & flagPadded) !== 0) {
    const pad = payload[0];
    if (pad === undefined || pad >= payload.length)
      throw new H2ConnectionError(H2Error.protocol, "bad padding");
    start = 1;
    end = payload.length - pad;
  }
  let priority: Uint8Array | null = null;
  if ((head.flags & flagPriority) !== 0) {
    if (end - start < 5) throw new H2ConnectionError(H2Error.frameSize, "HEADERS too short for priority");
    priority = payload.slice(start, start + 5);
    start += 5;
  }
  return { priority, fragment: payload.subarray(start, end) };
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A header block being collected from HEADERS + CONTINUATION frames. */
interface OpenBlock {
  readonly streamId: number;
  readonly endStream: boolean;
  readonly priority: Uint8Array | null;
  readonly fragments: Uint8Array[];
  bytes: number;
}

/** Rewrites `:authority` in a client's HTTP/2 byte stream (see the module comment). */
export class AuthorityRewriter {
  readonly #decoder: HpackDecoder;
  #stripAck: boolean;
  #prefaceLeft: number;
  /** Bytes not yet parsed (less than a frame header, or an incomplete buffered frame). */
  #pending: Uint8Array = new Uint8Array(0);
  /** Bytes of the current pass-through frame still to forward as they come. */
  #passLeft = 0;
  #block: OpenBlock | null = null;
  /** How many `:authority` values were rewritten. */
  rewrites = 0;

  /**
   * @param tableSizeSetting the SETTINGS_HEADER_TABLE_SIZE the server announces.
   * @param stripOneSettingsAck drop the client's first SETTINGS ACK (it acknowledges the probe's SETTINGS).
   */
  constructor(tableSizeSetting: number, stripOneSettingsAck: boolean) {
    this.#decoder = new HpackDecoder(tableSizeSetting);
    this.#stripAck = stripOneSettingsAck;
    this.#prefaceLeft = prefaceLength;
  }

  /** Takes bytes from the client and returns what to give node:http2. Throws {@link H2ConnectionError}. */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let data = chunk;
    if (this.#prefaceLeft > 0) {
      const n = Math.min(this.#prefaceLeft, data.length);
      out.push(data.subarray(0, n));
      this.#prefaceLeft -= n;
      data = data.subarray(n);
    }
    if (this.#passLeft > 0 && data.length > 0) {
      const n = Math.min(this.#passLeft, data.length);
      out.push(data.subarray(0, n));
      this.#passLeft -= n;
      data = data.subarray(n);
    }
    if (data.length === 0) return out;
    const buf = this.#pending.length > 0 ? concat([this.#pending, data]) : data;
    let at = 0;
    while (buf.length - at >= frameHeaderBytes) {
      const head = readHead(buf, at);
      const whole = frameHeaderBytes + head.length;
      if (
        head.type === FrameType.headers ||
        head.type === FrameType.continuation ||
        head.type === FrameType.pushPromise
      ) {
        if (buf.length - at < whole) break;
        const payload = buf.subarray(at + frameHeaderBytes, at + whole);
        at += whole;
        this.#headerFrame(head, payload, out);
        continue;
      }
      if (this.#block !== null) {
        throw new H2ConnectionError(H2Error.protocol, "frame inside a header block");
      }
      if (head.type === FrameType.settings && (head.flags & flagAck) !== 0 && this.#stripAck) {
        if (buf.length - at < whole) break;
        this.#stripAck = false;
        at += whole;
        continue;
      }
      // Pass through: the header now, the payload as it arrives.
      const available = Math.min(whole, buf.length - at);
      out.push(buf.subarray(at, at + available));
      this.#passLeft = whole - available;
      at += available;
      if (this.#passLeft > 0) break;
    }
    this.#pending = buf.length > at ? buf.slice(at) : new Uint8Array(0);
    if (this.#pending.length > headerBlockBytesMax + frameHeaderBytes) {
      throw new H2ConnectionError(H2Error.frameSize, "frame larger than the header block limit");
    }
    return out;
  }

  #headerFrame(head: FrameHead, payload: Uint8Array, out: Uint8Array[]): void {
    if (head.type === FrameType.pushPromise)
      throw new H2ConnectionError(H2Error.protocol, "PUSH_PROMISE from a client");
    if (head.type === FrameType.headers) {
      if (this.#block !== null)
        throw new H2ConnectionError(H2Error.protocol, "HEADERS inside a header block");
      const { priority, fragment } = splitHeadersPayload(head, payload);
      this.#block = {
        streamId: head.streamId,
        endStream: (head.flags & flagEndStream) !== 0,
        priority,
        fragments: [fragment.slice()],
        bytes: fragment.length,
      };
    } else {
      const block = this.#block;
      if (block === null || block.streamId !== head.streamId) {
        throw new H2ConnectionError(H2Error.protocol, "CONTINUATION without an open header block");
      }
      block.fragments.push(payload.slice());
      block.bytes += payload.length;
    }
    const block = this.#block as OpenBlock;
    if (block.bytes > headerBlockBytesMax)
      throw new H2ConnectionError(H2Error.protocol, "header block too large");
    if ((head.flags & flagEndHeaders) === 0) return;
    this.#block = null;
    let fields: HeaderField[];
    try {
      fields = this.#decoder.decode(concat(block.fragments));
    } catch (e) {
      if (e instanceof HpackError) throw new H2ConnectionError(H2Error.compression, e.message);
      throw e;
    }
    fields = fields.map((f) => {
      if (dec.decode(f.name) !== authorityName) return f;
      const fixed = fixAuthority(dec.decode(f.value));
      if (fixed === null) return f;
      this.rewrites++;
      return { name: f.name, value: enc.encode(fixed), sensitive: f.sensitive };
    });
    const encoded = encodeLiterals(fields);
    const first = block.priority !== null ? concat([block.priority, encoded]) : encoded;
    let offset = 0;
    let type: number = FrameType.headers;
    const baseFlags = (block.endStream ? flagEndStream : 0) | (block.priority !== null ? flagPriority : 0);
    for (;;) {
      const piece = first.subarray(offset, offset + minMaxFrameBytes);
      offset += piece.length;
      const last = offset >= first.length;
      const flags = (type === FrameType.headers ? baseFlags : 0) | (last ? flagEndHeaders : 0);
      out.push(encodeFrame(type, flags, block.streamId, piece));
      if (last) break;
      type = FrameType.continuation;
    }
  }
}

/** What the probe wants done. */
export type ProbeStep =
  /** Keep reading; write `send` to the client first if set. */
  | { readonly kind: "wait"; readonly send: Uint8Array | null }
  /** Give the socket to node:http2 with `bytes` put back in front of what follows. */
  | { readonly kind: "native"; readonly bytes: Uint8Array }
  /** Route the connection through an AuthorityRewriter fed with `bytes` first. */
  | { readonly kind: "rewrite"; readonly bytes: Uint8Array; readonly stripAck: boolean };

/**
 * Decides, from a new HTTP/2 connection's first frames, whether node:http2 can take it as it is
 * (see the module comment). Feed it every chunk from the start of the connection.
 */
export class Http2Probe {
  readonly #settingsPayload: Uint8Array;
  readonly #tableSize: number;
  #buf: Uint8Array = new Uint8Array(0);
  /** Parsed up to here (frames before it are kept in `#kept`). */
  #at = 0;
  readonly #kept: Uint8Array[] = [];
  #probing = false;
  #acked = false;
  #done = false;

  /**
   * @param serverSettings the SETTINGS payload node:http2 sends (`http2.getPackedSettings`).
   * @param tableSizeSetting the server's SETTINGS_HEADER_TABLE_SIZE.
   */
  constructor(serverSettings: Uint8Array, tableSizeSetting = 4096) {
    this.#settingsPayload = serverSettings;
    this.#tableSize = tableSizeSetting;
  }

  push(chunk: Uint8Array): ProbeStep {
    if (this.#done) throw new Error("Http2Probe: already decided");
    this.#buf = this.#buf.length > 0 ? concat([this.#buf, chunk]) : chunk.slice();
    if (!this.#probing) {
      if (this.#buf.length < prefaceLength + frameHeaderBytes) return { kind: "wait", send: null };
      const head = readHead(this.#buf, prefaceLength);
      if (head.type !== FrameType.settings || head.length !== 0 || (head.flags & flagAck) !== 0) {
        return this.#native();
      }
      this.#probing = true;
      this.#kept.push(this.#buf.subarray(0, prefaceLength + frameHeaderBytes));
      this.#at = prefaceLength + frameHeaderBytes;
      const step = this.#scan();
      if (step.kind !== "wait") return step;
      return { kind: "wait", send: encodeFrame(FrameType.settings, 0, 0, this.#settingsPayload) };
    }
    return this.#scan();
  }

  /** The decision when the client sends nothing more for a while. */
  timeout(): ProbeStep {
    return this.#acked ? this.#native() : this.#rewrite();
  }

  #scan(): ProbeStep {
    const b = this.#buf;
    while (b.length - this.#at >= frameHeaderBytes) {
      const head = readHead(b, this.#at);
      const whole = frameHeaderBytes + head.length;
      if (head.type === FrameType.headers) {
        const block = this.#firstHeaderBlock(head);
        if (block === "incomplete") break;
        if (block === "unreadable") return this.#rewrite();
        const authority = authorityOf(block);
        if (authority !== null && fixAuthority(authority) !== null) return this.#rewrite();
        return this.#acked ? this.#native() : this.#rewrite();
      }
      if (b.length - this.#at < whole) break;
      const frame = b.subarray(this.#at, this.#at + whole);
      this.#at += whole;
      if (head.type === FrameType.settings && (head.flags & flagAck) !== 0 && !this.#acked) {
        this.#acked = true; // the client's ACK of the probe's SETTINGS: node:http2 must not see it
        continue;
      }
      this.#kept.push(frame);
      if (
        head.type !== FrameType.settings &&
        head.type !== FrameType.windowUpdate &&
        head.type !== FrameType.priority
      ) {
        return this.#acked ? this.#native() : this.#rewrite();
      }
    }
    if (b.length > probeBytesMax) return this.#acked ? this.#native() : this.#rewrite();
    return { kind: "wait", send: null };
  }

  /** The first request's header fields, decoded with a fresh HPACK context. */
  #firstHeaderBlock(first: FrameHead): HeaderField[] | "incomplete" | "unreadable" {
    const b = this.#buf;
    let at = this.#at;
    const fragments: Uint8Array[] = [];
    let head = first;
    for (;;) {
      if (b.length - at < frameHeaderBytes + head.length) return "incomplete";
      const payload = b.subarray(at + frameHeaderBytes, at + frameHeaderBytes + head.length);
      at += frameHeaderBytes + head.length;
      try {
        fragments.push(
          head.type === FrameType.headers ? splitHeadersPayload(head, payload).fragment : payload,
        );
      } catch {
        return "unreadable";
      }
      if ((head.flags & flagEndHeaders) !== 0) break;
      if (b.length - at < frameHeaderBytes) return "incomplete";
      head = readHead(b, at);
      if (head.type !== FrameType.continuation) return "unreadable";
    }
    try {
      return new HpackDecoder(this.#tableSize).decode(concat(fragments));
    } catch {
      return "unreadable";
    }
  }

  #rest(): Uint8Array {
    return concat([...this.#kept, this.#buf.subarray(this.#at)]);
  }

  #native(): ProbeStep {
    this.#done = true;
    return { kind: "native", bytes: this.#probing ? this.#rest() : this.#buf };
  }

  #rewrite(): ProbeStep {
    this.#done = true;
    return { kind: "rewrite", bytes: this.#rest(), stripAck: this.#probing && !this.#acked };
  }
}
