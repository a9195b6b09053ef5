import { Progress } from "./progress.js";
import { jointIndex, jointVote, type VoteResult } from "./quorum.js";
import type { ConfState, Index, NodeId } from "./types.js";

/** A membership configuration in the form the core computes with. */
export interface TrackerConfig {
  readonly voters: ReadonlySet<NodeId>;
  readonly votersOutgoing: ReadonlySet<NodeId>;
  readonly learners: ReadonlySet<NodeId>;
  readonly learnersNext: ReadonlySet<NodeId>;
  readonly autoLeave: boolean;
}

const sorted = (s: ReadonlySet<NodeId>): NodeId[] => [...s].sort((a, b) => a - b);

/** Converts to the persisted form (sorted id lists). */
export function toConfState(c: TrackerConfig): ConfState {
  return {
    voters: sorted(c.voters),
    votersOutgoing: sorted(c.votersOutgoing),
    learners: sorted(c.learners),
    learnersNext: sorted(c.learnersNext),
    autoLeave: c.autoLeave,
  };
}

export function fromConfState(cs: ConfState): TrackerConfig {
  return {
    voters: new Set(cs.voters),
    votersOutgoing: new Set(cs.votersOutgoing),
    learners: new Set(cs.learners),
    learnersNext: new Set(cs.learnersNext),
    autoLeave: cs.autoLeave,
  };
}

export function isJoint(c: TrackerConfig): boolean {
  return c.votersOutgoing.size > 0;
}

/** Every node the configuration mentions (voters of both halves and learners). */
export function configMembers(c: TrackerConfig): Set<NodeId> {
  return new Set([...c.voters, ...c.votersOutgoing, ...c.learners, ...c.learnersNext]);
}

/** Tuning for new {@link Progress} records. */
export interface ProgressLimits {
  readonly inflightMessagesMax: number;
  readonly inflightBytesMax: number;
}

/** The leader's (and candidates') view of the cluster: configuration, progress, votes. */
export class ProgressTracker {
  config: TrackerConfig;
  progress: Map<NodeId, Progress> = new Map();
  votes: Map<NodeId, boolean> = new Map();
  readonly limits: ProgressLimits;

  constructor(config: TrackerConfig, limits: ProgressLimits) {
    this.config = config;
    this.limits = limits;
  }

  newProgress(next: Index, isLearner: boolean): Progress {
    return new Progress(next, isLearner, this.limits.inflightMessagesMax, this.limits.inflightBytesMax);
  }

  isVoter(id: NodeId): boolean {
    return this.config.voters.has(id) || this.config.votersOutgoing.has(id);
  }

  isMember(id: NodeId): boolean {
    return this.progress.has(id);
  }

  /** The voters of both halves, ascending (a deterministic order for sending). */
  voterIds(): NodeId[] {
    return sorted(new Set([...this.config.voters, ...this.config.votersOutgoing]));
  }

  /** Whether this is a one-voter, non-joint configuration. */
  isSingleton(): boolean {
    return this.config.voters.size === 1 && this.config.votersOutgoing.size === 0;
  }

  /** The highest index durably replicated on a quorum. */
  committed(): Index {
    return jointIndex(
      this.config.voters,
      this.config.votersOutgoing,
      (id) => this.progress.get(id)?.match ?? 0,
    );
  }

  /** The highest heartbeat round acknowledged by a quorum (the leader counts as `own`). */
  quorumAckedRound(self: NodeId, own: number): number {
    return jointIndex(this.config.voters, this.config.votersOutgoing, (id) =>
      id === self ? own : (this.progress.get(id)?.ackedRound ?? 0),
    );
  }

  /** Whether a quorum was heard from recently (the leader counts itself as active). */
  quorumActive(self: NodeId): boolean {
    const votes = new Map<NodeId, boolean>();
    for (const [id, pr] of this.progress) {
      if (!pr.isLearner) votes.set(id, id === self || pr.recentActive);
    }
    return jointVote(this.config.voters, this.config.votersOutgoing, votes) === "won";
  }

  resetVotes(): void {
    this.votes = new Map();
  }

  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voterIds()) {
      const v = this.votes.get(id);
      if (v === true) granted++;
      else if (v === false) rejected++;
    }
    return {
      granted,
      rejected,
      result: jointVote(this.config.voters, this.config.votersOutgoing, this.votes),
    };
  }
}
