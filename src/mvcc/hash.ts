import type { Kv } from "./kv.js";
import type { Revision } from "./types.js";

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

/**
 * HashKV: CRC-32 over the retained history with main revision `<= rev`, in revision order,
 * preceded by the compact revision. Each record contributes its revision, key, create revision,
 * version, lease and value (tombstones: revision and key only, flagged). Members that applied the
 * same commands, or restored a snapshot of such a member, agree on it; it is not comparable with
 * real etcd's hash.
 */
export function hashKv(kv: Kv, rev: Revision): number {
  const h = kv.history;
  const head = new Uint8Array(45);
  const view = new DataView(head.buffer);
  view.setFloat64(0, kv.compactRevision);
  let crc = crc32Update(0, head.subarray(0, 8));
  for (let i = 0; i < h.orderLength; i++) {
    const slot = h.order[i] as number;
    const main = h.main(slot);
    if (main > rev) break;
    const version = h.version(slot);
    const key = kv.keyBytesOf(slot);
    view.setFloat64(0, main);
    view.setUint32(8, h.sub(slot));
    view.setFloat64(12, h.create(slot));
    view.setFloat64(20, version);
    view.setFloat64(28, h.lease(slot));
    view.setUint32(36, h.valLen(slot));
    view.setUint32(40, key.length);
    view.setUint8(44, version === 0 ? 1 : 0);
    crc = crc32Update(crc, head);
    crc = crc32Update(crc, key);
    if (version !== 0) crc = crc32Update(crc, kv.valueOf(slot));
  }
  return crc;
}
