import { createHash } from "node:crypto";
import type { NodeId } from "../raft/types.js";

/**
 * Member and cluster ids, derived as etcd derives them (SHA-1 of the sorted peer URLs and the
 * cluster token; of the sorted member ids for the cluster) so that every member computes the same
 * ids from the same `--initial-cluster` without talking to the others. Synod keeps the low 53
 * bits of etcd's 64-bit value, so ids are exact JavaScript numbers; zero is never used.
 */
const mask53 = (1n << 53n) - 1n;

function first8(hash: Buffer): bigint {
  return hash.readBigUInt64BE(0);
}

/** The id of a member with these peer URLs in a cluster created with `token`. */
export function memberIdOf(peerUrls: readonly string[], token: string): NodeId {
  const h = createHash("sha1");
  for (const url of [...peerUrls].sort()) h.update(url);
  h.update(token);
  const id = Number(first8(h.digest()) & mask53);
  return id === 0 ? 1 : id;
}

/** The cluster id: a hash of the members' ids, as a 64-bit value (etcd's header field). */
export function clusterIdOf(memberIds: readonly NodeId[]): bigint {
  const h = createHash("sha1");
  const b = Buffer.alloc(8);
  for (const id of [...memberIds].sort((x, y) => x - y)) {
    b.writeBigUInt64BE(BigInt(id));
    h.update(b);
  }
  return first8(h.digest());
}

/** Renders an id in etcd's style (lower-case hex, no leading zeros). */
export function hexId(id: NodeId | bigint): string {
  return BigInt(id).toString(16);
}
