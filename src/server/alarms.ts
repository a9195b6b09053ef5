/**
 * Alarms the leader raises and clears by itself, through the log like every other alarm change:
 *
 * - **NOSPACE low-water mark.** The state machine raises NOSPACE when a write would exceed the
 *   quota (writes are refused, reads and deletes served). etcd leaves it raised until an operator
 *   runs `etcdctl alarm disarm`; Synod's leader disarms it by itself once the accounted bytes fall
 *   to {@link noSpaceLowWaterRatio} of the quota or below (after deletes and a compaction), so a
 *   cluster recovers from a full quota without a manual step. Disarming by hand still works.
 * - **CORRUPT from a periodic cross-member hash check** (etcd's `--experimental-corrupt-check-time`):
 *   every interval the leader computes HashKV at its current revision and asks every other member
 *   for HashKV at that same revision; a member whose hash differs at the same compaction revision
 *   gets a CORRUPT alarm (then every member refuses reads and writes, as etcd does). Members that
 *   cannot answer (unreachable, behind the revision, compacted past it) are skipped this round.
 */
import type { Logger } from "../lib/logger.js";
import { AlarmAction, AlarmType } from "../mvcc/mod.js";
import type { MemberInfo } from "./envelope.js";
import { hexId } from "./ids.js";
import type { Member } from "./member.js";

/** NOSPACE is disarmed once accounted bytes are at or below this fraction of the quota. */
export const noSpaceLowWaterRatio = 0.8;
/** How often the leader checks the NOSPACE low-water mark, in ms. */
export const noSpaceCheckIntervalMs = 1000;

/** What the alarm monitor needs of a member (a {@link Member} provides it). */
export type AlarmingMember = Pick<Member, "id" | "store" | "isLeader" | "propose" | "members">;

/** A peer's HashKV answer at a revision. */
export interface PeerHash {
  readonly hash: number;
  readonly compactRevision: number;
  readonly hashRevision: number;
}

/** Settings of {@link AlarmMonitor}. */
export interface AlarmMonitorOptions {
  /** The storage quota in accounted bytes (`--quota-backend-bytes`). */
  readonly quotaBytes: number;
  /** Interval of the cross-member hash check in ms; 0 turns it off (etcd's default). */
  readonly corruptCheckMs: number;
  /**
   * HashKV of `peer` at `revision`, through its client URL; rejects when the member cannot answer.
   * The composition (`src/cli/serve.ts`) provides it with the etcd client.
   */
  readonly peerHashKv: (peer: MemberInfo, revision: number) => Promise<PeerHash>;
  readonly logger: Logger;
}

/** One round of the corruption check: what was compared and which members differed. */
export interface CorruptCheckReport {
  readonly revision: number;
  readonly hash: number;
  /** Members whose hash matched. */
  readonly matched: number[];
  /** Members whose hash differed at the same compaction revision (raised CORRUPT). */
  readonly mismatched: number[];
  /** Members skipped this round (no answer, other compaction revision). */
  readonly skipped: number[];
}

/** Runs the NOSPACE low-water check and the periodic corruption check on the leader. */
export class AlarmMonitor {
  readonly #member: AlarmingMember;
  readonly #opts: AlarmMonitorOptions;
  readonly #timers: NodeJS.Timeout[] = [];
  #clearing = false;
  #checking = false;

  constructor(member: AlarmingMember, opts: AlarmMonitorOptions) {
    this.#member = member;
    this.#opts = opts;
    const space = setInterval(() => void this.checkNoSpace(), noSpaceCheckIntervalMs);
    space.unref();
    this.#timers.push(space);
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
   * On the leader: one round of the cross-member hash check (see the file comment). Resolves with
   * the report, or null when this member is not the leader or a round is already running.
   */
  async checkCorruption(): Promise<CorruptCheckReport | null> {
    const m = this.#member;
    if (this.#checking || !m.isLeader) return null;
    this.#checking = true;
    try {
      const own = m.store.hashKv(0);
      if (!own.ok) return null;
      const { hashRevision: revision, hash, compactRevision } = own.value;
      const peers = m.members().filter((p) => p.id !== m.id && p.clientUrls.length > 0);
      const answers = await Promise.all(
        peers.map((p) =>
          this.#opts.peerHashKv(p, revision).then(
            (a) => ({ peer: p, answer: a }),
            (e: unknown) => ({ peer: p, answer: String(e) }),
          ),
        ),
      );
      const report: CorruptCheckReport = { revision, hash, matched: [], mismatched: [], skipped: [] };
      for (const { peer, answer } of answers) {
        if (typeof answer === "string" || answer.compactRevision !== compactRevision) {
          report.skipped.push(peer.id);
        } else if (answer.hashRevision === revision && answer.hash !== hash) {
          report.mismatched.push(peer.id);
          this.#opts.logger.warn("alarms: member's hash differs from the leader's; raising CORRUPT", {
            peer: hexId(peer.id),
            revision,
            leaderHash: hash,
            peerHash: answer.hash,
            compactRevision,
          });
          await this.#raiseCorrupt(peer.id);
        } else report.matched.push(peer.id);
      }
      this.#opts.logger.debug("alarms: corruption check done", { ...report });
      return report;
    } finally {
      this.#checking = false;
    }
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
