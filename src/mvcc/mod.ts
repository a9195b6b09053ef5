/**
 * The MVCC state machine: an in-memory multi-version key-value store with etcd v3 semantics,
 * leases, a watch hub, hashes, snapshots and a versioned command encoding. Pure: no I/O, no clock,
 * no randomness. See docs/mvcc.md.
 */

export { crc32Update } from "../lib/crc32.js";
export {
  type AuthApplied,
  type AuthCommand,
  type AuthEvent,
  type AuthPermission,
  type AuthRole,
  AuthStore,
  type AuthUser,
  authNameBytesMax,
  authPasswordHashBytesMax,
  authPermissionsPerRoleMax,
  authRolesMax,
  authRolesPerUserMax,
  authTokenPrefixBytesMax,
  authUsersMax,
  PermissionType,
  permissionTypes,
  rootName,
} from "./auth.js";
export { IntervalSet, intervalOf, type KeyInterval } from "./authperm.js";
export {
  binaryToBytes,
  bytesEqual,
  bytesToBinary,
  compareBytes,
  concatBytes,
  EMPTY_BYTES,
  fromUtf8,
  prefixEnd,
  utf8,
} from "./bytes.js";
export { Writer } from "./codec.js";
export {
  type Command,
  type CommandEnvelope,
  checkpointsMax,
  commandRewritesHistory,
  commandVersion,
  commandVersionAuth,
  decodeCommand,
  encodeCommand,
  encodeCommandTo,
  txnDepthMax,
  type WriteAuth,
} from "./command.js";
export {
  type MvccErrorCode,
  MvccErrorCode as MvccErrorCodes,
  type MvccFailure,
  type MvccResult,
  mvccErrorMessages,
} from "./errors.js";
export { expiredLeaseRetryMs, type Lease, leaseIdMax, validLeaseId } from "./lessor.js";
export * as limits from "./limits.js";
export { defaultLimits, type MvccLimits } from "./limits.js";
export {
  decodeSnapshot,
  decodeSnapshotAsync,
  encodeSnapshot,
  encodeSnapshotSource,
  SnapshotDecoder,
  type SnapshotSource,
  snapshotSource,
  snapshotVersion,
} from "./snapshot.js";
export {
  type ApplyOutcome,
  type AuthResponse,
  type CommandResponse,
  MvccStore,
  type MvccStoreOptions,
} from "./store.js";
export * from "./types.js";
export {
  type WatchCreateRequest,
  WatchFilter,
  WatchHub,
  type WatchHubOptions,
  type WatchResponse,
  WatchStream,
} from "./watch.js";
