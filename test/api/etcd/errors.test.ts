import assert from "node:assert/strict";
import { test } from "node:test";
import { EtcdServerErrorCode } from "../../../src/api/etcd/backend.js";
import { etcdWireErrors } from "../../../src/api/etcd/errors.js";
import { GrpcStatus } from "../../../src/api/etcd/grpc/status.js";
import { ErrorCode } from "../../../src/lib/errors.js";
import { MvccErrorCodes, mvccErrorMessages } from "../../../src/mvcc/mod.js";

const S = GrpcStatus;

/** etcd's catalogue (api/v3rpc/rpctypes/error.go, as in the reference §9): code → [status, text]. */
const expected: Record<string, [number, string]> = {
  [MvccErrorCodes.emptyKey]: [S.invalidArgument, "etcdserver: key is not provided"],
  [MvccErrorCodes.keyNotFound]: [S.invalidArgument, "etcdserver: key not found"],
  [MvccErrorCodes.valueProvided]: [S.invalidArgument, "etcdserver: value is provided"],
  [MvccErrorCodes.leaseProvided]: [S.invalidArgument, "etcdserver: lease is provided"],
  [MvccErrorCodes.tooManyOps]: [S.invalidArgument, "etcdserver: too many operations in txn request"],
  [MvccErrorCodes.duplicateKey]: [S.invalidArgument, "etcdserver: duplicate key given in txn request"],
  [MvccErrorCodes.compacted]: [S.outOfRange, "etcdserver: mvcc: required revision has been compacted"],
  [MvccErrorCodes.futureRevision]: [S.outOfRange, "etcdserver: mvcc: required revision is a future revision"],
  [MvccErrorCodes.noSpace]: [S.resourceExhausted, "etcdserver: mvcc: database space exceeded"],
  [MvccErrorCodes.leaseNotFound]: [S.notFound, "etcdserver: requested lease not found"],
  [MvccErrorCodes.leaseExists]: [S.failedPrecondition, "etcdserver: lease already exists"],
  [MvccErrorCodes.leaseTtlTooLarge]: [S.outOfRange, "etcdserver: too large lease TTL"],
  [MvccErrorCodes.requestTooLarge]: [S.invalidArgument, "etcdserver: request is too large"],
  [MvccErrorCodes.corrupt]: [S.dataLoss, "etcdserver: corrupt cluster"],
  [MvccErrorCodes.invalidSortOption]: [S.invalidArgument, "etcdserver: invalid sort option"],
  [MvccErrorCodes.authRootUserNotExist]: [S.failedPrecondition, "etcdserver: root user does not exist"],
  [MvccErrorCodes.authRootRoleNotExist]: [
    S.failedPrecondition,
    "etcdserver: root user does not have root role",
  ],
  [MvccErrorCodes.authUserAlreadyExists]: [S.failedPrecondition, "etcdserver: user name already exists"],
  [MvccErrorCodes.authUserEmpty]: [S.invalidArgument, "etcdserver: user name is empty"],
  [MvccErrorCodes.authUserNotFound]: [S.failedPrecondition, "etcdserver: user name not found"],
  [MvccErrorCodes.authRoleAlreadyExists]: [S.failedPrecondition, "etcdserver: role name already exists"],
  [MvccErrorCodes.authRoleNotFound]: [S.failedPrecondition, "etcdserver: role name not found"],
  [MvccErrorCodes.authRoleEmpty]: [S.invalidArgument, "etcdserver: role name is empty"],
  [MvccErrorCodes.authFailed]: [
    S.invalidArgument,
    "etcdserver: authentication failed, invalid user ID or password",
  ],
  [MvccErrorCodes.authPermissionDenied]: [S.permissionDenied, "etcdserver: permission denied"],
  [MvccErrorCodes.authRoleNotGranted]: [S.failedPrecondition, "etcdserver: role is not granted to the user"],
  [MvccErrorCodes.authPermissionNotGranted]: [
    S.failedPrecondition,
    "etcdserver: permission is not granted to the role",
  ],
  [MvccErrorCodes.authPermissionNotGiven]: [S.invalidArgument, "etcdserver: permission not given"],
  [MvccErrorCodes.authNotEnabled]: [S.failedPrecondition, "etcdserver: authentication is not enabled"],
  [MvccErrorCodes.authInvalidToken]: [S.unauthenticated, "etcdserver: invalid auth token"],
  [MvccErrorCodes.authInvalidMgmt]: [S.invalidArgument, "etcdserver: invalid auth management"],
  [MvccErrorCodes.authOldRevision]: [S.invalidArgument, "etcdserver: revision of auth store is old"],
  [EtcdServerErrorCode.notLeader]: [S.failedPrecondition, "etcdserver: not leader"],
  [EtcdServerErrorCode.leaderChanged]: [S.unavailable, "etcdserver: leader changed"],
  [EtcdServerErrorCode.stopped]: [S.unavailable, "etcdserver: server stopped"],
  [EtcdServerErrorCode.timeout]: [S.unavailable, "etcdserver: request timed out"],
  [EtcdServerErrorCode.timeoutDueToLeaderFail]: [
    S.unavailable,
    "etcdserver: request timed out, possibly due to previous leader failure",
  ],
  [EtcdServerErrorCode.timeoutDueToConnectionLost]: [
    S.unavailable,
    "etcdserver: request timed out, possibly due to connection lost",
  ],
  [EtcdServerErrorCode.tooManyRequests]: [S.resourceExhausted, "etcdserver: too many requests"],
  [EtcdServerErrorCode.unhealthy]: [S.unavailable, "etcdserver: unhealthy cluster"],
  [EtcdServerErrorCode.notCapable]: [S.unavailable, "etcdserver: not capable"],
  [EtcdServerErrorCode.notSupportedForLearner]: [S.unavailable, "etcdserver: rpc not supported for learner"],
  [EtcdServerErrorCode.memberExists]: [S.failedPrecondition, "etcdserver: member ID already exist"],
  [EtcdServerErrorCode.peerUrlExists]: [S.failedPrecondition, "etcdserver: Peer URLs already exists"],
  [EtcdServerErrorCode.memberNotEnoughStarted]: [
    S.failedPrecondition,
    "etcdserver: re-configuration failed due to not enough started members",
  ],
  [EtcdServerErrorCode.memberBadUrls]: [S.invalidArgument, "etcdserver: given member URLs are invalid"],
  [EtcdServerErrorCode.memberNotFound]: [S.notFound, "etcdserver: member not found"],
  [EtcdServerErrorCode.memberNotLearner]: [
    S.failedPrecondition,
    "etcdserver: can only promote a learner member",
  ],
  [EtcdServerErrorCode.learnerNotReady]: [
    S.failedPrecondition,
    "etcdserver: can only promote a learner member which is in sync with leader",
  ],
  [EtcdServerErrorCode.tooManyLearners]: [
    S.failedPrecondition,
    "etcdserver: too many learner members in cluster",
  ],
  [EtcdServerErrorCode.badLeaderTransferee]: [S.failedPrecondition, "etcdserver: bad leader transferee"],
  [EtcdServerErrorCode.canceled]: [S.canceled, "etcdserver: request canceled"],
  [EtcdServerErrorCode.deadlineExceeded]: [S.deadlineExceeded, "etcdserver: context deadline exceeded"],
  [ErrorCode.noLeader]: [S.unavailable, "etcdserver: no leader"],
  [ErrorCode.requestTimeout]: [S.unavailable, "etcdserver: request timed out"],
  [ErrorCode.memberStopped]: [S.unavailable, "etcdserver: server stopped"],
  [ErrorCode.transferInProgress]: [S.unavailable, "etcdserver: leader changed"],
  [ErrorCode.proposalDropped]: [S.resourceExhausted, "etcdserver: too many requests"],
};

test("errors: each etcd error maps to etcd's gRPC status and exact message", () => {
  // Proves the error table entry by entry against etcd's catalogue (clients match on the text).
  for (const [code, [status, message]] of Object.entries(expected)) {
    const w = etcdWireErrors[code as keyof typeof etcdWireErrors];
    assert.ok(w !== undefined, `no entry for ${code}`);
    assert.equal(w.status, status, `${code} status`);
    assert.equal(w.message, message, `${code} message`);
  }
});

test("errors: the table covers every code and agrees with the MVCC catalogue's texts", () => {
  // Proves no backend code is unmapped, and the etcd front door and the state machine agree on text.
  const codes = [
    ...Object.values(MvccErrorCodes),
    ...Object.values(ErrorCode),
    ...Object.values(EtcdServerErrorCode),
  ];
  assert.deepEqual(Object.keys(etcdWireErrors).sort(), [...codes].sort());
  for (const code of Object.values(MvccErrorCodes)) {
    assert.equal(etcdWireErrors[code].message, mvccErrorMessages[code], code);
  }
  for (const w of Object.values(etcdWireErrors)) assert.notEqual(w.status, S.ok);
});
