/**
 * When a member takes its next local snapshot. etcd takes one every `--snapshot-count` applied
 * entries, so the members of a cluster, which apply the same entries, all take theirs at the same
 * index, at the same moment: each encodes and writes a copy of the whole state while the others do
 * the same, on machines that often share disks and cores (and always do in tests and benchmarks).
 * Staggered, each member keeps the same interval but its own phase: member `i` of `n` (by id)
 * snapshots at indexes `phase + k·count`, `phase = ⌊i·count/n⌋`, so the three members of a cluster
 * take theirs a third of an interval apart and a commit always has a quorum not busy snapshotting.
 */
import type { NodeId } from "../raft/types.js";

/** This member's phase: `⌊i·count/n⌋` for its position `i` among the `n` member ids (0 if absent). */
export function snapshotPhase(ids: Iterable<NodeId>, self: NodeId, count: number): number {
  let below = 0;
  let n = 0;
  let present = false;
  for (const id of ids) {
    n++;
    if (id < self) below++;
    else if (id === self) present = true;
  }
  return present ? Math.floor((below * count) / n) : 0;
}

/**
 * The applied index at which the next snapshot is due, after one at `snapIndex`: `snapIndex +
 * count` unstaggered (`phase` null); staggered, the first index of the phase (`≡ phase` modulo
 * `count`) at least half an interval after `snapIndex`. In the steady state that is exactly `count`
 * later; after a start, a restart or a snapshot installed from the leader, the first interval is
 * between half and one and a half of `count`.
 */
export function snapshotDueIndex(snapIndex: number, count: number, phase: number | null): number {
  if (phase === null) return snapIndex + count;
  const from = snapIndex + Math.ceil(count / 2);
  return from + ((((phase - from) % count) + count) % count);
}
