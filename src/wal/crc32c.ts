/**
 * CRC-32C (Castagnoli), the checksum of every WAL record and snapshot file.
 *
 * Reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF, so that
 * `crc32c("123456789") === 0xE3069283` (RFC 3720 §B.4). Table-driven, eight bytes per step
 * ("slicing-by-8"): eight 256-entry tables, where table k gives the CRC contribution of a byte
 * followed by k zero bytes. Pure and synchronous.
 */

const POLY = 0x82f63b78;

/**
 * `tables[k * 256 + b]`: CRC state after byte `b` followed by `k` zero bytes, as signed 32-bit
 * values: V8 reads Int32Array elements as small integers, while Uint32Array elements of 2^31 and
 * more become heap numbers (signed tables made the loop 1.7 times faster).
 */
const tables = buildTables();

function buildTables(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[b] = c;
  }
  for (let k = 1; k < 8; k++) {
    for (let b = 0; b < 256; b++) {
      const prev = t[(k - 1) * 256 + b] as number;
      t[k * 256 + b] = (prev >>> 8) ^ (t[prev & 0xff] as number);
    }
  }
  return t;
}

/**
 * Continues a CRC-32C over `bytes[start, end)`. `crc` is a previous result (0 to start afresh), so
 * `crc32cUpdate(crc32c(a), b)` equals `crc32c(a ++ b)`. Returns an unsigned 32-bit value.
 */
export function crc32cUpdate(crc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = ~crc | 0;
  let i = start;
  const t = tables;
  for (; i + 8 <= end; i += 8) {
    const lo =
      c ^
      ((bytes[i] as number) |
        ((bytes[i + 1] as number) << 8) |
        ((bytes[i + 2] as number) << 16) |
        ((bytes[i + 3] as number) << 24));
    c =
      (t[1792 + (lo & 0xff)] as number) ^
      (t[1536 + ((lo >>> 8) & 0xff)] as number) ^
      (t[1280 + ((lo >>> 16) & 0xff)] as number) ^
      (t[1024 + (lo >>> 24)] as number) ^
      (t[768 + (bytes[i + 4] as number)] as number) ^
      (t[512 + (bytes[i + 5] as number)] as number) ^
      (t[256 + (bytes[i + 6] as number)] as number) ^
      (t[bytes[i + 7] as number] as number);
  }
  for (; i < end; i++) c = (c >>> 8) ^ (t[(c ^ (bytes[i] as number)) & 0xff] as number);
  return ~c >>> 0;
}

/** CRC-32C of `bytes[start, end)` (the whole array by default); an unsigned 32-bit value. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc32cUpdate(0, bytes, start, end);
}
