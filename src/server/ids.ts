import { createHash } from "node:crypto";
import type { NodeId } from "../raft/types.js";

/**
 * Member and cluster ids, derived from flags every member has (SHA-1 of the sorted peer URLs and
 * the cluster token for a member, as etcd; of the token for the cluster) so that every member
 * computes the same ids without talking to the others. Synod keeps the low 53
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

/**
 * The cluster id: a hash of the initial cluster token. etcd hashes the initial members' ids, which
 * a member joining later cannot know without asking; deriving it from the token lets every member,
 * founding or joining, agree on it from its own flags. Hence, as etcd recommends, give every
 * cluster its own `--initial-cluster-token`: peers refuse connections from another cluster id.
 */
export function clusterIdOf(token: string): bigint {
  return first8(createHash("sha1").update("synod-cluster/").update(token).digest());
}

/** Renders an id in etcd's style (lower-case hex, no leading zeros). */
export function hexId(id: NodeId | bigint): string {
  return BigInt(id).toString(16);
}
