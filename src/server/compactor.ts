import type { Logger } from "../lib/logger.js";
import type { Member } from "./member.js";

/** What the compactor needs of a member (a {@link Member} provides it). */
export type CompactingMember = Pick<Member, "store" | "isLeader" | "propose">;

/** How often revision-mode compaction runs (etcd: every 5 minutes). */
export const revisionModeIntervalMs = 5 * 60 * 1000;
/** Periodic mode samples the revision this many times per retention period (etcd: 10). */
const samplesPerRetention = 10;

/** Settings of {@link AutoCompactor}; exactly one of the two retentions is positive. */
export interface AutoCompactorOptions {
  readonly mode: "periodic" | "revision";
  /** Periodic mode: keep this much history, in milliseconds. */
  readonly retentionMs: number;
  /** Revision mode: keep this many revisions. */
  readonly retentionRevisions: number;
  readonly logger: Logger;
  /** Monotonic clock in ms. */
  readonly nowMs: () => number;
}

/**
 * etcd's auto-compaction, run by the leader and replicated as a Compact command.
 * - periodic: every retention/10 the current revision is sampled; the store is compacted to the
 *   newest sample that is at least one retention period old.
 * - revision: every 5 minutes the store is compacted to (current revision − retention).
 * Followers keep sampling (so a new leader can compact at once) but never propose.
 */
export class AutoCompactor {
  readonly #member: CompactingMember;
  readonly #opts: AutoCompactorOptions;
  readonly #timer: NodeJS.Timeout;
  readonly #samples: { atMs: number; revision: number }[] = [];
  #lastCompacted = 0;
  #busy = false;

  constructor(member: CompactingMember, opts: AutoCompactorOptions) {
    this.#member = member;
    this.#opts = opts;
    const interval =
      opts.mode === "periodic"
        ? Math.max(100, Math.floor(opts.retentionMs / samplesPerRetention))
        : revisionModeIntervalMs;
    this.#timer = setInterval(() => this.#tick(), interval);
    this.#timer.unref();
  }

  close(): void {
    clearInterval(this.#timer);
  }

  /** The revision to compact to now, or 0 for nothing to do. */
  target(): number {
    const store = this.#member.store;
    if (this.#opts.mode === "revision")
      return Math.max(0, store.currentRevision - this.#opts.retentionRevisions);
    const now = this.#opts.nowMs();
    this.#samples.push({ atMs: now, revision: store.currentRevision });
    let target = 0;
    while (this.#samples.length > 0 && (this.#samples[0]?.atMs ?? now) <= now - this.#opts.retentionMs) {
      target = this.#samples.shift()?.revision ?? target;
    }
    return target;
  }

  #tick(): void {
    const target = this.target();
    if (this.#busy || !this.#member.isLeader) return;
    if (target <= this.#lastCompacted || target <= this.#member.store.compactRevision) return;
    this.#busy = true;
    this.#member
      .propose({ type: "compact", revision: target })
      .then((r) => {
        if (r.ok) {
          this.#lastCompacted = target;
          this.#opts.logger.info("compactor: compacted", { revision: target, mode: this.#opts.mode });
        } else {
          this.#opts.logger.debug("compactor: compaction refused", {
            revision: target,
            reason: r.error.message,
          });
        }
      })
      .catch((e) =>
        this.#opts.logger.debug("compactor: compaction failed; retried later", { error: String(e) }),
      )
      .finally(() => {
        this.#busy = false;
      });
  }
}
