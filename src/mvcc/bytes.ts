/**
 * Keys inside the store are "binary strings": one UTF-16 code unit per byte, each in 0–255.
 * V8 stores such strings one byte per character, hashes them natively for `Map` lookups, and `<`
 * on them is exactly the bytewise order etcd uses, so they are the cheapest faithful key type.
 * Bytes cross the public surface as `Uint8Array`; these helpers convert at the edge.
 */

/** A zero-length byte array shared by every empty value; never write into it. */
export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

/** The largest slice converted by one `String.fromCharCode.apply` call (stays well below stack limits). */
const applyChunkBytes = 8192;

/** Converts bytes to a binary string (one char per byte). */
export function bytesToBinary(bytes: Uint8Array): string {
  if (bytes.length <= applyChunkBytes) {
    return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  const parts: string[] = [];
  for (let at = 0; at < bytes.length; at += applyChunkBytes) {
    const part = bytes.subarray(at, Math.min(bytes.length, at + applyChunkBytes));
    parts.push(String.fromCharCode.apply(null, part as unknown as number[]));
  }
  return parts.join("");
}

/** Converts a binary string back to a fresh byte array. */
export function binaryToBytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

/** Bytewise comparison: negative, zero or positive as `a` sorts before, equal to or after `b`. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Whether two byte arrays hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The `range_end` that selects every key with `prefix` (etcd's `getPrefix`): increment the last
 * byte below 0xff and drop what follows; a prefix of only 0xff bytes (or an empty one) gives
 * `"\0"`, meaning "no upper bound".
 */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  for (let i = prefix.length - 1; i >= 0; i--) {
    const b = prefix[i] ?? 0;
    if (b < 0xff) {
      const end = prefix.slice(0, i + 1);
      end[i] = b + 1;
      return end;
    }
  }
  return new Uint8Array([0]);
}

/** Encodes text as UTF-8 bytes; a convenience for tests, tools and docs examples. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Decodes UTF-8 bytes to text; a convenience for tests, tools and docs examples. */
export function fromUtf8(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `parts` joined into one array; `length` is their total length when the caller knows it. */
export function concatBytes(parts: readonly Uint8Array[], length = -1): Uint8Array {
  let total = length;
  if (total < 0) {
    total = 0;
    for (const p of parts) total += p.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
