/**
 * The contract between the etcd API layer and the member that serves it. The API layer decodes
 * requests, calls these methods and encodes the results; the backend decides how a request is
 * served: {@link LocalBackend} applies to one in-process `MvccStore`; the server's Raft-backed
 * backend proposes writes through the log, answers linearizable reads after ReadIndex and
 * forwards to the leader as needed.
 *
 * Every method resolves to a {@link BackendResult}: a value, or an expected failure with a stable
 * {@link BackendErrorCode} that `errors.ts` maps to etcd's gRPC status and exact message. Methods
 * never reject for expected failures; a rejection is a bug and the call fails with INTERNAL.
 */
import type { ErrorCode } from "../../lib/mod.js";
import type {
  AlarmRequest,
  AlarmResponse,
  AuthCommand,
  AuthResponse,
  AuthStore,
  CompactResponse,
  DeleteRangeRequest,
  DeleteRangeResponse,
  HashKvResponse,
  LeaseGrantRequest,
  LeaseGrantResponse,
  LeaseId,
  LeaseKeepAliveResponse,
  LeaseRevokeResponse,
  LeaseTimeToLiveResponse,
  MvccErrorCode,
  PutRequest,
  PutResponse,
  RangeRequest,
  RangeResponse,
  Revision,
  TxnRequest,
  TxnResponse,
  WatchHub,
  WriteAuth,
} from "../../mvcc/mod.js";

/**
 * Failure codes of the server layer that have an etcd wire error but no MVCC equivalent
 * (`api/v3rpc/rpctypes/error.go`). Raft-level conditions use the shared catalogue
 * (`src/lib/errors.ts`, e.g. `SYNOD_NO_LEADER`), which the error table maps as well.
 */
export const EtcdServerErrorCode = {
  /** ErrGRPCNotLeader: the request must reach the leader (MoveLeader). */
  notLeader: "ETCD_NOT_LEADER",
  /** ErrGRPCLeaderChanged: leadership changed while the request was in flight. */
  leaderChanged: "ETCD_LEADER_CHANGED",
  /** ErrGRPCStopped: the member is shutting down. */
  stopped: "ETCD_STOPPED",
  /** ErrGRPCTimeout: the request did not commit in time. */
  timeout: "ETCD_TIMEOUT",
  /** ErrGRPCTimeoutDueToLeaderFail. */
  timeoutDueToLeaderFail: "ETCD_TIMEOUT_LEADER_FAIL",
  /** ErrGRPCTimeoutDueToConnectionLost. */
  timeoutDueToConnectionLost: "ETCD_TIMEOUT_CONNECTION_LOST",
  /** ErrGRPCRequestTooManyRequests: apply lags commit too far. */
  tooManyRequests: "ETCD_TOO_MANY_REQUESTS",
  /** ErrGRPCUnhealthy. */
  unhealthy: "ETCD_UNHEALTHY",
  /** ErrGRPCNotCapable. */
  notCapable: "ETCD_NOT_CAPABLE",
  /** ErrGPRCNotSupportedForLearner: learners serve only Status and serializable Range. */
  notSupportedForLearner: "ETCD_NOT_SUPPORTED_FOR_LEARNER",
  /** ErrGRPCMemberExist. */
  memberExists: "ETCD_MEMBER_EXISTS",
  /** ErrGRPCPeerURLExist. */
  peerUrlExists: "ETCD_PEER_URL_EXISTS",
  /** ErrGRPCMemberNotEnoughStarted (strict reconfig check). */
  memberNotEnoughStarted: "ETCD_MEMBER_NOT_ENOUGH_STARTED",
  /** ErrGRPCMemberBadURLs. */
  memberBadUrls: "ETCD_MEMBER_BAD_URLS",
  /** ErrGRPCMemberNotFound. */
  memberNotFound: "ETCD_MEMBER_NOT_FOUND",
  /** ErrGRPCMemberNotLearner. */
  memberNotLearner: "ETCD_MEMBER_NOT_LEARNER",
  /** ErrGRPCLearnerNotReady. */
  learnerNotReady: "ETCD_LEARNER_NOT_READY",
  /** ErrGRPCTooManyLearners. */
  tooManyLearners: "ETCD_TOO_MANY_LEARNERS",
  /** ErrGRPCBadLeaderTransferee. */
  badLeaderTransferee: "ETCD_BAD_LEADER_TRANSFEREE",
  /** ErrGRPCCanceled: the client went away. */
  canceled: "ETCD_CANCELED",
  /** ErrGRPCDeadlineExceeded. */
  deadlineExceeded: "ETCD_DEADLINE_EXCEEDED",
} as const;

/** One of {@link EtcdServerErrorCode}. */
export type EtcdServerErrorCode = (typeof EtcdServerErrorCode)[keyof typeof EtcdServerErrorCode];

/** Every failure code a backend may return. */
export type BackendErrorCode = MvccErrorCode | ErrorCode | EtcdServerErrorCode;

/**
 * An expected failure. `MvccFailure` values fit as they are. `compactRevision` is set on
 * compacted failures; `detail` says what and why, for logs.
 */
export interface BackendFailure {
  readonly code: BackendErrorCode;
  readonly detail: string;
  readonly compactRevision?: number;
}

/** A backend answer: a value, or an expected failure. */
export type BackendResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: BackendFailure };

/** The identity part of every response header; `revision` comes from each result. */
export interface HeaderInfo {
  /** Cluster id (uint64). */
  readonly clusterId: bigint;
  /** This member's id (uint64). */
  readonly memberId: bigint;
  /** Current Raft term. */
  readonly raftTerm: number;
  /** Current store revision (used by responses that carry no revision of their own). */
  readonly revision: Revision;
}

/** One member as the Cluster service reports it (etcd's `Member`). */
export interface MemberInfo {
  readonly id: bigint;
  /** Empty until the member has started and published its name. */
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner: boolean;
}

/** The answer to a membership request: the member concerned (adds) and every member after it. */
export interface MembershipResult {
  readonly revision: Revision;
  readonly member: MemberInfo | null;
  readonly members: readonly MemberInfo[];
}

/** This member's status (etcd's `StatusResponse`). */
export interface MemberStatus {
  readonly revision: Revision;
  /** etcd-compatible server version, e.g. "3.5.0". */
  readonly version: string;
  /** Bytes of storage used (Synod: accounted bytes of the state machine). */
  readonly dbSize: number;
  readonly dbSizeInUse: number;
  readonly dbSizeQuota: number;
  /** Leader's member id; 0n when no leader is known. */
  readonly leader: bigint;
  readonly raftIndex: number;
  readonly raftTerm: number;
  readonly raftAppliedIndex: number;
  readonly isLearner: boolean;
  /** Raised alarms as etcd prints them in `errors`. */
  readonly errors: readonly string[];
}

/** A consistent snapshot of the state machine, streamed in chunks. */
export interface SnapshotStream {
  readonly revision: Revision;
  /** Total payload bytes, when known in advance (for `remaining_bytes`). */
  readonly totalBytes: number | null;
  readonly chunks: AsyncIterable<Uint8Array>;
}

/** The whole-store hash (etcd's `Hash`, testing only). */
export interface HashResult {
  readonly revision: Revision;
  readonly hash: number;
}

/** Options of a read. */
export interface ReadOptions {
  /** Serve from this member's state without a quorum round (may be stale). */
  readonly serializable: boolean;
}

/**
 * What the etcd API layer needs from the member it runs on. Revisions, TTLs and lease ids are
 * numbers (see `src/mvcc/types.ts`); member and cluster ids are `bigint` (uint64 on the wire).
 *
 * `auth` on a write: the user and auth revision the API layer checked the caller's permissions
 * with (revision 0 = auth was disabled then). The write applies only if the auth state has not
 * changed since and the user may still write the keys of leases it touches
 * (`MvccStore.checkWriteAuth`); omitted, the write is not checked (the server's own).
 */
export interface EtcdBackend {
  // KV
  /** Range; linearizable unless `serializable`. */
  range(req: RangeRequest, opts: ReadOptions): Promise<BackendResult<RangeResponse>>;
  put(req: PutRequest, auth?: WriteAuth): Promise<BackendResult<PutResponse>>;
  deleteRange(req: DeleteRangeRequest, auth?: WriteAuth): Promise<BackendResult<DeleteRangeResponse>>;
  /**
   * Txn; `serializable` only applies to read-only txns whose ranges are all serializable. A
   * read-only txn is served locally and ignores `auth` (the caller re-checks the revision).
   */
  txn(req: TxnRequest, opts: ReadOptions, auth?: WriteAuth): Promise<BackendResult<TxnResponse>>;
  /** Compact; with `physical` the promise resolves once the compaction is done locally. */
  compact(
    revision: Revision,
    opts: { readonly physical: boolean },
    auth?: WriteAuth,
  ): Promise<BackendResult<CompactResponse>>;

  // Lease
  leaseGrant(req: LeaseGrantRequest): Promise<BackendResult<LeaseGrantResponse>>;
  leaseRevoke(id: LeaseId, auth?: WriteAuth): Promise<BackendResult<LeaseRevokeResponse>>;
  /** Renews on the leader (forwarded there by followers); TTL 0 for an unknown or expired lease. */
  leaseKeepAlive(id: LeaseId): Promise<BackendResult<LeaseKeepAliveResponse>>;
  /** TTL -1 for an unknown lease. */
  leaseTimeToLive(id: LeaseId, keys: boolean): Promise<BackendResult<LeaseTimeToLiveResponse>>;
  leaseLeases(): Promise<BackendResult<{ readonly revision: Revision; readonly leases: readonly LeaseId[] }>>;

  // Watch
  /**
   * This member's watch hub; watch streams are opened on it. Ask again for each new stream: the
   * hub changes when a snapshot replaces the store (old streams are adopted by the new hub).
   */
  watchHub(): WatchHub;
  /**
   * Hint from the API layer: a watcher needs catching up (a historical start revision, or a
   * stream drained after its watchers were parked). The backend runs `watchHub().sync()` passes
   * soon (and also after applying writes and on its own timer, etcd: every 100 ms). The backend
   * also calls `watchHub().progressNotify()` on its progress interval (etcd: 10 minutes).
   */
  requestWatchSync(): void;

  // Maintenance and cluster
  /** Identity and term for response headers. */
  header(): HeaderInfo;
  /** Whether this member currently knows a leader (`hasleader` metadata, /health). */
  hasLeader(): boolean;
  status(): Promise<BackendResult<MemberStatus>>;
  alarm(req: AlarmRequest, auth?: WriteAuth): Promise<BackendResult<AlarmResponse>>;
  hash(): Promise<BackendResult<HashResult>>;
  hashKv(revision: Revision): Promise<BackendResult<HashKvResponse>>;
  memberList(opts: { readonly linearizable: boolean }): Promise<BackendResult<MembershipResult>>;
  /** A point-in-time snapshot stream, or absent if this backend cannot produce one. */
  snapshot?(): Promise<BackendResult<SnapshotStream>>;
  /** Defragmentation (a no-op for an in-memory store); absent → UNIMPLEMENTED. */
  defragment?(): Promise<BackendResult<{ readonly revision: Revision }>>;
  /** Runtime membership; each absent method is answered with UNIMPLEMENTED. */
  memberAdd?(peerUrls: readonly string[], isLearner: boolean): Promise<BackendResult<MembershipResult>>;
  memberRemove?(id: bigint): Promise<BackendResult<MembershipResult>>;
  memberUpdate?(id: bigint, peerUrls: readonly string[]): Promise<BackendResult<MembershipResult>>;
  memberPromote?(id: bigint): Promise<BackendResult<MembershipResult>>;
  moveLeader?(targetId: bigint): Promise<BackendResult<{ readonly revision: Revision }>>;

  // Auth
  /**
   * The replicated auth state as this member has applied it (read it, never change it). Ask
   * again for each request: the object changes when a snapshot replaces the store.
   */
  authStore(): AuthStore;
  /**
   * Proposes an auth change, or an Authenticate's token, through the log (checked with `auth`,
   * see above) and resolves once applied on this member.
   */
  auth(command: AuthCommand, auth: WriteAuth): Promise<BackendResult<AuthResponse>>;
  /** Resolves once this member has applied everything committed before the call (ReadIndex). */
  readBarrier(): Promise<BackendResult<void>>;
}
