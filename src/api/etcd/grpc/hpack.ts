/**
 * Just enough HPACK (RFC 7541) to read a client's header blocks and write them out again: a
 * stateful decoder (static and dynamic tables, Huffman-coded strings, table size updates) and an
 * encoder that writes every field as a literal without indexing and without Huffman coding, so a
 * decoder reading the encoder's output never adds anything to its dynamic table. Pure: no `node:*`.
 */

/** One header field as raw bytes. */
export interface HeaderField {
  readonly name: Uint8Array;
  readonly value: Uint8Array;
  /** Sent as "never indexed" (RFC 7541 §6.2.3); kept so on re-encoding. */
  readonly sensitive: boolean;
}

/** A decoded field: its bytes and the same as latin1 text (one char per octet). */
export interface DecodedField extends HeaderField {
  readonly nameText: string;
  readonly valueText: string;
}

/** `bytes` as latin1 text: each octet one UTF-16 unit, as header values are read. */
export function latin1Text(bytes: Uint8Array): string {
  if (bytes.length <= 64) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  let out = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + 4096) as unknown as number[]);
  }
  return out;
}

/** A table entry: name and value as bytes and as text. */
type Entry = readonly [Uint8Array, Uint8Array, string, string];

/** Why a header block could not be decoded (a COMPRESSION_ERROR for the connection). */
export class HpackError extends Error {}

const enc = new TextEncoder();

/** RFC 7541 Appendix A, index 1..61. */
const staticTable: readonly (readonly [string, string])[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];
const staticFields: readonly Entry[] = staticTable.map(([n, v]) => [enc.encode(n), enc.encode(v), n, v]);

/**
 * Bit lengths of the Huffman code of each octet and of EOS (symbol 256), RFC 7541 Appendix B. The
 * code is canonical (codes of one length are consecutive, in symbol order, and shorter codes come
 * first), so the lengths define it.
 */
// biome-ignore format: a table, 16 symbols a row
const huffmanLengths: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

/** Symbol for each (length, code): per length, the first code and the symbols in code order. */
interface CanonicalCode {
  /** `firstCode[len]`: the code of the first symbol of that length. */
  readonly firstCode: readonly number[];
  /** `symbols[len]`: symbols of that length in code order. */
  readonly symbols: readonly (readonly number[])[];
  /** `codes[sym]`: the code of each symbol (right-aligned). */
  readonly codes: readonly number[];
}

function canonical(lengths: readonly number[]): CanonicalCode {
  const maxLen = Math.max(...lengths);
  const symbols: number[][] = Array.from({ length: maxLen + 1 }, () => []);
  lengths.forEach((len, sym) => {
    (symbols[len] as number[]).push(sym);
  });
  const firstCode: number[] = new Array(maxLen + 1).fill(0);
  const codes: number[] = new Array(lengths.length).fill(0);
  let code = 0;
  for (let len = 1; len <= maxLen; len++) {
    code = code * 2; // shift left; may exceed 2^31, so no bit operators
    firstCode[len] = code;
    for (const sym of symbols[len] as number[]) codes[sym] = code++;
  }
  return { firstCode, symbols, codes };
}

export const huffman: CanonicalCode = canonical(huffmanLengths);

/** Decodes a Huffman-coded string (RFC 7541 §5.2); padding must be at most 7 one-bits, EOS is an error. */
export function huffmanDecode(bytes: Uint8Array): Uint8Array {
  const out: number[] = [];
  let code = 0;
  let len = 0;
  let onesOnly = true;
  for (const byte of bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      const b = (byte >> bit) & 1;
      code = code * 2 + b;
      len++;
      if (b === 0) onesOnly = false;
      const syms = huffman.symbols[len];
      if (syms !== undefined && syms.length > 0) {
        const offset = code - (huffman.firstCode[len] as number);
        if (offset >= 0 && offset < syms.length) {
          const sym = syms[offset] as number;
          if (sym === 256) throw new HpackError("Huffman-coded string contains EOS");
          out.push(sym);
          code = 0;
          len = 0;
          onesOnly = true;
          continue;
        }
      }
      if (len > 30) throw new HpackError("invalid Huffman code");
    }
  }
  if (len > 7 || !onesOnly) throw new HpackError("invalid Huffman padding");
  return Uint8Array.from(out);
}

/** Huffman-encodes `bytes` (used by tests to build client-like header blocks). */
export function huffmanEncode(bytes: Uint8Array): Uint8Array {
  const out: number[] = [];
  let acc = 0;
  let accLen = 0;
  const pushBits = (code: number, len: number): void => {
    for (let i = len - 1; i >= 0; i--) {
      acc = (acc << 1) | (Math.floor(code / 2 ** i) & 1);
      accLen++;
      if (accLen === 8) {
        out.push(acc);
        acc = 0;
        accLen = 0;
      }
    }
  };
  for (const b of bytes) pushBits(huffman.codes[b] as number, huffmanLengths[b] as number);
  if (accLen > 0) pushBits(0xff, 8 - accLen);
  return Uint8Array.from(out);
}

/** A cursor over a header block. */
class Reader {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.bytes.length;
  }

  byte(): number {
    const b = this.bytes[this.pos];
    if (b === undefined) throw new HpackError("header block truncated");
    this.pos++;
    return b;
  }

  /** An integer with an N-bit prefix (RFC 7541 §5.1); `first` is the byte holding the prefix. */
  integer(first: number, prefixBits: number): number {
    const max = (1 << prefixBits) - 1;
    let value = first & max;
    if (value < max) return value;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      value += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) break;
      if (shift > 28) throw new HpackError("integer too large");
    }
    return value;
  }

  /**
   * A string literal; a plain one is copied only when `keep` (it goes into the dynamic table),
   * otherwise it is a view of the block, valid while the block is.
   */
  string(keep: boolean): Uint8Array {
    const first = this.byte();
    const len = this.integer(first, 7);
    if (this.pos + len > this.bytes.length) throw new HpackError("header block truncated");
    const raw = this.bytes.subarray(this.pos, this.pos + len);
    this.pos += len;
    if ((first & 0x80) !== 0) return huffmanDecode(raw);
    return keep ? raw.slice() : raw;
  }
}

/** The decoder side of one connection's HPACK context (RFC 7541 §2.3). */
export class HpackDecoder {
  /** Newest first. */
  readonly #dynamic: Entry[] = [];
  #size = 0;
  #maxSize: number;
  /** The limit the decoder announced (SETTINGS_HEADER_TABLE_SIZE); size updates may not exceed it. */
  readonly #settingsMax: number;

  constructor(tableSizeSetting = 4096) {
    this.#settingsMax = tableSizeSetting;
    this.#maxSize = tableSizeSetting;
  }

  /** Current dynamic table size in RFC 7541 units (octets of name and value plus 32 per entry). */
  get tableSize(): number {
    return this.#size;
  }

  /**
   * Decodes one complete header block, updating the dynamic table. Throws {@link HpackError}.
   * Fields not added to the table may be views of `block`: copy them to keep them past it.
   */
  decode(block: Uint8Array): DecodedField[] {
    const r = new Reader(block);
    const out: DecodedField[] = [];
    let fieldSeen = false;
    while (!r.done) {
      const b = r.byte();
      if ((b & 0x80) !== 0) {
        const [name, value, nameText, valueText] = this.#lookup(r.integer(b, 7));
        out.push({ name, value, nameText, valueText, sensitive: false });
        fieldSeen = true;
      } else if ((b & 0x40) !== 0) {
        const index = r.integer(b, 6);
        const entry = index === 0 ? null : this.#lookup(index);
        const name = entry === null ? r.string(true) : entry[0];
        const nameText = entry === null ? latin1Text(name) : entry[2];
        const value = r.string(true);
        const valueText = latin1Text(value);
        this.#insert([name, value, nameText, valueText]);
        out.push({ name, value, nameText, valueText, sensitive: false });
        fieldSeen = true;
      } else if ((b & 0x20) !== 0) {
        if (fieldSeen) throw new HpackError("dynamic table size update after a header field");
        const size = r.integer(b, 5);
        if (size > this.#settingsMax) throw new HpackError("dynamic table size update above the limit");
        this.#maxSize = size;
        this.#evict(0);
      } else {
        const index = r.integer(b, 4);
        const entry = index === 0 ? null : this.#lookup(index);
        const name = entry === null ? r.string(false) : entry[0];
        const nameText = entry === null ? latin1Text(name) : entry[2];
        const value = r.string(false);
        out.push({ name, value, nameText, valueText: latin1Text(value), sensitive: (b & 0x10) !== 0 });
        fieldSeen = true;
      }
    }
    return out;
  }

  #lookup(index: number): Entry {
    if (index === 0) throw new HpackError("index 0");
    const s = staticFields[index - 1];
    if (s !== undefined) return s;
    const d = this.#dynamic[index - staticFields.length - 1];
    if (d === undefined) throw new HpackError(`index ${index} is beyond the tables`);
    return d;
  }

  #insert(entry: Entry): void {
    const size = entry[0].length + entry[1].length + 32;
    this.#evict(size);
    if (size <= this.#maxSize) {
      this.#dynamic.unshift(entry);
      this.#size += size;
    }
  }

  /** Evicts the oldest entries until `incoming` more octets fit. */
  #evict(incoming: number): void {
    while (this.#dynamic.length > 0 && this.#size + incoming > this.#maxSize) {
      const [n, v] = this.#dynamic.pop() as Entry;
      this.#size -= n.length + v.length + 32;
    }
  }
}

function writeInteger(out: number[], firstBits: number, prefixBits: number, value: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(firstBits | value);
    return;
  }
  out.push(firstBits | max);
  let rest = value - max;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

function writeString(out: number[], s: Uint8Array): void {
  writeInteger(out, 0, 7, s.length);
  for (const b of s) out.push(b);
}

/**
 * Encodes fields as literals without indexing (or never indexed, when sensitive) with new names and
 * plain strings: the receiving decoder's dynamic table is never touched.
 */
export function encodeLiterals(fields: readonly HeaderField[]): Uint8Array {
  const out: number[] = [];
  for (const f of fields) {
    out.push(f.sensitive ? 0x10 : 0x00);
    writeString(out, f.name);
    writeString(out, f.value);
  }
  return Uint8Array.from(out);
}
