/**
 * File operations the pure WAL core asks its caller to carry out, in order. File names are
 * relative to the data directory. A caller executes a plan's operations one after another,
 * stopping at the first failure; see {@link Plan}.
 */
export type FileOp =
  /** Create `file` empty (truncating any file of that name) and open it for writing. */
  | { readonly op: "create"; readonly file: string }
  /** Write zeros over `[offset, offset + length)` of `file`, allocating the space (preallocation). */
  | { readonly op: "zero"; readonly file: string; readonly offset: number; readonly length: number }
  /** Write `bytes` at `offset` of `file`, all of them. */
  | { readonly op: "write"; readonly file: string; readonly offset: number; readonly bytes: Uint8Array }
  /** `fdatasync(file)`: its data (and size) are durable when this completes. An error is fatal. */
  | { readonly op: "sync"; readonly file: string }
  /** Atomically rename `from` to `to`, replacing `to`. Durable only after a later `syncDir`. */
  | { readonly op: "rename"; readonly from: string; readonly to: string }
  /** `fsync` the directory: creations, renames and removals before it are durable. */
  | { readonly op: "syncDir" }
  /** Remove `file` (a missing file is not an error). */
  | { readonly op: "unlink"; readonly file: string };

/**
 * What to do for one request to the core.
 * - `ops`: run in order; once the last one completes, everything the request asked for is
 *   durable and may be acknowledged. An error in `sync` or `syncDir` must stop the process.
 * - `cleanup`: run after `ops` (after acknowledging); removes released segments and old
 *   snapshots. Losing it in a crash is harmless: recovery and the next cleanup redo it.
 */
export interface Plan {
  readonly ops: readonly FileOp[];
  readonly cleanup: readonly FileOp[];
}

/** A plan with nothing to do. */
export const emptyPlan: Plan = { ops: [], cleanup: [] };

/** Total bytes a plan's write and zero operations put on disk (for limits and statistics). */
export function planBytes(plan: Plan): number {
  let n = 0;
  for (const op of plan.ops) {
    if (op.op === "write") n += op.bytes.length;
    else if (op.op === "zero") n += op.length;
  }
  return n;
}
