import { AssertionError, assert } from "../lib/assert.js";
import { type Logger, noopLogger } from "../lib/logger.js";
import { type AuthCommand, AuthStore } from "./auth.js";
import { binaryToBytes, EMPTY_BYTES } from "./bytes.js";
import { type Command, decodeCommand, txnDepthMax, type WriteAuth } from "./command.js";
import { fail, failure, MvccErrorCode, type MvccFailure, type MvccResult, ok } from "./errors.js";
import { hashKv } from "./hash.js";
import { Kv } from "./kv.js";
import { Lessor, validLeaseId } from "./lessor.js";
import { leaseOverheadBytes, leaseTtlMaxSeconds, type MvccLimits, resolveLimits } from "./limits.js";
import { checkDelete, checkPut, checkPutState, execDelete, execPut, putCost } from "./ops.js";
import { checkRange, checkReadRevision, runRange } from "./range.js";
import {
  checkDuplicates,
  checkPath,
  checkTxn,
  choosePath,
  execTxn,
  finishTxn,
  txnCost,
  txnHasPut,
  txnHasWrite,
} from "./txn.js";
import {
  AlarmAction,
  type AlarmMember,
  type AlarmRequest,
  type AlarmResponse,
  AlarmType,
  type CompactResponse,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type HashKvResponse,
  type LeaseCheckpoint,
  type LeaseGrantRequest,
  type LeaseGrantResponse,
  type LeaseId,
  type LeaseKeepAliveResponse,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type Revision,
  type TxnRequest,
  type TxnResponse,
} from "./types.js";
import { WatchHub, type WatchHubOptions } from "./watch.js";

/** Options of one state machine. Every member of a cluster must use the same limits. */
export interface MvccStoreOptions {
  readonly limits?: Partial<MvccLimits>;
  readonly watch?: WatchHubOptions;
  readonly logger?: Logger;
}

/** What applying one command produced. */
export type CommandResponse =
  | { readonly type: "range"; readonly response: RangeResponse }
  | { readonly type: "put"; readonly response: PutResponse }
  | { readonly type: "deleteRange"; readonly response: DeleteRangeResponse }
  | { readonly type: "txn"; readonly response: TxnResponse }
  | { readonly type: "compact"; readonly response: CompactResponse }
  | { readonly type: "leaseGrant"; readonly response: LeaseGrantResponse }
  | { readonly type: "leaseRevoke"; readonly response: LeaseRevokeResponse }
  | { readonly type: "leaseCheckpoint"; readonly response: { readonly revision: Revision } }
  | { readonly type: "alarm"; readonly response: AlarmResponse }
  | { readonly type: "auth"; readonly response: AuthResponse };

/** What an auth command produced: the store revision, the auth revision after it, a minted token. */
export interface AuthResponse {
  readonly revision: Revision;
  readonly authRevision: number;
  /** The token minted by an authenticate command; "" otherwise. */
  readonly token: string;
}

/** What applying one log entry produced. */
export type ApplyOutcome =
  /** The entry's index was already applied (replay after a crash); nothing changed. */
  | { readonly type: "skipped" }
  /** An empty entry (the leader's no-op). */
  | { readonly type: "noop" }
  /** A command; `requestId` from its envelope lets the server answer the waiting client. */
  | { readonly type: "command"; readonly requestId: number; readonly result: MvccResult<CommandResponse> };

/**
 * The replicated MVCC state machine with etcd v3 semantics: keys, revisions, ranges, puts,
 * deletes, txns, compaction, leases, alarms and the watch hub. Pure: no I/O, no clock, no
 * randomness; applying the same commands on every member gives identical state (compare with
 * {@link MvccStore.hashKv}). Writes normally arrive through {@link MvccStore.applyEntry}; the
 * direct methods are the same operations for tests and tools. Reads are served locally.
 *
 * Expected failures are returned as {@link MvccResult} values with stable codes; a failed request
 * changes nothing.
 */
export class MvccStore {
  readonly kv = new Kv();
  readonly lessor = new Lessor();
  /** Users, roles, permissions and the auth revision (etcd's auth store). */
  readonly auth = new AuthStore();
  readonly watchHub: WatchHub;
  readonly limits: MvccLimits;
  readonly logger: Logger;
  #alarms: AlarmMember[] = [];
  #appliedIndex = 0;

  constructor(options: MvccStoreOptions = {}) {
    this.limits = resolveLimits(options.limits);
    this.logger = options.logger ?? noopLogger;
    this.watchHub = new WatchHub(this.kv, options.watch);
    this.kv.attachments = this.lessor;
    this.kv.listener = (rev, slots) => this.watchHub.onRevision(rev, slots);
  }

  /** The store revision. */
  get currentRevision(): Revision {
    return this.kv.currentRevision;
  }

  /** The last compaction revision (0 if never compacted). */
  get compactRevision(): Revision {
    return this.kv.compactRevision;
  }

  /** Bytes counted against the quota. */
  get accountedBytes(): number {
    return this.kv.accountedBytes + this.lessor.size * leaseOverheadBytes;
  }

  /**
   * Bytes of memory compactions dropped since the store was created (see `Kv.releasedBytes`):
   * a host may ask its garbage collector to return them once enough has piled up.
   */
  get releasedBytes(): number {
    return this.kv.releasedBytes;
  }

  /** Index of the last applied log entry (etcd's consistent index); snapshots carry it. */
  get appliedIndex(): number {
    return this.#appliedIndex;
  }

  /** Raised alarms, sorted by member then type. */
  get alarms(): readonly AlarmMember[] {
    return this.#alarms;
  }

  /**
   * Applies one committed log entry. Entries at or below {@link appliedIndex} are skipped, so a
   * replay after a crash is idempotent. A malformed command is a broken invariant (only this
   * code encodes commands) and throws.
   */
  applyEntry(index: number, data: Uint8Array): ApplyOutcome {
    if (index <= this.#appliedIndex) return { type: "skipped" };
    this.#appliedIndex = index;
    if (data.length === 0) return { type: "noop" };
    const decoded = decodeCommand(data);
    // The message is built only on failure (a template argument would be built on every apply).
    if (typeof decoded === "string")
      throw new AssertionError(`MvccStore: entry ${index} holds a malformed command: ${decoded}`);
    if (data.length > this.limits.requestBytesMax) {
      const bad = failure(
        MvccErrorCode.requestTooLarge,
        `Cannot apply: command is ${data.length} bytes, more than ${this.limits.requestBytesMax}`,
      );
      return { type: "command", requestId: decoded.requestId, result: fail(bad) };
    }
    if (decoded.auth !== undefined) {
      const refused = this.checkWriteAuth(decoded.command, decoded.auth);
      if (refused !== null) return { type: "command", requestId: decoded.requestId, result: fail(refused) };
    }
    return { type: "command", requestId: decoded.requestId, result: this.apply(decoded.command) };
  }

  /** Sets the applied index (snapshot restore). */
  restoreAppliedIndex(index: number): void {
    this.#appliedIndex = index;
  }

  /** Applies one decoded command; `index` is its log index (it names tokens an authenticate mints). */
  apply(cmd: Command, index = this.#appliedIndex): MvccResult<CommandResponse> {
    switch (cmd.type) {
      case "range":
        return wrap("range", this.range(cmd.request));
      case "put":
        return wrap("put", this.put(cmd.request));
      case "deleteRange":
        return wrap("deleteRange", this.deleteRange(cmd.request));
      case "txn":
        return wrap("txn", this.txn(cmd.request));
      case "compact":
        return wrap("compact", this.compact(cmd.revision));
      case "leaseGrant":
        return wrap("leaseGrant", this.leaseGrant(cmd.request));
      case "leaseRevoke":
        return wrap("leaseRevoke", this.leaseRevoke(cmd.id));
      case "leaseCheckpoint":
        return wrap("leaseCheckpoint", this.leaseCheckpoint(cmd.checkpoints));
      case "alarm":
        return wrap("alarm", this.alarm(cmd.request));
      case "auth":
        return wrap("auth", this.applyAuth(cmd.request, index));
    }
  }

  /**
   * The apply-time half of the API layer's permission checks for `cmd` (null: it may apply).
   * First the auth revision must be the one the request was checked at (`AuthStore.checkGuard`),
   * so every permission decision still holds. Then, as etcd's `checkLeasePuts` at apply: the
   * user must still be allowed to write every key now attached to a lease the command revokes or
   * attaches (Put, or a Put in either Txn branch), since keys may have been attached since.
   */
  checkWriteAuth(cmd: Command, auth: WriteAuth): MvccFailure | null {
    const stale = this.auth.checkGuard(auth.revision);
    if (stale !== null || !this.auth.enabled || this.auth.isRoot(auth.user)) return stale;
    for (const id of leasesTouched(cmd)) {
      for (const key of this.lessor.lookup(id)?.keys ?? []) {
        if (auth.user === "") return failure(MvccErrorCode.authUserEmpty, "a lease write needs a user");
        if (!this.auth.isPermitted(auth.user, binaryToBytes(key), EMPTY_BYTES, "write")) {
          return failure(
            MvccErrorCode.authPermissionDenied,
            `user '${auth.user}' may not write a key of lease ${id}`,
          );
        }
      }
    }
    return null;
  }

  /** Applies an auth command (users, roles, permissions, enable/disable, authenticate) at log `index`. */
  applyAuth(cmd: AuthCommand, index: number): MvccResult<AuthResponse> {
    const r = this.auth.apply(cmd, index);
    if (!r.ok) return r;
    return ok({
      revision: this.kv.currentRevision,
      authRevision: r.value.authRevision,
      token: r.value.token,
    });
  }

  /** Range read (etcd `Range`); `revision` of the response is always the current revision. */
  range(req: RangeRequest): MvccResult<RangeResponse> {
    const bad = this.#corrupt() ?? checkRange(req);
    if (bad !== null) return fail(bad);
    const current = this.kv.currentRevision;
    const requested = req.revision ?? 0;
    const badRev = checkReadRevision(this.kv, requested, current);
    if (badRev !== null) return fail(badRev);
    return ok(runRange(this.kv, req, requested > 0 ? requested : current, current));
  }

  /** Put (etcd `Put`). */
  put(req: PutRequest): MvccResult<PutResponse> {
    const bad =
      this.#corrupt() ??
      checkPut(req, this.limits) ??
      this.#spaceFor(putCost(req)) ??
      checkPutState(this.kv, this.lessor, req);
    if (bad !== null) return fail(bad);
    this.kv.beginWrite();
    const resp = execPut(this.kv, req);
    const revision = this.kv.endWrite();
    return ok({ revision, prevKv: resp.prevKv });
  }

  /** DeleteRange (etcd `DeleteRange`); deleting nothing leaves the revision unchanged. */
  deleteRange(req: DeleteRangeRequest): MvccResult<DeleteRangeResponse> {
    const bad = this.#corrupt() ?? checkDelete(req);
    if (bad !== null) return fail(bad);
    this.kv.beginWrite();
    const resp = execDelete(this.kv, req);
    const revision = this.kv.endWrite();
    return ok({ revision, deleted: resp.deleted, prevKvs: resp.prevKvs });
  }

  /**
   * Txn (etcd `Txn`): the shape (ops per level, keys, duplicates) and the chosen path (compares
   * against the state before the txn, puts' leases and `ignore_*` preconditions, range revisions)
   * are validated in full before anything is written; then the ops run in order.
   */
  txn(req: TxnRequest): MvccResult<TxnResponse> {
    const bad =
      this.#corrupt() ??
      checkTxn(req, this.limits.txnOpsMax, this.limits) ??
      checkDuplicates(req) ??
      (txnHasPut(req) ? this.#spaceFor(txnCost(req)) : null);
    if (bad !== null) return fail(bad);
    const rev = this.kv.currentRevision;
    const path = choosePath(this.kv, req, rev);
    const badPath = checkPath(this.kv, this.lessor, req, path, rev);
    if (badPath !== null) return fail(badPath);
    if (!txnHasWrite(req)) return ok(finishTxn(execTxn(this.kv, req, path), rev, false));
    this.kv.beginWrite();
    const result = execTxn(this.kv, req, path);
    const wrote = this.kv.pendingChanges > 0;
    const revision = this.kv.endWrite();
    return ok(finishTxn(result, revision, wrote));
  }

  /** Compact (etcd `Compact`): history below `revision` is dropped. */
  compact(revision: Revision): MvccResult<CompactResponse> {
    const bad = this.#corrupt();
    if (bad !== null) return fail(bad);
    const current = this.kv.currentRevision;
    const compacted = this.kv.compactRevision;
    if (revision <= compacted) {
      return fail(
        failure(
          MvccErrorCode.compacted,
          `Cannot compact at ${revision}: already compacted at ${compacted}`,
          compacted,
          current,
        ),
      );
    }
    if (revision > current) {
      return fail(
        failure(
          MvccErrorCode.futureRevision,
          `Cannot compact at ${revision}: the store is at ${current}`,
          0,
          current,
        ),
      );
    }
    this.kv.compact(revision);
    return ok({ revision: current });
  }

  /** LeaseGrant: id 0 picks an id; a TTL below the minimum is raised to it. */
  leaseGrant(req: LeaseGrantRequest): MvccResult<LeaseGrantResponse> {
    const current = this.kv.currentRevision;
    let bad = this.#corrupt();
    if (bad === null && req.ttl > leaseTtlMaxSeconds) {
      bad = failure(
        MvccErrorCode.leaseTtlTooLarge,
        `Cannot grant lease: 'ttl' must be at most ${leaseTtlMaxSeconds}, got ${req.ttl}`,
      );
    }
    if (bad === null && req.id !== 0 && !validLeaseId(req.id)) {
      bad = failure(
        MvccErrorCode.invalidLeaseId,
        `Cannot grant lease: 'id' must be in [1, 2^53-1], got ${req.id}`,
      );
    }
    if (bad === null && req.id !== 0 && this.lessor.lookup(req.id) !== undefined) {
      bad = failure(MvccErrorCode.leaseExists, `Cannot grant lease: id ${req.id} is in use`);
    }
    bad ??= this.#spaceFor(leaseOverheadBytes);
    if (bad !== null) return fail(bad);
    const id = req.id !== 0 ? req.id : this.lessor.generateId();
    const ttl = Math.max(Math.floor(req.ttl), this.limits.leaseTtlMinSeconds);
    this.lessor.grant(id, ttl);
    return ok({ revision: current, id, ttl });
  }

  /** LeaseRevoke: deletes every attached key at one new revision (in key order), then the lease. */
  leaseRevoke(id: LeaseId): MvccResult<LeaseRevokeResponse> {
    const bad = this.#corrupt();
    if (bad !== null) return fail(bad);
    const lease = this.lessor.lookup(id);
    if (lease === undefined)
      return fail(failure(MvccErrorCode.leaseNotFound, `Cannot revoke lease ${id}: not found`));
    const keys = [...lease.keys].sort();
    this.kv.beginWrite();
    for (const key of keys) {
      const keyId = this.kv.keys.lookup(key);
      assert(this.kv.slotAt(keyId, this.kv.readRevision) !== -1, "MvccStore: lease holds a deleted key");
      this.kv.tombstone(keyId);
    }
    const revision = this.kv.endWrite();
    this.lessor.remove(id);
    return ok({ revision });
  }

  /** Applies replicated remaining-TTL checkpoints. */
  leaseCheckpoint(checkpoints: readonly LeaseCheckpoint[]): MvccResult<{ revision: Revision }> {
    const bad = this.#corrupt();
    if (bad !== null) return fail(bad);
    this.lessor.checkpoint(checkpoints);
    return ok({ revision: this.kv.currentRevision });
  }

  /**
   * Leader only, not a log entry: renews a lease at monotonic time `nowMs`. TTL 0 for an
   * unknown or expired lease (not an error, as etcd).
   */
  leaseKeepAlive(id: LeaseId, nowMs: number): LeaseKeepAliveResponse & { readonly clearCheckpoint: boolean } {
    const revision = this.kv.currentRevision;
    const r = this.lessor.renew(id, nowMs);
    return { revision, id, ttl: r.ttl, clearCheckpoint: r.clearCheckpoint };
  }

  /** LeaseTimeToLive at monotonic time `nowMs`: TTL -1 for an unknown lease (not an error). */
  leaseTimeToLive(id: LeaseId, nowMs: number, withKeys = false): LeaseTimeToLiveResponse {
    const revision = this.kv.currentRevision;
    const lease = this.lessor.lookup(id);
    if (lease === undefined) return { revision, id, ttl: -1, grantedTtl: 0, keys: [] };
    const keys = withKeys ? [...lease.keys].sort().map(binaryToBytes) : [];
    return { revision, id, ttl: this.lessor.timeToLiveSeconds(id, nowMs), grantedTtl: lease.ttl, keys };
  }

  /** LeaseLeases: every lease id, ascending. */
  leaseLeases(): { readonly revision: Revision; readonly leases: readonly LeaseId[] } {
    return { revision: this.kv.currentRevision, leases: this.lessor.ids() };
  }

  /**
   * Alarm (etcd `Alarm`): `get` lists alarms of a type (`none` = all); `activate` raises one;
   * `deactivate` disarms it (member 0 matches any member). Always allowed.
   */
  alarm(req: AlarmRequest): MvccResult<AlarmResponse> {
    const revision = this.kv.currentRevision;
    switch (req.action) {
      case AlarmAction.get:
        return ok({
          revision,
          alarms: this.#alarms.filter((a) => req.alarm === AlarmType.none || a.alarm === req.alarm),
        });
      case AlarmAction.activate: {
        if (req.alarm === AlarmType.none) return ok({ revision, alarms: [] });
        const raised = this.#raise(req.memberId, req.alarm);
        return ok({ revision, alarms: [raised] });
      }
      case AlarmAction.deactivate: {
        const matches = (a: AlarmMember): boolean =>
          a.alarm === req.alarm && (req.memberId === 0 || a.memberId === req.memberId);
        const removed = this.#alarms.filter(matches);
        this.#alarms = this.#alarms.filter((a) => !matches(a));
        return ok({ revision, alarms: removed });
      }
    }
  }

  /** HashKV at `revision` (0 = current). */
  hashKv(revision: Revision = 0): MvccResult<HashKvResponse> {
    const current = this.kv.currentRevision;
    const bad = checkReadRevision(this.kv, revision, current);
    if (bad !== null) return fail(bad);
    const hashRevision = revision > 0 ? revision : current;
    return ok({
      revision: current,
      hash: hashKv(this.kv, hashRevision),
      compactRevision: this.kv.compactRevision,
      hashRevision,
    });
  }

  /**
   * After installing a snapshot as this store, moves the watch streams of the store it replaces
   * here; they continue from this store's history (see {@link WatchHub.adopt}).
   */
  adoptWatchers(replaced: MvccStore): void {
    this.watchHub.adopt(replaced.watchHub);
    // The token table follows too; tokens minted in entries the snapshot skipped are unknown and
    // invalidations it skipped cannot be replayed, so every token is dropped (clients re-authenticate).
    this.auth.listener = replaced.auth.listener;
    replaced.auth.listener = null;
    this.auth.listener?.({ type: "dropAll" });
  }

  /** Restores alarms (snapshot restore). */
  restoreAlarms(alarms: readonly AlarmMember[]): void {
    for (const a of alarms) this.#raise(a.memberId, a.alarm);
  }

  #raise(memberId: number, alarm: AlarmType): AlarmMember {
    const existing = this.#alarms.find((a) => a.memberId === memberId && a.alarm === alarm);
    if (existing !== undefined) return existing;
    const raised: AlarmMember = { memberId, alarm };
    this.#alarms = [...this.#alarms, raised].sort(
      (a, b) => a.memberId - b.memberId || (a.alarm < b.alarm ? -1 : a.alarm > b.alarm ? 1 : 0),
    );
    return raised;
  }

  #corrupt(): MvccFailure | null {
    if (this.#alarms.length > 0 && this.#alarms.some((a) => a.alarm === AlarmType.corrupt)) {
      return failure(MvccErrorCode.corrupt, "Cannot serve: the CORRUPT alarm is active");
    }
    return null;
  }

  /**
   * Quota gate for requests that add data: refused while NOSPACE is raised, and refused (raising
   * NOSPACE, as member 0) when `cost` more accounted bytes would exceed the quota.
   */
  #spaceFor(cost: number): MvccFailure | null {
    if (this.#alarms.length > 0 && this.#alarms.some((a) => a.alarm === AlarmType.noSpace)) {
      return failure(
        MvccErrorCode.noSpace,
        "Cannot write: the NOSPACE alarm is active; compact, then disarm it",
      );
    }
    if (this.accountedBytes + cost > this.limits.quotaBytes) {
      this.#raise(0, AlarmType.noSpace);
      this.logger.warn("storage quota exceeded; NOSPACE alarm raised", {
        accountedBytes: this.accountedBytes,
        quotaBytes: this.limits.quotaBytes,
      });
      return failure(
        MvccErrorCode.noSpace,
        `Cannot write: ${this.accountedBytes} + ${cost} bytes would exceed the quota of ${this.limits.quotaBytes}`,
      );
    }
    return null;
  }
}

/** The leases a command revokes or attaches keys to (puts in both txn branches, nested). */
function leasesTouched(cmd: Command): LeaseId[] {
  switch (cmd.type) {
    case "leaseRevoke":
      return [cmd.id];
    case "put":
      return (cmd.request.lease ?? 0) === 0 ? [] : [cmd.request.lease ?? 0];
    case "txn":
      return txnLeases(cmd.request, 0);
    default:
      return [];
  }
}

function txnLeases(req: TxnRequest, depth: number): LeaseId[] {
  const out: LeaseId[] = [];
  if (depth > txnDepthMax) return out;
  for (const op of [...req.success, ...req.failure]) {
    if (op.type === "put" && (op.request.lease ?? 0) !== 0) out.push(op.request.lease ?? 0);
    else if (op.type === "txn") out.push(...txnLeases(op.request, depth + 1));
  }
  return out;
}

function wrap<K extends CommandResponse["type"], T>(
  type: K,
  result: MvccResult<T>,
): MvccResult<CommandResponse> {
  if (!result.ok) return result;
  return ok({ type, response: result.value } as CommandResponse);
}
