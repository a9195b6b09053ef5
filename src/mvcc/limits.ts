import { assert } from "../lib/assert.js";

/** Largest encoded request (etcd `--max-request-bytes`): 1.5 MiB. */
export const requestBytesMax = 1.5 * 1024 * 1024;
/** Largest key; etcd bounds keys only by the request size, and so do we by default. */
export const keyBytesMax = requestBytesMax;
/** Largest value; etcd bounds values only by the request size, and so do we by default. */
export const valueBytesMax = requestBytesMax;
/** Most compares or ops at one txn level (etcd `--max-txn-ops`). */
export const txnOpsMax = 128;
/** Storage quota in accounted bytes (etcd `--quota-backend-bytes`): 2 GiB. */
export const quotaBytes = 2 * 1024 * 1024 * 1024;
/** Accounted bytes per stored revision of a key, on top of its key and value bytes. */
export const recordOverheadBytes = 64;
/** Accounted bytes per lease. */
export const leaseOverheadBytes = 64;
/** Smallest granted lease TTL: ceil(1.5 × 1000 ms election timeout) = 2 s, as etcd computes it. */
export const leaseTtlMinSeconds = 2;
/** Largest lease TTL etcd accepts (`MaxLeaseTTL`). */
export const leaseTtlMaxSeconds = 9_000_000_000;
/** Rate at which the leader revokes expired leases (etcd `leaseRevokeRate`), per second. */
export const leaseRevokeRatePerSecond = 1000;
/** Events queued (taken by no consumer yet) per watcher before it is parked as unsynced. */
export const watchEventsQueuedMax = 1024;
/** Watchers caught up from history in one `WatchHub.sync` pass (etcd: 512). */
export const watchSyncWatchersMax = 512;
/** History records scanned in one `WatchHub.sync` pass, rounded up to a whole revision. */
export const watchSyncRecordsMax = 10_000;
/** Watchers on one stream. */
export const watchersPerStreamMax = 100_000;
/** Watchers in one hub. */
export const watchersMax = 1_000_000;
/** Bytes per snapshot chunk produced by the encoder. */
export const snapshotChunkBytes = 1024 * 1024;

/** Tunable limits of one state machine; every member of a cluster must use the same values. */
export interface MvccLimits {
  readonly requestBytesMax: number;
  readonly keyBytesMax: number;
  readonly valueBytesMax: number;
  readonly txnOpsMax: number;
  readonly quotaBytes: number;
  readonly leaseTtlMinSeconds: number;
}

/** The defaults above, as one {@link MvccLimits}. */
export const defaultLimits: MvccLimits = {
  requestBytesMax,
  keyBytesMax,
  valueBytesMax,
  txnOpsMax,
  quotaBytes,
  leaseTtlMinSeconds,
};

/** Fills in defaults and checks every limit is a positive integer. */
export function resolveLimits(partial: Partial<MvccLimits> = {}): MvccLimits {
  const limits: MvccLimits = { ...defaultLimits, ...partial };
  for (const [name, value] of Object.entries(limits)) {
    assert(
      Number.isSafeInteger(value) && value > 0,
      `Cannot configure mvcc: '${name}' must be a positive integer, got ${value}`,
    );
  }
  return limits;
}
