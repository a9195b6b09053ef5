/**
 * The values the Raft core consumes and produces. Everything here is plain data, so the server can
 * encode it for the wire and the WAL, and the simulator can copy, drop, duplicate and reorder it.
 *
 * Term, Index and NodeId are plain numbers: the core does arithmetic on them in its hot paths,
 * and all three stay far below 2^53 (a node id of 0 means "none").
 */

/** A Raft term; 0 before any election. */
export type Term = number;
/** A log index; the first real entry is at index 1, index 0 is the empty log's sentinel. */
export type Index = number;
/** A member id; must be a positive safe integer. {@link NONE} means "no node". */
export type NodeId = number;

/** The id used for "no node" (no leader known, no vote cast). */
export const NONE: NodeId = 0;

/** The kinds of log entries. */
export const EntryType = {
  /** Application data (an empty `data` is the leader's no-op). */
  normal: 0,
  /** A configuration change; `data` is an encoded {@link ConfChange}. */
  confChange: 1,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/** One log entry. */
export interface Entry {
  readonly term: Term;
  readonly index: Index;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** Term, vote and commit, persisted together as one atomic record before dependent messages. */
export interface HardState {
  readonly term: Term;
  readonly vote: NodeId;
  readonly commit: Index;
}

/**
 * A membership configuration. In a joint configuration both `voters` (incoming) and
 * `votersOutgoing` are non-empty and decisions need a majority of each.
 * `learnersNext` holds voters of the outgoing half that become learners on leaving the joint state.
 */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly votersOutgoing: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly learnersNext: readonly NodeId[];
  /** Whether the leader leaves the joint configuration by itself once it is applied. */
  readonly autoLeave: boolean;
}

/** Where a snapshot stands in the log, and the configuration as of that index. */
export interface SnapshotMetadata {
  readonly index: Index;
  readonly term: Term;
  readonly confState: ConfState;
}

/** A state-machine snapshot at an exact log index. */
export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  readonly data: Uint8Array;
}

/** The kinds of single membership changes. */
export const ConfChangeType = {
  addNode: "addNode",
  addLearner: "addLearner",
  removeNode: "removeNode",
} as const;
export type ConfChangeType = (typeof ConfChangeType)[keyof typeof ConfChangeType];

/** One membership change of one node. */
export interface ConfChangeSingle {
  readonly type: ConfChangeType;
  readonly nodeId: NodeId;
}

/**
 * How a configuration change is carried out.
 * - `auto`: a single voter change is applied directly; anything else goes through a joint
 *   configuration that the leader leaves by itself.
 * - `jointImplicit`: always joint, left automatically.
 * - `jointExplicit`: always joint, left only when an empty change is proposed.
 */
export const ConfChangeTransition = {
  auto: "auto",
  jointImplicit: "jointImplicit",
  jointExplicit: "jointExplicit",
} as const;
export type ConfChangeTransition = (typeof ConfChangeTransition)[keyof typeof ConfChangeTransition];

/**
 * A membership change (etcd's ConfChangeV2). An empty `changes` list leaves a joint configuration.
 */
export interface ConfChange {
  readonly transition: ConfChangeTransition;
  readonly changes: readonly ConfChangeSingle[];
  /** Opaque application data carried with the change (e.g. the new member's address). */
  readonly context: Uint8Array;
}

/** The kinds of Raft messages. Local kinds never cross the network. */
export const MessageType = {
  /** Local: start an election (after an election timeout or when asked to campaign). */
  hup: "hup",
  /** Local: the leader's heartbeat timer fired. */
  beat: "beat",
  /** Local: the leader checks that it heard from a quorum. */
  checkQuorum: "checkQuorum",
  /** A proposal; local, or forwarded from a follower to the leader. */
  prop: "prop",
  app: "app",
  appResp: "appResp",
  vote: "vote",
  voteResp: "voteResp",
  preVote: "preVote",
  preVoteResp: "preVoteResp",
  snap: "snap",
  heartbeat: "heartbeat",
  heartbeatResp: "heartbeatResp",
  /** Local: the transport could not reach a peer. */
  unreachable: "unreachable",
  /** Local: the outcome of sending a snapshot to a peer. */
  snapStatus: "snapStatus",
  /** Ask the leader to transfer leadership to `from` (or to the local target). */
  transferLeader: "transferLeader",
  /** The leader tells a caught-up target to campaign at once. */
  timeoutNow: "timeoutNow",
  readIndex: "readIndex",
  readIndexResp: "readIndexResp",
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/**
 * A Raft message. Fields a kind does not use are 0 / empty. `context` carries a read request's
 * caller context, or marks a vote request caused by a leadership transfer.
 */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: Term;
  /** Term of the entry just before `entries` (app), or of the candidate's last entry (votes). */
  readonly logTerm: Term;
  /** Index before `entries` (app), candidate's last index (votes), match/reject index (resp). */
  readonly index: Index;
  readonly entries: readonly Entry[];
  readonly commit: Index;
  readonly reject: boolean;
  /** On a rejected append: the follower's best guess of the last index that might match. */
  readonly rejectHint: Index;
  readonly snapshot: Snapshot | null;
  readonly context: Uint8Array;
  /** The leader's heartbeat round number, echoed by heartbeat responses (ReadIndex, lease). */
  readonly round: number;
}

/** Field values for a new message; anything not given takes its zero value. */
export type MessageInit = Partial<Message> & Pick<Message, "type">;

const emptyBytes = new Uint8Array(0);

/** Builds a {@link Message}, filling unspecified fields with their zero values. */
export function message(init: MessageInit): Message {
  return {
    from: 0,
    to: 0,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    snapshot: null,
    context: emptyBytes,
    round: 0,
    ...init,
  };
}

/** Whether a message kind is only ever created and consumed inside one node. */
export function isLocalMessage(type: MessageType): boolean {
  return (
    type === MessageType.hup ||
    type === MessageType.beat ||
    type === MessageType.checkQuorum ||
    type === MessageType.unreachable ||
    type === MessageType.snapStatus
  );
}

/** Whether a message kind answers another (responses never raise a receiver's term by themselves). */
export function isResponseMessage(type: MessageType): boolean {
  return (
    type === MessageType.appResp ||
    type === MessageType.voteResp ||
    type === MessageType.preVoteResp ||
    type === MessageType.heartbeatResp ||
    type === MessageType.readIndexResp
  );
}

/** The roles a node can be in. */
export const StateRole = {
  follower: "follower",
  preCandidate: "preCandidate",
  candidate: "candidate",
  leader: "leader",
} as const;
export type StateRole = (typeof StateRole)[keyof typeof StateRole];

/** Leader and role; volatile, not persisted. */
export interface SoftState {
  readonly lead: NodeId;
  readonly role: StateRole;
}

/** A completed ReadIndex request: once `index` is applied, reads for `context` are linearizable. */
export interface ReadState {
  readonly index: Index;
  readonly context: Uint8Array;
}

/** Outcome of a request made to the core (propose, readIndex, conf change, transfer). */
export type RequestResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: RejectReason; readonly detail: string };

/** Why the core refused a request; stable codes the server maps to client errors. */
export const RejectReason = {
  /** No leader known; the server may retry or forward elsewhere. */
  noLeader: "noLeader",
  /** A leadership transfer is pending; retry after it completes or aborts. */
  transferInProgress: "transferInProgress",
  /** The uncommitted tail is over `uncommittedBytesMax`. */
  uncommittedFull: "uncommittedFull",
  /** Another configuration change is pending, or the leader has not committed in its term yet. */
  confChangePending: "confChangePending",
  /** The change does not fit the current configuration. */
  confChangeInvalid: "confChangeInvalid",
  /** This node is not a member able to do that (e.g. a removed node, or a learner proposing). */
  notMember: "notMember",
  /** The request is not valid (e.g. transfer to self or to a non-voter). */
  invalid: "invalid",
} as const;
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];
