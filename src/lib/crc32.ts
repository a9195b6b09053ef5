// CRC-32 (IEEE 802.3) in pure code, with an optional native implementation supplied by the host.

/**
 * CRC-32 (IEEE) lookup tables for slicing-by-4, as signed 32-bit values: V8 reads Int32Array
 * elements as small integers, Uint32Array elements of 2^31 and more as heap numbers.
 */
const tables: Int32Array[] = (() => {
  const t0 = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t0[n] = c;
  }
  const out = [t0];
  for (let k = 1; k < 4; k++) {
    const prev = out[k - 1] as Int32Array;
    const t = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      const p = prev[n] as number;
      t[n] = (p >>> 8) ^ (t0[p & 0xff] as number);
    }
    out.push(t);
  }
  return out;
})();

/**
 * Incremental CRC-32 (IEEE 802.3, the polynomial of Go's `crc32.IEEE`). Start from 0, feed
 * bytes with {@link crc32Update}, and the running value is the CRC of everything fed so far.
 */
export function crc32Update(crc: number, bytes: Uint8Array): number {
  if (native !== null && bytes.length >= nativeMinBytes) return native(bytes, crc);
  return crc32Js(crc, bytes);
}

/** Runs shorter than this go to the JS loop even with a native implementation (call overhead). */
const nativeMinBytes = 256;

/** A native CRC-32 with the same polynomial (Node's `zlib.crc32(data, value)`), if supplied. */
let native: ((bytes: Uint8Array, crc: number) => number) | null = null;

/**
 * Lets the host supply a native CRC-32 (IEEE) for long inputs: `useNativeCrc32(zlib.crc32)`.
 * Pure layers cannot import it themselves; results are identical either way.
 */
export function useNativeCrc32(f: ((bytes: Uint8Array, crc: number) => number) | null): void {
  native = f;
}

/** The pure JS CRC-32 update (slicing-by-4), whatever {@link useNativeCrc32} supplied. */
export function crc32Js(crc: number, bytes: Uint8Array): number {
  const [t0, t1, t2, t3] = tables as [Int32Array, Int32Array, Int32Array, Int32Array];
  let c = ~crc | 0;
  let i = 0;
  const n = bytes.length;
  for (; i + 4 <= n; i += 4) {
    c ^=
      (bytes[i] as number) |
      ((bytes[i + 1] as number) << 8) |
      ((bytes[i + 2] as number) << 16) |
      ((bytes[i + 3] as number) << 24);
    c =
      (t3[c & 0xff] as number) ^
      (t2[(c >>> 8) & 0xff] as number) ^
      (t1[(c >>> 16) & 0xff] as number) ^
      (t0[c >>> 24] as number);
  }
  for (; i < n; i++) c = (t0[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}
