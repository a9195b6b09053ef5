/**
 * Durable storage: a segmented write-ahead log of CRC-framed records with group commit, snapshot
 * files, and crash recovery. `core.ts`, `format.ts`, `recover.ts` and `crc32c.ts` are pure (no
 * I/O, deterministic); `wal.ts` and `fs.ts` are the I/O shell. See docs/storage-format.md.
 */
export {
  type PersistRequest,
  type SnapshotRequest,
  segmentBytesDefault,
  snapshotsRetainedDefault,
  WalCore,
  type WalCoreOptions,
  type WalRequest,
} from "./core.js";
export { crc32c, crc32cUpdate } from "./crc32c.js";
export {
  lockFileName,
  NodeWalFs,
  type WalFile,
  type WalFs,
  type WalFsyncEvent,
  walFsyncChannel,
} from "./fs.js";
export { emptyPlan, type FileOp, type Plan } from "./plan.js";
export {
  type Recovered,
  type RecoveryError,
  type RecoveryErrorCode,
  type Repair,
  recover,
  type SegmentInfo,
  type SnapshotInfo,
} from "./recover.js";
export { applyPersisted, bootstrapRequest, storageFromRecovered } from "./storage.js";
export { batchBytesMaxDefault, Wal, type WalOptions, type WalStats } from "./wal.js";
