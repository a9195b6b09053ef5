/**
 * A small schema-driven protobuf (proto3) codec for the etcd API messages. Each message is
 * described once by a {@link MessageDesc} (field numbers, proto names and types, matching the
 * `.proto` files in this folder); {@link encodeMessage} and {@link decodeMessage} turn plain objects
 * into wire bytes and back. Pure: no `node:*` imports, no clock.
 *
 * JavaScript shape of a decoded message: one property per field, named by the field's JSON name
 * (lowerCamelCase of the proto name: `create_revision` → `createRevision`, `TTL` stays `TTL`), in
 * descriptor order, with proto3 defaults filled in: 0, false, "", an empty byte array, [] for
 * repeated fields, `null` for an absent sub-message, and `undefined` for an unset oneof member.
 * Integer kinds:
 *   - `int64`, `uint64`, `int32`, `uint32`: JavaScript numbers. 64-bit values beyond 2^53 decode to
 *     the nearest double, so they stay out of range for every check that needs a safe integer
 *     (an out-of-range lease id is simply an unknown lease, an out-of-range revision a future one).
 *   - `id64`: a uint64 as `bigint`, for random 64-bit identifiers (cluster, member ids).
 * Enums are numbers. Unknown fields are skipped; packed and unpacked repeated scalars are both
 * accepted. Malformed input gives a reason string, never an exception to the caller.
 */

/** Scalar field types. */
export type ScalarType = "int64" | "uint64" | "int32" | "uint32" | "bool" | "bytes" | "string" | "id64";

/** An enum: value names by number, for the JSON mapping. */
export interface EnumDesc {
  readonly name: string;
  readonly values: Readonly<Record<string, number>>;
}

/** What a field holds: a scalar, an enum, or a message (a thunk, so messages can recurse). */
export type FieldType = ScalarType | EnumDesc | (() => MessageDesc);

/** One field of a message. */
export interface FieldDesc {
  readonly no: number;
  /** The proto field name (what etcd's JSON gateway prints). */
  readonly name: string;
  /** The JSON name (lowerCamelCase), also the JavaScript property name. */
  readonly js: string;
  readonly type: FieldType;
  readonly repeated: boolean;
  /** Name of the oneof this field belongs to, or "" (oneof members have presence). */
  readonly oneof: string;
}

/** One message type. */
export interface MessageDesc {
  /** Full proto name, e.g. `etcdserverpb.RangeRequest`. */
  readonly name: string;
  readonly fields: readonly FieldDesc[];
  /** Fields by number. */
  readonly byNo: ReadonlyMap<number, FieldDesc>;
}

/** Field spec for {@link message}: `[number, protoName, type]` plus "repeated" or "oneof:<name>". */
export type FieldSpec = readonly [number, string, FieldType, string?];

/** Deepest message nesting the decoder accepts (nested txns recurse through RequestOp). */
export const decodeDepthMax = 100;

/** The JSON name of a proto field name (protoc's rule: drop `_`, upper-case the next letter). */
export function jsonName(protoName: string): string {
  return protoName.replace(/_([a-zA-Z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Describes a message. */
export function message(name: string, specs: readonly FieldSpec[]): MessageDesc {
  const fields = specs.map(([no, protoName, type, flag]): FieldDesc => {
    return {
      no,
      name: protoName,
      js: jsonName(protoName),
      type,
      repeated: flag === "repeated",
      oneof: flag?.startsWith("oneof:") === true ? flag.slice("oneof:".length) : "",
    };
  });
  return { name, fields, byNo: new Map(fields.map((f) => [f.no, f])) };
}

/** Whether `t` is a message field type. */
export function isMessageType(t: FieldType): t is () => MessageDesc {
  return typeof t === "function";
}

/** Whether `t` is an enum field type. */
export function isEnumType(t: FieldType): t is EnumDesc {
  return typeof t === "object";
}

const EMPTY = new Uint8Array(0);

/** The default (unset) value of a field, as decoded objects hold it. */
export function defaultValue(f: FieldDesc): unknown {
  if (f.repeated) return [];
  if (f.oneof !== "") return undefined;
  const t = f.type;
  if (isMessageType(t)) return null;
  if (isEnumType(t)) return 0;
  switch (t) {
    case "bool":
      return false;
    case "bytes":
      return EMPTY;
    case "string":
      return "";
    case "id64":
      return 0n;
    default:
      return 0;
  }
}

/** A message object with every field at its default. */
export function createMessage(desc: MessageDesc): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  for (const f of desc.fields) obj[f.js] = defaultValue(f);
  return obj;
}

// ---------------------------------------------------------------------------------------------
// Decoding

class DecodeFailure {
  constructor(readonly reason: string) {}
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true });

class Reader {
  pos = 0;
  /** Low and high 32 bits of the last varint read by {@link Reader.varint64}. */
  lo = 0;
  hi = 0;

  constructor(
    readonly buf: Uint8Array,
    public end: number,
  ) {}

  fail(what: string): never {
    throw new DecodeFailure(`${what} at byte ${this.pos}`);
  }

  /** Reads a varint into lo/hi (64 bits; longer or truncated varints are malformed). */
  varint64(): void {
    const b = this.buf;
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail("truncated varint");
      const byte = b[this.pos++] as number;
      if (shift < 28) lo |= (byte & 0x7f) << shift;
      else if (shift === 28) {
        lo |= (byte & 0x0f) << 28;
        hi |= (byte & 0x7f) >>> 4;
      } else hi |= (byte & 0x7f) << (shift - 32);
      if (byte < 0x80) {
        this.lo = lo >>> 0;
        this.hi = hi >>> 0;
        return;
      }
      shift += 7;
    }
    this.fail("varint longer than 10 bytes");
  }

  /** Reads a varint that must fit 32 bits (tags, lengths). */
  uint32(): number {
    const b = this.buf;
    if (this.pos < this.end && (b[this.pos] as number) < 0x80) return b[this.pos++] as number;
    this.varint64();
    if (this.hi !== 0) this.fail("length or tag above 2^32");
    return this.lo;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint64();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.advance(this.uint32());
        return;
      case 5:
        this.advance(4);
        return;
      default:
        this.fail(`unsupported wire type ${wireType}`);
    }
  }

  advance(n: number): void {
    if (n > this.end - this.pos) this.fail("field runs past the end of its message");
    this.pos += n;
  }
}

function readInt(r: Reader, t: ScalarType | EnumDesc): unknown {
  r.varint64();
  if (typeof t === "object") return r.lo | 0; // enum: int32 semantics
  switch (t) {
    case "int64":
      return (r.hi | 0) * 4294967296 + r.lo;
    case "uint64":
      return r.hi * 4294967296 + r.lo;
    case "int32":
      return r.lo | 0;
    case "uint32":
      return r.lo;
    case "bool":
      return r.lo !== 0 || r.hi !== 0;
    case "id64":
      return (BigInt(r.hi) << 32n) | BigInt(r.lo);
    default:
      return r.fail(`field of type ${t} sent as a varint`);
  }
}

function readField(r: Reader, f: FieldDesc, wireType: number, depth: number): unknown {
  const t = f.type;
  if (isMessageType(t)) {
    if (wireType !== 2) r.fail(`message field ${f.name} with wire type ${wireType}`);
    const len = r.uint32();
    if (len > r.end - r.pos) r.fail(`field ${f.name} runs past the end of its message`);
    const end = r.pos + len;
    const outerEnd = r.end;
    r.end = end;
    const value = readMessage(r, t(), depth + 1);
    r.end = outerEnd;
    return value;
  }
  if (t === "bytes" || t === "string") {
    if (wireType !== 2) r.fail(`${t} field ${f.name} with wire type ${wireType}`);
    const len = r.uint32();
    if (len > r.end - r.pos) r.fail(`field ${f.name} runs past the end of its message`);
    const start = r.pos;
    r.pos += len;
    if (t === "bytes") return r.buf.slice(start, start + len);
    try {
      return utf8Decoder.decode(r.buf.subarray(start, start + len));
    } catch {
      return r.fail(`string field ${f.name} is not valid UTF-8`);
    }
  }
  if (wireType !== 0) r.fail(`integer field ${f.name} with wire type ${wireType}`);
  return readInt(r, t);
}

function readMessage(r: Reader, desc: MessageDesc, depth: number): Record<string, unknown> {
  if (depth > decodeDepthMax) r.fail(`messages nested deeper than ${decodeDepthMax}`);
  const obj = createMessage(desc);
  while (r.pos < r.end) {
    const tag = r.uint32();
    const no = tag >>> 3;
    const wireType = tag & 7;
    if (no === 0) r.fail("field number 0");
    const f = desc.byNo.get(no);
    if (f === undefined) {
      r.skip(wireType);
      continue;
    }
    if (!f.repeated) {
      if (f.oneof !== "") for (const g of desc.fields) if (g.oneof === f.oneof) obj[g.js] = undefined;
      obj[f.js] = readField(r, f, wireType, depth);
      continue;
    }
    const list = obj[f.js] as unknown[];
    const t = f.type;
    if (wireType === 2 && !isMessageType(t) && t !== "bytes" && t !== "string") {
      // Packed repeated scalars.
      const len = r.uint32();
      if (len > r.end - r.pos) r.fail(`packed field ${f.name} runs past the end of its message`);
      const outerEnd = r.end;
      r.end = r.pos + len;
      while (r.pos < r.end) list.push(readInt(r, t));
      r.end = outerEnd;
    } else {
      list.push(readField(r, f, wireType, depth));
    }
  }
  if (r.pos !== r.end) r.fail("message runs past its end");
  return obj;
}

/** The result of decoding: the message, or why the bytes are not a valid message. */
export type DecodeResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

/**
 * Decodes `bytes` as a `desc` message. The caller states the JavaScript type `T` matching `desc`
 * (the descriptors and the interfaces in `messages.ts` are kept in step by the tests).
 */
export function decodeMessage<T>(desc: MessageDesc, bytes: Uint8Array): DecodeResult<T> {
  const r = new Reader(bytes, bytes.length);
  try {
    return { ok: true, value: readMessage(r, desc, 0) as T };
  } catch (e) {
    if (e instanceof DecodeFailure) return { ok: false, reason: `${desc.name}: ${e.reason}` };
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding: a size pass (remembering nested message sizes in visit order) then a write pass.

const utf8Encoder = new TextEncoder();

/** Numbers the writer can encode: non-finite becomes 0, fractions are truncated (defensive). */
function norm(n: number): number {
  return Number.isFinite(n) ? Math.trunc(n) : 0;
}

function varintSize(n: number): number {
  n = norm(n);
  if (n < 0) return 10;
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  if (n < 2 ** 35) return 5;
  if (n < 2 ** 42) return 6;
  if (n < 2 ** 49) return 7;
  if (n < 2 ** 56) return 8;
  if (n < 2 ** 63) return 9;
  return 10;
}

/**
 * Varint bytes of recent 64-bit ids: every response header carries the same cluster and member
 * ids, and BigInt arithmetic per header was a visible share of a small response's encoding.
 */
const bigVarintCache = new Map<bigint, Uint8Array>();
const bigVarintCacheMax = 64;

function bigVarintBytes(n: bigint): Uint8Array {
  let bytes = bigVarintCache.get(n);
  if (bytes !== undefined) return bytes;
  const out: number[] = [];
  let v = BigInt.asUintN(64, n);
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  bytes = Uint8Array.from(out);
  if (bigVarintCache.size >= bigVarintCacheMax) bigVarintCache.clear();
  bigVarintCache.set(n, bytes);
  return bytes;
}

function bigVarintSize(n: bigint): number {
  return bigVarintBytes(n).length;
}

/** Whether a non-repeated field holds its default (and so is not written). */
function isDefault(f: FieldDesc, v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (f.oneof !== "") return false;
  const t = f.type;
  if (isMessageType(t)) return false;
  if (typeof v === "number") return v === 0;
  if (typeof v === "boolean") return !v;
  if (typeof v === "bigint") return v === 0n;
  if (typeof v === "string") return v.length === 0;
  return (v as Uint8Array).length === 0;
}

interface SizeState {
  /** Sizes of nested messages, in visit order. */
  readonly sizes: number[];
  /** UTF-8 encodings of strings, in visit order. */
  readonly strings: Uint8Array[];
}

function scalarSize(t: ScalarType | EnumDesc, v: unknown, st: SizeState): number {
  if (typeof t === "object") return varintSize(v as number);
  switch (t) {
    case "bool":
      return 1;
    case "id64":
      return bigVarintSize(v as bigint);
    case "bytes": {
      const n = (v as Uint8Array).length;
      return varintSize(n) + n;
    }
    case "string": {
      const enc = utf8Encoder.encode(v as string);
      st.strings.push(enc);
      return varintSize(enc.length) + enc.length;
    }
    default:
      return varintSize(v as number);
  }
}

/**
 * A sub-message already encoded: {@link encodeMessage} copies its bytes where a message of the
 * field's type goes (for messages sent many times, such as a watch event fanned out to every
 * watcher). Decoding never produces one.
 */
export class Encoded {
  constructor(readonly bytes: Uint8Array) {}
}

function valueSize(f: FieldDesc, v: unknown, st: SizeState): number {
  const tagSize = varintSize(f.no << 3);
  const t = f.type;
  if (v instanceof Encoded) return tagSize + varintSize(v.bytes.length) + v.bytes.length;
  if (isMessageType(t)) {
    const slot = st.sizes.length;
    st.sizes.push(0);
    const n = messageSize(t(), v as Record<string, unknown>, st);
    st.sizes[slot] = n;
    return tagSize + varintSize(n) + n;
  }
  return tagSize + scalarSize(t, v, st);
}

function messageSize(desc: MessageDesc, obj: Record<string, unknown>, st: SizeState): number {
  let size = 0;
  for (const f of desc.fields) {
    const v = obj[f.js];
    if (f.repeated) {
      if (v === undefined) continue;
      for (const item of v as readonly unknown[]) size += valueSize(f, item, st);
    } else if (!isDefault(f, v)) {
      size += valueSize(f, v, st);
    }
  }
  return size;
}

class Writer {
  pos = 0;
  sizeAt = 0;
  stringAt = 0;

  constructor(
    readonly buf: Uint8Array,
    readonly st: SizeState,
  ) {}

  varint(n: number): void {
    const b = this.buf;
    if (n >= 0 && n < 0x80) {
      b[this.pos++] = n;
      return;
    }
    n = norm(n);
    if (n < 0 || n >= 2 ** 53) {
      // Doubles from 2^64 up (a uint64 near the top rounds there) stay 10 bytes: all ones.
      this.bigVarint(n >= 2 ** 64 ? 0xffffffffffffffffn : BigInt(n));
      return;
    }
    while (n >= 0x80) {
      b[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    b[this.pos++] = n;
  }

  bigVarint(n: bigint): void {
    const bytes = bigVarintBytes(n);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  bytes(v: Uint8Array): void {
    this.varint(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }
}

function writeValue(w: Writer, f: FieldDesc, v: unknown): void {
  const t = f.type;
  if (v instanceof Encoded) {
    w.varint((f.no << 3) | 2);
    w.bytes(v.bytes);
    return;
  }
  if (isMessageType(t)) {
    w.varint((f.no << 3) | 2);
    w.varint(w.st.sizes[w.sizeAt++] as number);
    writeMessage(w, t(), v as Record<string, unknown>);
    return;
  }
  if (t === "bytes") {
    w.varint((f.no << 3) | 2);
    w.bytes(v as Uint8Array);
    return;
  }
  if (t === "string") {
    w.varint((f.no << 3) | 2);
    w.bytes(w.st.strings[w.stringAt++] as Uint8Array);
    return;
  }
  w.varint(f.no << 3);
  if (t === "bool") w.varint(v === true ? 1 : 0);
  else if (t === "id64") w.bigVarint(v as bigint);
  else w.varint(v as number);
}

function writeMessage(w: Writer, desc: MessageDesc, obj: Record<string, unknown>): void {
  // Nested sizes were recorded in pre-order; skip this message's own slot is done by the caller.
  for (const f of desc.fields) {
    const v = obj[f.js];
    if (f.repeated) {
      if (v === undefined) continue;
      for (const item of v as readonly unknown[]) writeValue(w, f, item);
    } else if (!isDefault(f, v)) {
      writeValue(w, f, v);
    }
  }
}

/** Encodes `obj` (shaped as {@link decodeMessage} produces; missing fields count as defaults). */
export function encodeMessage(desc: MessageDesc, obj: object): Uint8Array {
  const st: SizeState = { sizes: [], strings: [] };
  const record = obj as Record<string, unknown>;
  const size = messageSize(desc, record, st);
  const w = new Writer(new Uint8Array(size), st);
  writeMessage(w, desc, record);
  if (w.pos !== size) throw new Error(`encodeMessage: ${desc.name} wrote ${w.pos} bytes, sized ${size}`);
  return w.buf;
}

/** The encoded size of `obj` in bytes. */
export function encodedSize(desc: MessageDesc, obj: object): number {
  return messageSize(desc, obj as Record<string, unknown>, { sizes: [], strings: [] });
}
