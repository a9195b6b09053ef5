import { assert } from "../lib/assert.js";
import { type Logger, noopLogger } from "../lib/logger.js";
import type { Rng } from "../lib/rng.js";
import type { Storage } from "./storage.js";
import type { Index, NodeId } from "./types.js";

/** How ReadIndex requests are confirmed. */
export const ReadOnlyOption = {
  /** Confirm leadership with a quorum heartbeat round for every batch of reads (default). */
  safe: "safe",
  /** Answer at once while the leader holds a quorum lease (needs CheckQuorum); falls back to safe. */
  leaseBased: "leaseBased",
} as const;
export type ReadOnlyOption = (typeof ReadOnlyOption)[keyof typeof ReadOnlyOption];

/**
 * Deliberate protocol bugs, for proving that the simulator finds them. Never set outside tests.
 * - `commitByCountingOldTerms`: commit an entry of an earlier term by counting replicas (§5.4.2).
 * - `voteWithoutPersist`: grant votes without recording the vote in the hard state.
 * - `ignoreLogUpToDate`: grant votes regardless of the candidate's log (§5.4.1).
 */
export interface InjectedBugs {
  readonly commitByCountingOldTerms?: boolean;
  readonly voteWithoutPersist?: boolean;
  readonly ignoreLogUpToDate?: boolean;
}

/** Settings of one Raft node. Every limit has a default; see {@link resolveConfig}. */
export interface RaftConfig {
  /** This node's id; a positive safe integer. */
  readonly id: NodeId;
  readonly storage: Storage;
  /** Seeded randomness for election timeouts. */
  readonly rng: Rng;
  /** Ticks without hearing from a leader before a follower campaigns (randomised to [n, 2n)). Default 10. */
  readonly electionTicks?: number;
  /** Ticks between leader heartbeats. Default 1. Must be below `electionTicks`. */
  readonly heartbeatTicks?: number;
  /** The last index the state machine applied before this start (restarts). Default 0. */
  readonly applied?: Index;
  /** Entry bytes (data + per-entry overhead, see `entryBytes`) per append message; at least one entry is always sent. Default 1 MiB. */
  readonly entriesBytesPerMessageMax?: number;
  /** Appends in flight per follower in replicate state. Default 64. */
  readonly inflightMessagesMax?: number;
  /** Entry bytes in flight per follower (0 = unlimited). Default 8 MiB. */
  readonly inflightBytesMax?: number;
  /** Data bytes of uncommitted entries the leader accepts before refusing proposals. Default 64 MiB. */
  readonly uncommittedBytesMax?: number;
  /** Entry bytes of committed entries handed out per Ready. Default 16 MiB. */
  readonly committedBytesPerReadyMax?: number;
  /** ReadIndex requests waiting for the leader's first commit in its term. Default 4096. */
  readonly readIndexPendingMax?: number;
  /** Default true. */
  readonly preVote?: boolean;
  /** Default true. */
  readonly checkQuorum?: boolean;
  /** Default `safe`. `leaseBased` requires `checkQuorum`. */
  readonly readOnlyOption?: ReadOnlyOption;
  /** Ticks subtracted from the lease as a margin for clock drift. Default max(1, electionTicks / 10). */
  readonly leaseMarginTicks?: number;
  /** Whether a leader removed (or demoted) by a committed configuration steps down. Default true. */
  readonly stepDownOnRemoval?: boolean;
  /** Whether followers refuse to forward proposals to the leader. Default false. */
  readonly disableProposalForwarding?: boolean;
  /**
   * Set by the driver when recovery found and cut away damage in the durable log, so entries this
   * node once acknowledged may be gone (protocol-aware recovery). Until a leader has brought its
   * log up to that leader's commit index, the node neither votes nor campaigns: otherwise its
   * shortened log could help elect a leader missing committed entries. Default false.
   */
  readonly abstainUntilCaughtUp?: boolean;
  readonly logger?: Logger;
  /** Test-only protocol bugs; see {@link InjectedBugs}. */
  readonly bugs?: InjectedBugs;
}

/** A {@link RaftConfig} with every default filled in. */
export type ResolvedConfig = Required<Omit<RaftConfig, "bugs">> & { readonly bugs: InjectedBugs };

function positive(name: string, value: number): number {
  assert(
    Number.isSafeInteger(value) && value > 0,
    `RaftConfig: '${name}' must be a positive integer, got ${value}`,
  );
  return value;
}

/** Validates `c` and fills in defaults; a bad setting is a programmer error. */
export function resolveConfig(c: RaftConfig): ResolvedConfig {
  positive("id", c.id);
  const electionTicks = positive("electionTicks", c.electionTicks ?? 10);
  const heartbeatTicks = positive("heartbeatTicks", c.heartbeatTicks ?? 1);
  assert(heartbeatTicks < electionTicks, "RaftConfig: 'heartbeatTicks' must be below 'electionTicks'");
  const checkQuorum = c.checkQuorum ?? true;
  const readOnlyOption = c.readOnlyOption ?? ReadOnlyOption.safe;
  assert(
    readOnlyOption !== ReadOnlyOption.leaseBased || checkQuorum,
    "RaftConfig: lease-based reads need 'checkQuorum' (a leader must step down when it loses its quorum)",
  );
  const inflightBytesMax = c.inflightBytesMax ?? 8 * 1024 * 1024;
  assert(
    inflightBytesMax >= 0,
    `RaftConfig: 'inflightBytesMax' must not be negative, got ${inflightBytesMax}`,
  );
  return {
    id: c.id,
    storage: c.storage,
    rng: c.rng,
    electionTicks,
    heartbeatTicks,
    applied: c.applied ?? 0,
    entriesBytesPerMessageMax: positive(
      "entriesBytesPerMessageMax",
      c.entriesBytesPerMessageMax ?? 1024 * 1024,
    ),
    inflightMessagesMax: positive("inflightMessagesMax", c.inflightMessagesMax ?? 64),
    inflightBytesMax,
    uncommittedBytesMax: positive("uncommittedBytesMax", c.uncommittedBytesMax ?? 64 * 1024 * 1024),
    committedBytesPerReadyMax: positive(
      "committedBytesPerReadyMax",
      c.committedBytesPerReadyMax ?? 16 * 1024 * 1024,
    ),
    readIndexPendingMax: positive("readIndexPendingMax", c.readIndexPendingMax ?? 4096),
    preVote: c.preVote ?? true,
    checkQuorum,
    readOnlyOption,
    leaseMarginTicks: c.leaseMarginTicks ?? Math.max(1, Math.floor(electionTicks / 10)),
    stepDownOnRemoval: c.stepDownOnRemoval ?? true,
    disableProposalForwarding: c.disableProposalForwarding ?? false,
    abstainUntilCaughtUp: c.abstainUntilCaughtUp ?? false,
    logger: c.logger ?? noopLogger,
    bugs: c.bugs ?? {},
  };
}
