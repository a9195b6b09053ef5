/**
 * The etcd front door's one error table: every backend failure code → gRPC status and the exact
 * message etcd sends (`api/v3rpc/rpctypes/error.go`). Clients map errors back by message text,
 * so the texts are byte for byte etcd's; entries marked "ours" have no etcd counterpart.
 */
import { ErrorCode } from "../../lib/mod.js";
import { MvccErrorCodes } from "../../mvcc/mod.js";
import { type BackendErrorCode, type BackendFailure, EtcdServerErrorCode } from "./backend.js";
import { GrpcError, GrpcStatus } from "./grpc/status.js";

/** One entry: the status and message a failure code becomes on the wire. */
export interface WireError {
  readonly status: GrpcStatus;
  readonly message: string;
}

const e = (status: GrpcStatus, message: string): WireError => ({ status, message });
const S = GrpcStatus;

/** The table. */
export const etcdWireErrors: Readonly<Record<BackendErrorCode, WireError>> = {
  // MVCC (src/mvcc/errors.ts)
  [MvccErrorCodes.emptyKey]: e(S.invalidArgument, "etcdserver: key is not provided"),
  [MvccErrorCodes.keyNotFound]: e(S.invalidArgument, "etcdserver: key not found"),
  [MvccErrorCodes.valueProvided]: e(S.invalidArgument, "etcdserver: value is provided"),
  [MvccErrorCodes.leaseProvided]: e(S.invalidArgument, "etcdserver: lease is provided"),
  [MvccErrorCodes.tooManyOps]: e(S.invalidArgument, "etcdserver: too many operations in txn request"),
  [MvccErrorCodes.duplicateKey]: e(S.invalidArgument, "etcdserver: duplicate key given in txn request"),
  [MvccErrorCodes.compacted]: e(S.outOfRange, "etcdserver: mvcc: required revision has been compacted"),
  [MvccErrorCodes.futureRevision]: e(
    S.outOfRange,
    "etcdserver: mvcc: required revision is a future revision",
  ),
  [MvccErrorCodes.noSpace]: e(S.resourceExhausted, "etcdserver: mvcc: database space exceeded"),
  [MvccErrorCodes.leaseNotFound]: e(S.notFound, "etcdserver: requested lease not found"),
  [MvccErrorCodes.leaseExists]: e(S.failedPrecondition, "etcdserver: lease already exists"),
  [MvccErrorCodes.leaseTtlTooLarge]: e(S.outOfRange, "etcdserver: too large lease TTL"),
  [MvccErrorCodes.requestTooLarge]: e(S.invalidArgument, "etcdserver: request is too large"),
  [MvccErrorCodes.corrupt]: e(S.dataLoss, "etcdserver: corrupt cluster"),
  [MvccErrorCodes.invalidSortOption]: e(S.invalidArgument, "etcdserver: invalid sort option"),
  [MvccErrorCodes.duplicateWatchId]: e(
    S.invalidArgument,
    "mvcc: duplicate watch ID provided on the WatchStream",
  ),
  [MvccErrorCodes.negativeWatchRevision]: e(
    S.invalidArgument,
    "mvcc: watch start revision must not be negative",
  ),
  [MvccErrorCodes.tooManyWatchers]: e(S.resourceExhausted, "mvcc: too many watchers"),
  [MvccErrorCodes.invalidLeaseId]: e(
    S.invalidArgument,
    "etcdserver: lease id must be a positive integer below 2^53",
  ),
  // Auth (src/mvcc/auth.ts and the API layer's checks)
  [MvccErrorCodes.authRootUserNotExist]: e(S.failedPrecondition, "etcdserver: root user does not exist"),
  [MvccErrorCodes.authRootRoleNotExist]: e(
    S.failedPrecondition,
    "etcdserver: root user does not have root role",
  ),
  [MvccErrorCodes.authUserAlreadyExists]: e(S.failedPrecondition, "etcdserver: user name already exists"),
  [MvccErrorCodes.authUserEmpty]: e(S.invalidArgument, "etcdserver: user name is empty"),
  [MvccErrorCodes.authUserNotFound]: e(S.failedPrecondition, "etcdserver: user name not found"),
  [MvccErrorCodes.authRoleAlreadyExists]: e(S.failedPrecondition, "etcdserver: role name already exists"),
  [MvccErrorCodes.authRoleNotFound]: e(S.failedPrecondition, "etcdserver: role name not found"),
  [MvccErrorCodes.authRoleEmpty]: e(S.invalidArgument, "etcdserver: role name is empty"),
  [MvccErrorCodes.authFailed]: e(
    S.invalidArgument,
    "etcdserver: authentication failed, invalid user ID or password",
  ),
  [MvccErrorCodes.authPermissionDenied]: e(S.permissionDenied, "etcdserver: permission denied"),
  [MvccErrorCodes.authRoleNotGranted]: e(S.failedPrecondition, "etcdserver: role is not granted to the user"),
  [MvccErrorCodes.authPermissionNotGranted]: e(
    S.failedPrecondition,
    "etcdserver: permission is not granted to the role",
  ),
  [MvccErrorCodes.authPermissionNotGiven]: e(S.invalidArgument, "etcdserver: permission not given"),
  [MvccErrorCodes.authNotEnabled]: e(S.failedPrecondition, "etcdserver: authentication is not enabled"),
  [MvccErrorCodes.authInvalidToken]: e(S.unauthenticated, "etcdserver: invalid auth token"),
  [MvccErrorCodes.authInvalidMgmt]: e(S.invalidArgument, "etcdserver: invalid auth management"),
  [MvccErrorCodes.authOldRevision]: e(S.invalidArgument, "etcdserver: revision of auth store is old"),
  // Server layer with an etcd counterpart
  [EtcdServerErrorCode.notLeader]: e(S.failedPrecondition, "etcdserver: not leader"),
  [EtcdServerErrorCode.leaderChanged]: e(S.unavailable, "etcdserver: leader changed"),
  [EtcdServerErrorCode.stopped]: e(S.unavailable, "etcdserver: server stopped"),
  [EtcdServerErrorCode.timeout]: e(S.unavailable, "etcdserver: request timed out"),
  [EtcdServerErrorCode.timeoutDueToLeaderFail]: e(
    S.unavailable,
    "etcdserver: request timed out, possibly due to previous leader failure",
  ),
  [EtcdServerErrorCode.timeoutDueToConnectionLost]: e(
    S.unavailable,
    "etcdserver: request timed out, possibly due to connection lost",
  ),
  [EtcdServerErrorCode.tooManyRequests]: e(S.resourceExhausted, "etcdserver: too many requests"),
  [EtcdServerErrorCode.unhealthy]: e(S.unavailable, "etcdserver: unhealthy cluster"),
  [EtcdServerErrorCode.notCapable]: e(S.unavailable, "etcdserver: not capable"),
  [EtcdServerErrorCode.notSupportedForLearner]: e(S.unavailable, "etcdserver: rpc not supported for learner"),
  [EtcdServerErrorCode.memberExists]: e(S.failedPrecondition, "etcdserver: member ID already exist"),
  [EtcdServerErrorCode.peerUrlExists]: e(S.failedPrecondition, "etcdserver: Peer URLs already exists"),
  [EtcdServerErrorCode.memberNotEnoughStarted]: e(
    S.failedPrecondition,
    "etcdserver: re-configuration failed due to not enough started members",
  ),
  [EtcdServerErrorCode.memberBadUrls]: e(S.invalidArgument, "etcdserver: given member URLs are invalid"),
  [EtcdServerErrorCode.memberNotFound]: e(S.notFound, "etcdserver: member not found"),
  [EtcdServerErrorCode.memberNotLearner]: e(
    S.failedPrecondition,
    "etcdserver: can only promote a learner member",
  ),
  [EtcdServerErrorCode.learnerNotReady]: e(
    S.failedPrecondition,
    "etcdserver: can only promote a learner member which is in sync with leader",
  ),
  [EtcdServerErrorCode.tooManyLearners]: e(
    S.failedPrecondition,
    "etcdserver: too many learner members in cluster",
  ),
  [EtcdServerErrorCode.badLeaderTransferee]: e(S.failedPrecondition, "etcdserver: bad leader transferee"),
  [EtcdServerErrorCode.canceled]: e(S.canceled, "etcdserver: request canceled"),
  [EtcdServerErrorCode.deadlineExceeded]: e(S.deadlineExceeded, "etcdserver: context deadline exceeded"),
  // Shared catalogue (src/lib/errors.ts)
  [ErrorCode.noLeader]: e(S.unavailable, "etcdserver: no leader"),
  [ErrorCode.transferInProgress]: e(S.unavailable, "etcdserver: leader changed"),
  [ErrorCode.proposalDropped]: e(S.resourceExhausted, "etcdserver: too many requests"),
  [ErrorCode.confChangePending]: e(
    S.failedPrecondition,
    "etcdserver: a configuration change is already in progress",
  ),
  [ErrorCode.confChangeInvalid]: e(S.invalidArgument, "etcdserver: invalid configuration change"),
  [ErrorCode.notMember]: e(S.unavailable, "etcdserver: server stopped"),
  [ErrorCode.invalidArgument]: e(S.invalidArgument, "etcdserver: invalid argument"),
  [ErrorCode.walCorrupt]: e(S.dataLoss, "etcdserver: corrupt cluster"),
  [ErrorCode.walNoSpace]: e(S.unavailable, "etcdserver: server stopped"),
  [ErrorCode.walLocked]: e(S.unavailable, "etcdserver: server stopped"),
  [ErrorCode.walFailed]: e(S.unavailable, "etcdserver: server stopped"),
  [ErrorCode.walClosed]: e(S.unavailable, "etcdserver: server stopped"),
  [ErrorCode.requestTimeout]: e(S.unavailable, "etcdserver: request timed out"),
  [ErrorCode.memberStopped]: e(S.unavailable, "etcdserver: server stopped"),
};

/** The gRPC error for a backend failure. */
export function grpcErrorOf(failure: BackendFailure): GrpcError {
  const w = etcdWireErrors[failure.code];
  return new GrpcError(w.status, w.message);
}

/** etcd's ErrGRPCNoLeader, for the `hasleader` metadata check. */
export function noLeaderError(): GrpcError {
  return grpcErrorOf({ code: ErrorCode.noLeader, detail: "" });
}

/** etcd's ErrGRPCRequestTooLarge, for requests over `maxRequestBytes`. */
export function requestTooLargeError(): GrpcError {
  return grpcErrorOf({ code: MvccErrorCodes.requestTooLarge, detail: "" });
}
