/**
 * The chaos history format: the shared contract between the chaos runner (which records what
 * clients did against a real cluster) and the checkers (which judge it). Pure types plus a few
 * small helpers; no I/O. Specified in notes/chaos-history.md.
 *
 * Times are monotonic nanoseconds since the run started, as JS numbers. An operation whose
 * outcome is "unknown" is treated by the checkers as completing at +Infinity.
 */

/** Outcome of an operation: ok = succeeded with `output`; fail = definitely did not take effect;
 *  unknown = timed out / connection lost: may or may not have taken effect (at any time after invoke). */
export type Outcome = "ok" | "fail" | "unknown";

/** Register ops on one key (values are strings; null = key absent). */
export type RegisterInput =
  | { readonly f: "read" }
  | { readonly f: "write"; readonly value: string }
  | { readonly f: "cas"; readonly expect: string | null; readonly value: string };
/** Result of a register op that completed with outcome "ok". */
export type RegisterOutput =
  | { readonly f: "read"; readonly value: string | null }
  | { readonly f: "write" }
  | { readonly f: "cas"; readonly succeeded: boolean };

/** Append ops on one key: read the list, or append a unique element (a txn: read list, CAS on mod_revision, write list+elem). */
export type AppendInput = { readonly f: "read" } | { readonly f: "append"; readonly elem: string };
/** Result of an append-list op that completed with outcome "ok". */
export type AppendOutput =
  | { readonly f: "read"; readonly list: readonly string[] }
  | { readonly f: "append" };

/** One completed (or abandoned) client operation. Times are monotonic nanoseconds (process.hrtime.bigint() as number of ns since run start, as a JS number). */
export interface Op<I, O> {
  /** Unique in the history. */
  readonly id: number;
  /** Logical client (process) id. */
  readonly client: number;
  /** Partition key for the checker. */
  readonly key: string;
  readonly input: I;
  /** When the request was sent. */
  readonly invoke: number;
  /** When the answer came; for "unknown": Infinity is how the checker treats it. */
  readonly complete: number;
  readonly outcome: Outcome;
  /** Set iff outcome === "ok". */
  readonly output: O | null;
  /** Member name that served it, if known. */
  readonly member?: string;
}
/** A register operation. */
export type RegisterOp = Op<RegisterInput, RegisterOutput>;
/** An append-list operation. */
export type AppendOp = Op<AppendInput, AppendOutput>;

/** What a watcher observed (one watch stream's life). */
export interface WatchObservation {
  readonly watcher: number;
  readonly prefix: string;
  /** Revision it asked to start from. */
  readonly startRevision: number;
  readonly events: readonly {
    readonly revision: number;
    readonly key: string;
    readonly type: "put" | "delete";
    readonly value: string | null;
    readonly modRevision: number;
  }[];
  /** If the stream ended with a "compacted" notice: the compact revision. */
  readonly compactedAt: number | null;
  /** Highest revision it knows it has seen all events up to (from response headers / progress). */
  readonly lastRevision: number;
}

/** One watch event as recorded in a {@link WatchObservation}. */
export type WatchEvent = WatchObservation["events"][number];

/** Lock ops: acquire returns the lock key's create revision (the fencing token), then the holder reads and bumps a counter under it and releases. */
export interface LockHold {
  readonly client: number;
  /** Lease id (decimal). */
  readonly lease: string;
  /** Fencing token = lock key revision. */
  readonly token: number;
  /** Monotonic ns when Lock returned. */
  readonly acquired: number;
  /** Monotonic ns when Unlock returned (null if never / unknown). */
  readonly released: number | null;
  /**
   * Optional (an addition to the contract): monotonic ns when Unlock was sent, i.e. when the
   * holder stopped relying on the lock. The lock checker ends the hold there when it is given,
   * else at `released`; a slow Unlock answer then cannot look like two holders at once.
   */
  readonly releaseInvoked?: number;
  /** When the holder learned its lease expired / keepalive failed, if it did. */
  readonly leaseLostAt: number | null;
  /** The counter value read under the lock. */
  readonly counterRead: number | null;
  /** The value written (counterRead+1) if the guarded write succeeded. */
  readonly counterWritten: number | null;
  readonly writeOutcome: Outcome | null;
}

/** The completion time the checkers use: +Infinity for an op whose outcome is unknown. */
export function effectiveComplete(op: Op<unknown, unknown>): number {
  return op.outcome === "unknown" ? Number.POSITIVE_INFINITY : op.complete;
}
