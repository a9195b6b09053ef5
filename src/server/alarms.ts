/**
 * Alarms the leader raises and clears by itself, through the log like every other alarm change:
 *
 * - **NOSPACE low-water mark.** The state machine raises NOSPACE when a write would exceed the
 *   quota (writes are refused, reads and deletes served). etcd leaves it raised until an operator
 *   runs `etcdctl alarm disarm`; Synod's leader disarms it by itself once the accounted bytes fall
 *   to {@link noSpaceLowWaterRatio} of the quota or below (after deletes and a compaction), so a
 *   cluster recovers from a full quota without a manual step. Disarming by hand still works.
 * - **CORRUPT from a periodic cross-member hash check** (etcd's `--experimental-corrupt-check-time`):
 *   every interval the leader computes HashKV at its current revision and puts it in the log (a
 *   hash check entry, `envelope.ts`). Every member, applying that entry, computes its own HashKV at
 *   the same revision; one whose hash differs at the same compaction revision raises a CORRUPT
 *   alarm naming itself (then every member refuses reads and writes, as etcd does). Members that
 *   cannot compare (compacted past the revision, or behind it — only a member whose data differs
 *   can be behind at that point of the log) skip the round. The check travels through Raft, so it
 *   needs no client connection between members and works the same with TLS and auth on (etcd asks
 *   its peers over the peer URLs).
 */
import type { Logger } from "../lib/logger.js";
import { AlarmAction, AlarmType } from "../mvcc/mod.js";
import type { HashCheck } from "./envelope.js";
import { hexId } from "./ids.js";
import type { Member } from "./member.js";

/** NOSPACE is disarmed once accounted bytes are at or below this fraction of the quota. */
export const noSpaceLowWaterRatio = 0.8;
/** How often the leader checks the NOSPACE low-water mark, in ms. */
export const noSpaceCheckIntervalMs = 1000;

/** What the alarm monitor needs of a member (a {@link Member} provides it). */
export type AlarmingMember = Pick<
  Member,
  "id" | "store" | "isLeader" | "propose" | "proposeHashCheck" | "onHashCheck"
>;

/** Settings of {@link AlarmMonitor}. */
export interface AlarmMonitorOptions {
  /** The storage quota in accounted bytes (`--quota-backend-bytes`). */
  readonly quotaBytes: number;
  /** Interval of the cross-member hash check in ms; 0 turns it off (etcd's default). */
  readonly corruptCheckMs: number;
  readonly logger: Logger;
}

/** How a member's own data compared with a hash check entry. */
export type HashCompare = "match" | "mismatch" | "skipped";

/** Runs the NOSPACE low-water check and the periodic corruption check on the leader. */
export class AlarmMonitor {
  readonly #member: AlarmingMember;
  readonly #opts: AlarmMonitorOptions;
  readonly #timers: NodeJS.Timeout[] = [];
  #clearing = false;

  constructor(member: AlarmingMember, opts: AlarmMonitorOptions) {
    this.#member = member;
    this.#opts = opts;
    const space = setInterval(() => void this.checkNoSpace(), noSpaceCheckIntervalMs);
    space.unref();
    this.#timers.push(space);
    member.onHashCheck = (c) => {
      this.compare(c);
    };
    if (opts.corruptCheckMs > 0) {
      const corrupt = setInterval(() => void this.checkCorruption(), opts.corruptCheckMs);
      corrupt.unref();
      this.#timers.push(corrupt);
    }
  }

  close(): void {
    for (const t of this.#timers) clearInterval(t);
  }

  /** The accounted bytes at or below which NOSPACE is disarmed. */
  get lowWaterBytes(): number {
    return Math.floor(this.#opts.quotaBytes * noSpaceLowWaterRatio);
  }

  /**
   * On the leader: disarms NOSPACE when usage is at or below the low-water mark. Resolves true
   * when it disarmed the alarm.
   */
  async checkNoSpace(): Promise<boolean> {
    const m = this.#member;
    if (this.#clearing || !m.isLeader) return false;
    const raised = m.store.alarms.filter((a) => a.alarm === AlarmType.noSpace);
    const used = m.store.accountedBytes;
    if (raised.length === 0 || used > this.lowWaterBytes) return false;
    this.#clearing = true;
    try {
      const r = await m.propose({
        type: "alarm",
        request: { action: AlarmAction.deactivate, alarm: AlarmType.noSpace, memberId: 0 },
      });
      if (!r.ok) return false;
      this.#opts.logger.info("alarms: NOSPACE disarmed: usage is below the low-water mark", {
        usedBytes: used,
        lowWaterBytes: this.lowWaterBytes,
        quotaBytes: this.#opts.quotaBytes,
      });
      return true;
    } catch (e) {
      this.#opts.logger.debug("alarms: disarming NOSPACE failed; retried", { error: String(e) });
      return false;
    } finally {
      this.#clearing = false;
    }
  }

  /**
   * On the leader: one round of the cross-member hash check (see the file comment): puts this
   * member's HashKV at its current revision in the log. Returns false when not the leader.
   */
  checkCorruption(): boolean {
    const m = this.#member;
    if (!m.isLeader) return false;
    const own = m.store.hashKv(0);
    if (!own.ok) return false;
    const { hashRevision: revision, hash, compactRevision } = own.value;
    m.proposeHashCheck({ leader: m.id, revision, compactRevision, hash });
    return true;
  }

  /** On every member, as it applies a hash check entry: compares and raises CORRUPT on a mismatch. */
  compare(c: HashCheck): HashCompare {
    const m = this.#member;
    const own = m.store.hashKv(c.revision);
    if (!own.ok || own.value.compactRevision !== c.compactRevision) {
      this.#opts.logger.debug("alarms: hash check skipped", {
        revision: c.revision,
        leader: hexId(c.leader),
      });
      return "skipped";
    }
    if (own.value.hash === c.hash) return "match";
    this.#opts.logger.warn("alarms: member's hash differs from the leader's; raising CORRUPT", {
      member: hexId(m.id),
      leader: hexId(c.leader),
      revision: c.revision,
      leaderHash: c.hash,
      memberHash: own.value.hash,
      compactRevision: c.compactRevision,
    });
    void this.#raiseCorrupt(m.id);
    return "mismatch";
  }

  async #raiseCorrupt(memberId: number): Promise<void> {
    try {
      await this.#member.propose({
        type: "alarm",
        request: { action: AlarmAction.activate, alarm: AlarmType.corrupt, memberId },
      });
    } catch (e) {
      this.#opts.logger.warn("alarms: raising CORRUPT failed; the next check retries", { error: String(e) });
    }
  }
}
