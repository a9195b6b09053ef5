import type { Index, NodeId } from "./types.js";

/** The outcome of an election tally. */
export const VoteResult = { pending: "pending", won: "won", lost: "lost" } as const;
export type VoteResult = (typeof VoteResult)[keyof typeof VoteResult];

/**
 * The largest index acknowledged by a majority of `voters`, given each voter's acknowledged index.
 * An empty set places no constraint (returns +Infinity), so it composes with joint configurations.
 */
export function majorityIndex(voters: ReadonlySet<NodeId>, acked: (id: NodeId) => Index): Index {
  const n = voters.size;
  if (n === 0) return Number.POSITIVE_INFINITY;
  if (n === 1) {
    for (const id of voters) return acked(id);
  }
  const values: number[] = [];
  for (const id of voters) values.push(acked(id));
  values.sort((a, b) => b - a);
  return values[Math.floor(n / 2)] as number;
}

/** The index acknowledged by a majority of both halves of a (possibly joint) configuration. */
export function jointIndex(
  incoming: ReadonlySet<NodeId>,
  outgoing: ReadonlySet<NodeId>,
  acked: (id: NodeId) => Index,
): Index {
  return Math.min(majorityIndex(incoming, acked), majorityIndex(outgoing, acked));
}

/** Tallies votes of one majority configuration (an empty set wins). */
export function majorityVote(voters: ReadonlySet<NodeId>, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.size === 0) return VoteResult.won;
  let yes = 0;
  let missing = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === undefined) missing++;
    else if (v) yes++;
  }
  const q = Math.floor(voters.size / 2) + 1;
  if (yes >= q) return VoteResult.won;
  if (yes + missing >= q) return VoteResult.pending;
  return VoteResult.lost;
}

/** Tallies votes of a joint configuration: it needs both halves to win. */
export function jointVote(
  incoming: ReadonlySet<NodeId>,
  outgoing: ReadonlySet<NodeId>,
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  const a = majorityVote(incoming, votes);
  const b = majorityVote(outgoing, votes);
  if (a === b) return a;
  if (a === VoteResult.lost || b === VoteResult.lost) return VoteResult.lost;
  return VoteResult.pending;
}
