import { crc32Update } from "../lib/crc32.js";
import type { Kv } from "./kv.js";
import type { Revision } from "./types.js";

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
