/**
 * The catalogue of MVCC operating-error codes. Every expected failure of the state machine is a
 * {@link MvccFailure} value carrying one of these stable codes; code branches on `code`, never on
 * the message. `message` is etcd's exact text (`api/v3rpc/rpctypes/error.go`), because etcd clients
 * map errors back by message; the etcd front door adds the gRPC status from its own table.
 */
export const MvccErrorCode = {
  /** ErrGRPCEmptyKey (InvalidArgument): a request named no key. */
  emptyKey: "MVCC_EMPTY_KEY",
  /** ErrGRPCKeyNotFound (InvalidArgument): `ignore_value`/`ignore_lease` on an absent key, or an empty txn op. */
  keyNotFound: "MVCC_KEY_NOT_FOUND",
  /** ErrGRPCValueProvided (InvalidArgument): `ignore_value` together with a non-empty value. */
  valueProvided: "MVCC_VALUE_PROVIDED",
  /** ErrGRPCLeaseProvided (InvalidArgument): `ignore_lease` together with a non-zero lease. */
  leaseProvided: "MVCC_LEASE_PROVIDED",
  /** ErrGRPCTooManyOps (InvalidArgument): a txn has more compares or ops than `txnOpsMax`. */
  tooManyOps: "MVCC_TOO_MANY_OPS",
  /** ErrGRPCDuplicateKey (InvalidArgument): a txn writes one key twice (see `txn.ts`). */
  duplicateKey: "MVCC_DUPLICATE_KEY",
  /** ErrGRPCCompacted (OutOfRange): the revision asked for is below the compact revision. */
  compacted: "MVCC_COMPACTED",
  /** ErrGRPCFutureRev (OutOfRange): the revision asked for is above the current revision. */
  futureRevision: "MVCC_FUTURE_REVISION",
  /** ErrGRPCNoSpace (ResourceExhausted): the storage quota is used up or the NOSPACE alarm is active. */
  noSpace: "MVCC_NO_SPACE",
  /** ErrGRPCLeaseNotFound (NotFound): the lease does not exist. */
  leaseNotFound: "MVCC_LEASE_NOT_FOUND",
  /** ErrGRPCLeaseExist (FailedPrecondition): a grant named an id that is already in use. */
  leaseExists: "MVCC_LEASE_EXISTS",
  /** ErrGRPCLeaseTTLTooLarge (OutOfRange): a grant asked for more than `leaseTtlMaxSeconds`. */
  leaseTtlTooLarge: "MVCC_LEASE_TTL_TOO_LARGE",
  /** ErrGRPCRequestTooLarge (InvalidArgument): a request, key or value is over its byte limit. */
  requestTooLarge: "MVCC_REQUEST_TOO_LARGE",
  /** ErrGRPCCorrupt (DataLoss): the CORRUPT alarm is active; nothing is served. */
  corrupt: "MVCC_CORRUPT",
  /** Range sort option outside the enum (text unverified against a real server). */
  invalidSortOption: "MVCC_INVALID_SORT_OPTION",
  /** Watch create with a watch id already used on the stream (a `cancel_reason`, not a gRPC error). */
  duplicateWatchId: "MVCC_DUPLICATE_WATCH_ID",
  /** Watch create with a negative start revision (rejected since etcd 3.6; our own text). */
  negativeWatchRevision: "MVCC_NEGATIVE_WATCH_REVISION",
  /** Watch create on a stream or hub already holding its maximum number of watchers (our own text). */
  tooManyWatchers: "MVCC_TOO_MANY_WATCHERS",
  /** A lease id outside the supported range `[1, 2^53-1]` (our own text; see docs/mvcc.md). */
  invalidLeaseId: "MVCC_INVALID_LEASE_ID",
  /** ErrGRPCRootUserNotExist (FailedPrecondition): AuthEnable without a user `root`. */
  authRootUserNotExist: "AUTH_ROOT_USER_NOT_EXIST",
  /** ErrGRPCRootRoleNotExist (FailedPrecondition): AuthEnable while user `root` lacks role `root`. */
  authRootRoleNotExist: "AUTH_ROOT_ROLE_NOT_EXIST",
  /** ErrGRPCUserAlreadyExist (FailedPrecondition). */
  authUserAlreadyExists: "AUTH_USER_ALREADY_EXISTS",
  /** ErrGRPCUserEmpty (InvalidArgument): an empty user name, or no user on a request that needs one. */
  authUserEmpty: "AUTH_USER_EMPTY",
  /** ErrGRPCUserNotFound (FailedPrecondition). */
  authUserNotFound: "AUTH_USER_NOT_FOUND",
  /** ErrGRPCRoleAlreadyExist (FailedPrecondition). */
  authRoleAlreadyExists: "AUTH_ROLE_ALREADY_EXISTS",
  /** ErrGRPCRoleNotFound (FailedPrecondition). */
  authRoleNotFound: "AUTH_ROLE_NOT_FOUND",
  /** ErrGRPCRoleEmpty (InvalidArgument). */
  authRoleEmpty: "AUTH_ROLE_EMPTY",
  /** ErrGRPCAuthFailed (InvalidArgument): wrong user name or password. */
  authFailed: "AUTH_FAILED",
  /** ErrGRPCPermissionDenied (PermissionDenied). */
  authPermissionDenied: "AUTH_PERMISSION_DENIED",
  /** ErrGRPCRoleNotGranted (FailedPrecondition). */
  authRoleNotGranted: "AUTH_ROLE_NOT_GRANTED",
  /** ErrGRPCPermissionNotGranted (FailedPrecondition). */
  authPermissionNotGranted: "AUTH_PERMISSION_NOT_GRANTED",
  /** ErrGRPCPermissionNotGiven (InvalidArgument): RoleGrantPermission without a permission. */
  authPermissionNotGiven: "AUTH_PERMISSION_NOT_GIVEN",
  /** ErrGRPCAuthNotEnabled (FailedPrecondition). */
  authNotEnabled: "AUTH_NOT_ENABLED",
  /** ErrGRPCInvalidAuthToken (Unauthenticated): an unknown or expired token. */
  authInvalidToken: "AUTH_INVALID_TOKEN",
  /** ErrGRPCInvalidAuthMgmt (InvalidArgument): deleting root, revoking root's root role, a limit hit. */
  authInvalidMgmt: "AUTH_INVALID_MGMT",
  /** ErrGRPCAuthOldRevision (InvalidArgument): the auth store changed after the request was checked. */
  authOldRevision: "AUTH_OLD_REVISION",
} as const;

/** One of the stable codes of {@link MvccErrorCode}. */
export type MvccErrorCode = (typeof MvccErrorCode)[keyof typeof MvccErrorCode];

/** The wire text of each code; etcd's exact message where etcd has one. */
export const mvccErrorMessages: Readonly<Record<MvccErrorCode, string>> = {
  [MvccErrorCode.emptyKey]: "etcdserver: key is not provided",
  [MvccErrorCode.keyNotFound]: "etcdserver: key not found",
  [MvccErrorCode.valueProvided]: "etcdserver: value is provided",
  [MvccErrorCode.leaseProvided]: "etcdserver: lease is provided",
  [MvccErrorCode.tooManyOps]: "etcdserver: too many operations in txn request",
  [MvccErrorCode.duplicateKey]: "etcdserver: duplicate key given in txn request",
  [MvccErrorCode.compacted]: "etcdserver: mvcc: required revision has been compacted",
  [MvccErrorCode.futureRevision]: "etcdserver: mvcc: required revision is a future revision",
  [MvccErrorCode.noSpace]: "etcdserver: mvcc: database space exceeded",
  [MvccErrorCode.leaseNotFound]: "etcdserver: requested lease not found",
  [MvccErrorCode.leaseExists]: "etcdserver: lease already exists",
  [MvccErrorCode.leaseTtlTooLarge]: "etcdserver: too large lease TTL",
  [MvccErrorCode.requestTooLarge]: "etcdserver: request is too large",
  [MvccErrorCode.corrupt]: "etcdserver: corrupt cluster",
  [MvccErrorCode.invalidSortOption]: "etcdserver: invalid sort option",
  [MvccErrorCode.duplicateWatchId]: "mvcc: duplicate watch ID provided on the WatchStream",
  [MvccErrorCode.negativeWatchRevision]: "mvcc: watch start revision must not be negative",
  [MvccErrorCode.tooManyWatchers]: "mvcc: too many watchers",
  [MvccErrorCode.invalidLeaseId]: "etcdserver: lease id must be a positive integer below 2^53",
  [MvccErrorCode.authRootUserNotExist]: "etcdserver: root user does not exist",
  [MvccErrorCode.authRootRoleNotExist]: "etcdserver: root user does not have root role",
  [MvccErrorCode.authUserAlreadyExists]: "etcdserver: user name already exists",
  [MvccErrorCode.authUserEmpty]: "etcdserver: user name is empty",
  [MvccErrorCode.authUserNotFound]: "etcdserver: user name not found",
  [MvccErrorCode.authRoleAlreadyExists]: "etcdserver: role name already exists",
  [MvccErrorCode.authRoleNotFound]: "etcdserver: role name not found",
  [MvccErrorCode.authRoleEmpty]: "etcdserver: role name is empty",
  [MvccErrorCode.authFailed]: "etcdserver: authentication failed, invalid user ID or password",
  [MvccErrorCode.authPermissionDenied]: "etcdserver: permission denied",
  [MvccErrorCode.authRoleNotGranted]: "etcdserver: role is not granted to the user",
  [MvccErrorCode.authPermissionNotGranted]: "etcdserver: permission is not granted to the role",
  [MvccErrorCode.authPermissionNotGiven]: "etcdserver: permission not given",
  [MvccErrorCode.authNotEnabled]: "etcdserver: authentication is not enabled",
  [MvccErrorCode.authInvalidToken]: "etcdserver: invalid auth token",
  [MvccErrorCode.authInvalidMgmt]: "etcdserver: invalid auth management",
  [MvccErrorCode.authOldRevision]: "etcdserver: revision of auth store is old",
};

/**
 * An expected failure of an MVCC operation, returned as a value. `compactRevision` is set (non-zero)
 * on {@link MvccErrorCode.compacted} failures and `revision` to the current store revision when the
 * failure relates to revisions; both are 0 otherwise. `detail` says what and why for people and logs.
 */
export interface MvccFailure {
  readonly code: MvccErrorCode;
  readonly message: string;
  readonly detail: string;
  readonly compactRevision: number;
  readonly revision: number;
}

/** The result of an MVCC operation: a value, or an expected failure. */
export type MvccResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: MvccFailure };

/** Builds a failure with the catalogue text for `code`. */
export function failure(code: MvccErrorCode, detail = "", compactRevision = 0, revision = 0): MvccFailure {
  return { code, message: mvccErrorMessages[code], detail, compactRevision, revision };
}

/** Wraps `error` as a failed {@link MvccResult}. */
export function fail<T>(error: MvccFailure): MvccResult<T> {
  return { ok: false, error };
}

/** Wraps `value` as a successful {@link MvccResult}. */
export function ok<T>(value: T): MvccResult<T> {
  return { ok: true, value };
}
