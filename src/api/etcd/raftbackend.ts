import { ErrorCode, SynodError } from "../../lib/errors.js";
import type { Logger } from "../../lib/logger.js";
import type {
  AlarmRequest,
  AuthCommand,
  AuthResponse,
  AuthStore,
  Command,
  CommandResponse,
  DeleteRangeRequest,
  LeaseGrantRequest,
  LeaseId,
  LeaseKeepAliveResponse,
  LeaseTimeToLiveResponse,
  PutRequest,
  RangeRequest,
  Revision,
  TxnRequest,
  WatchHub,
  WriteAuth,
} from "../../mvcc/mod.js";
import { ConfChangeType, NONE } from "../../raft/types.js";
import type { MemberInfo } from "../../server/envelope.js";
import { memberIdOf } from "../../server/ids.js";
import type { Member } from "../../server/member.js";
import { txnReadOnly } from "./auth/authorized.js";
import type {
  MemberInfo as ApiMemberInfo,
  BackendFailure,
  BackendResult,
  EtcdBackend,
  HashResult,
  HeaderInfo,
  MemberStatus,
  MembershipResult,
  ReadOptions,
  SnapshotStream,
} from "./backend.js";
import { EtcdServerErrorCode } from "./backend.js";
import { type ForwardTls, postJson } from "./forward.js";
import { progressNotifyIntervalMsDefault, storeHash, storeSnapshot, watchSyncIntervalMs } from "./local.js";
import { alarmText, etcdServerVersion } from "./version.js";

/** How long a forwarded lease request may take. */
const forwardTimeoutMs = 5000;

/**
 * Test only: a deliberately broken mode for the chaos harness's own test, which must catch it.
 * With the environment variable `SYNOD_TEST_BUG=stale-reads`, linearizable reads skip the
 * ReadIndex round and are served from this member's state, so a deposed or partitioned leader
 * (or a lagging follower) answers stale reads. Never set outside that test.
 */
const testBugStaleReads = process.env.SYNOD_TEST_BUG === "stale-reads";

/** Options of a {@link RaftBackend}. */
export interface RaftBackendOptions {
  readonly clusterId: bigint;
  readonly clusterToken: string;
  readonly logger: Logger;
  /** This member's client certificate, for forwarding to a leader's `https://` client URL. */
  readonly forwardTls?: ForwardTls;
}

/**
 * The etcd API's backend on a Raft {@link Member}: writes are proposed through the log and
 * answered once applied here; linearizable reads wait for a ReadIndex round, serializable ones
 * read this member's state; lease keep-alives and time-to-live are answered by the leader
 * (followers forward them to the leader's client URL, as etcd does).
 */
export class RaftBackend implements EtcdBackend {
  readonly member: Member;
  readonly #clusterId: bigint;
  readonly #token: string;
  readonly #logger: Logger;
  readonly #forwardTls: ForwardTls | null;
  readonly #timers: NodeJS.Timeout[] = [];
  #syncScheduled = false;
  #closed = false;

  constructor(member: Member, options: RaftBackendOptions) {
    this.member = member;
    this.#clusterId = options.clusterId;
    this.#token = options.clusterToken;
    this.#logger = options.logger;
    this.#forwardTls = options.forwardTls ?? null;
    this.#timers.push(
      setInterval(() => this.#syncWatchers(), watchSyncIntervalMs),
      setInterval(() => this.member.store.watchHub.progressNotify(), progressNotifyIntervalMsDefault),
    );
    for (const t of this.#timers) t.unref();
  }

  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
  }

  // ------------------------------------------------------------------ KV

  async range(req: RangeRequest, opts: ReadOptions) {
    const barrier = await this.#readBarrier(opts);
    if (barrier !== null) return barrier;
    return this.member.store.range(req);
  }

  put(req: PutRequest, auth?: WriteAuth) {
    return this.#write({ type: "put", request: req }, "put", auth);
  }

  deleteRange(req: DeleteRangeRequest, auth?: WriteAuth) {
    return this.#write({ type: "deleteRange", request: req }, "deleteRange", auth);
  }

  async txn(req: TxnRequest, opts: ReadOptions, auth?: WriteAuth) {
    if (txnReadOnly(req)) {
      const barrier = await this.#readBarrier(opts);
      if (barrier !== null) return barrier;
      return this.member.store.txn(req);
    }
    return this.#write({ type: "txn", request: req }, "txn", auth);
  }

  compact(revision: Revision, _opts: { readonly physical: boolean }, auth?: WriteAuth) {
    return this.#write({ type: "compact", revision }, "compact", auth);
  }

  // ------------------------------------------------------------------ leases

  leaseGrant(req: LeaseGrantRequest) {
    return this.#write({ type: "leaseGrant", request: req }, "leaseGrant");
  }

  leaseRevoke(id: LeaseId, auth?: WriteAuth) {
    return this.#write({ type: "leaseRevoke", id }, "leaseRevoke", auth);
  }

  async leaseKeepAlive(id: LeaseId): Promise<BackendResult<LeaseKeepAliveResponse>> {
    if (this.member.isLeader) {
      const r = this.member.store.leaseKeepAlive(id, nowMs());
      return ok({ revision: r.revision, id: r.id, ttl: r.ttl });
    }
    const res = await this.#forward("/v3/lease/keepalive", { ID: String(id) });
    if (!res.ok) return res;
    const r = (res.value as { result?: { ID?: string; TTL?: string } }).result ?? {};
    return ok({ revision: this.member.store.currentRevision, id, ttl: Number(r.TTL ?? 0) });
  }

  async leaseTimeToLive(id: LeaseId, keys: boolean): Promise<BackendResult<LeaseTimeToLiveResponse>> {
    if (this.member.isLeader) return ok(this.member.store.leaseTimeToLive(id, nowMs(), keys));
    // The keys come from this member's lessor (below), so the leader is asked for the TTL only:
    // a request without keys needs no auth token there (etcd checks permissions only for keys).
    const res = await this.#forward("/v3/lease/timetolive", { ID: String(id), keys: false });
    if (!res.ok) return res;
    const r = res.value as { TTL?: string; grantedTTL?: string; keys?: string[] };
    const local = this.member.store.leaseTimeToLive(id, nowMs(), keys);
    return ok({ ...local, ttl: Number(r.TTL ?? -1), grantedTtl: Number(r.grantedTTL ?? 0) });
  }

  leaseLeases() {
    return Promise.resolve(ok(this.member.store.leaseLeases()));
  }

  // ------------------------------------------------------------------ watch

  watchHub(): WatchHub {
    return this.member.store.watchHub;
  }

  requestWatchSync(): void {
    if (this.#syncScheduled || this.#closed) return;
    this.#syncScheduled = true;
    setImmediate(() => {
      this.#syncScheduled = false;
      this.#syncWatchers();
    });
  }

  #syncWatchers(): void {
    const hub = this.member.store.watchHub;
    if (hub.unsyncedCount > 0) hub.sync();
  }

  // ------------------------------------------------------------------ maintenance and cluster

  header(): HeaderInfo {
    return {
      clusterId: this.#clusterId,
      memberId: BigInt(this.member.id),
      raftTerm: this.member.raftTerm,
      revision: this.member.store.currentRevision,
    };
  }

  hasLeader(): boolean {
    return this.member.leaderId !== NONE;
  }

  status(): Promise<BackendResult<MemberStatus>> {
    const s = this.member.store;
    const self = this.member.members().find((m) => m.id === this.member.id);
    return Promise.resolve(
      ok({
        revision: s.currentRevision,
        version: etcdServerVersion,
        dbSize: s.accountedBytes,
        dbSizeInUse: s.accountedBytes,
        dbSizeQuota: s.limits.quotaBytes,
        leader: BigInt(this.member.leaderId),
        raftIndex: this.member.commitIndex,
        raftTerm: this.member.raftTerm,
        raftAppliedIndex: this.member.appliedIndex,
        isLearner: self?.isLearner ?? false,
        errors: s.alarms.map((a) =>
          alarmText(BigInt(a.memberId === 0 ? this.member.id : a.memberId), a.alarm),
        ),
      }),
    );
  }

  alarm(req: AlarmRequest, auth?: WriteAuth) {
    if (req.action === "get") return Promise.resolve(this.member.store.alarm(req));
    return this.#write({ type: "alarm", request: req }, "alarm", auth);
  }

  hash(): Promise<BackendResult<HashResult>> {
    return Promise.resolve(storeHash(this.member.store));
  }

  hashKv(revision: Revision) {
    return Promise.resolve(this.member.store.hashKv(revision));
  }

  async memberList(opts: { readonly linearizable: boolean }): Promise<BackendResult<MembershipResult>> {
    if (opts.linearizable) {
      const barrier = await this.#readBarrier({ serializable: false });
      if (barrier !== null) return barrier;
    }
    return ok(this.#membership(null));
  }

  snapshot(): Promise<BackendResult<SnapshotStream>> {
    return Promise.resolve(ok(storeSnapshot(this.member.store)));
  }

  defragment() {
    return Promise.resolve(ok({ revision: this.member.store.currentRevision }));
  }

  async memberAdd(peerUrls: readonly string[], isLearner: boolean): Promise<BackendResult<MembershipResult>> {
    // The id the new member derives itself from its peer URLs and the cluster token.
    const id = memberIdOf(peerUrls, this.#token);
    if (this.member.members().some((m) => m.id === id)) {
      return fail(EtcdServerErrorCode.memberExists, `member ${id.toString(16)} already exists`);
    }
    if (this.member.members().some((m) => m.peerUrls.some((u) => peerUrls.includes(u)))) {
      return fail(EtcdServerErrorCode.peerUrlExists, `peer URL already used: ${peerUrls.join(",")}`);
    }
    const info: MemberInfo = { id, name: "", peerUrls, clientUrls: [], isLearner };
    const type = isLearner ? ConfChangeType.addLearner : ConfChangeType.addNode;
    const r = await this.#change([{ type, nodeId: id }], [info]);
    return r.ok ? ok(this.#membership(id)) : r;
  }

  async memberRemove(id: bigint): Promise<BackendResult<MembershipResult>> {
    const nodeId = Number(id);
    if (!this.member.members().some((m) => m.id === nodeId)) {
      return fail(EtcdServerErrorCode.memberNotFound, `member ${id.toString(16)} not found`);
    }
    const r = await this.#change([{ type: ConfChangeType.removeNode, nodeId }], []);
    return r.ok ? ok(this.#membership(null)) : r;
  }

  async memberUpdate(id: bigint, peerUrls: readonly string[]): Promise<BackendResult<MembershipResult>> {
    const nodeId = Number(id);
    const m = this.member.members().find((x) => x.id === nodeId);
    if (m === undefined)
      return fail(EtcdServerErrorCode.memberNotFound, `member ${id.toString(16)} not found`);
    if (this.member.members().some((x) => x.id !== nodeId && x.peerUrls.some((u) => peerUrls.includes(u)))) {
      return fail(EtcdServerErrorCode.peerUrlExists, `peer URL already used: ${peerUrls.join(",")}`);
    }
    // The same role again (no change to the configuration), carrying the new addresses.
    const type = m.isLearner ? ConfChangeType.addLearner : ConfChangeType.addNode;
    const r = await this.#change([{ type, nodeId }], [{ ...m, peerUrls }]);
    return r.ok ? ok(this.#membership(null)) : r;
  }

  async memberPromote(id: bigint): Promise<BackendResult<MembershipResult>> {
    const nodeId = Number(id);
    const m = this.member.members().find((x) => x.id === nodeId);
    if (m === undefined)
      return fail(EtcdServerErrorCode.memberNotFound, `member ${id.toString(16)} not found`);
    if (!m.isLearner)
      return fail(EtcdServerErrorCode.memberNotLearner, `member ${id.toString(16)} is not a learner`);
    const r = await this.#change([{ type: ConfChangeType.addNode, nodeId }], [{ ...m, isLearner: false }]);
    return r.ok ? ok(this.#membership(nodeId)) : r;
  }

  async moveLeader(targetId: bigint): Promise<BackendResult<{ readonly revision: Revision }>> {
    if (!this.member.isLeader) return fail(EtcdServerErrorCode.notLeader, "this member is not the leader");
    const to = Number(targetId);
    const res = this.member.transferLeadership(to);
    if (!res.ok) return fail(EtcdServerErrorCode.badLeaderTransferee, res.detail);
    const deadline = Date.now() + 5000;
    while (this.member.leaderId !== to) {
      if (Date.now() > deadline) return fail(EtcdServerErrorCode.timeout, "leadership transfer timed out");
      await new Promise((r) => setTimeout(r, 10));
    }
    return ok({ revision: this.member.store.currentRevision });
  }

  // ------------------------------------------------------------------ auth

  authStore(): AuthStore {
    return this.member.store.auth;
  }

  auth(command: AuthCommand, auth: WriteAuth): Promise<BackendResult<AuthResponse>> {
    return this.#write({ type: "auth", request: command }, "auth", auth);
  }

  async readBarrier(): Promise<BackendResult<void>> {
    return (await this.#readBarrier({ serializable: false })) ?? ok(undefined);
  }

  // ------------------------------------------------------------------ helpers

  async #change(
    changes: Parameters<Member["changeMembership"]>[0],
    infos: readonly MemberInfo[],
  ): Promise<BackendResult<void>> {
    try {
      await this.member.changeMembership(changes, infos);
      return ok(undefined);
    } catch (e) {
      return failureOf(e);
    }
  }

  #membership(id: number | null): MembershipResult {
    const members = this.member.members().map(apiMember);
    return {
      revision: this.member.store.currentRevision,
      member: id === null ? null : (members.find((m) => m.id === BigInt(id)) ?? null),
      members,
    };
  }

  /** etcd serves only serializable reads and Status on a learner. */
  #learnerRefusal(): { ok: false; error: BackendFailure } | null {
    if (!this.member.isLearner) return null;
    return fail(EtcdServerErrorCode.notSupportedForLearner, "this member is a learner");
  }

  async #readBarrier(opts: ReadOptions): Promise<BackendResult<never> | null> {
    if (opts.serializable || testBugStaleReads) return null;
    const refused = this.#learnerRefusal();
    if (refused !== null) return refused;
    try {
      await this.member.linearizableRead();
      return null;
    } catch (e) {
      return failureOf(e);
    }
  }

  async #write<K extends CommandResponse["type"]>(
    command: Command,
    type: K,
    auth?: WriteAuth,
  ): Promise<BackendResult<ResponseOf<K>>> {
    const refused = this.#learnerRefusal();
    if (refused !== null) return refused;
    try {
      const r = await this.member.propose(command, auth);
      if (!r.ok) return r;
      if (this.member.store.watchHub.unsyncedCount > 0) this.requestWatchSync();
      const v = r.value;
      if (v.type !== type) throw new Error(`command ${type} answered as ${v.type}`);
      const response = (v as Extract<CommandResponse, { type: K }>).response as ResponseOf<K>;
      return { ok: true, value: response };
    } catch (e) {
      return failureOf(e);
    }
  }

  /** Sends a lease request to the leader's client URL (etcd forwards these to the leader). */
  async #forward(path: string, body: unknown): Promise<BackendResult<unknown>> {
    const leader = this.member.members().find((m) => m.id === this.member.leaderId);
    const url = leader?.clientUrls[0];
    if (leader === undefined || url === undefined) return fail(ErrorCode.noLeader, "no leader to forward to");
    try {
      const text = await postJson(
        new URL(path, url),
        JSON.stringify(body),
        this.#forwardTls,
        forwardTimeoutMs,
      );
      const first = text.split("\n").find((l) => l.trim().length > 0) ?? "{}";
      return ok(JSON.parse(first) as unknown);
    } catch (e) {
      this.#logger.warn("server: forwarding a lease request to the leader failed", {
        path,
        error: String(e),
      });
      return fail(EtcdServerErrorCode.timeoutDueToConnectionLost, `leader unreachable: ${String(e)}`);
    }
  }
}

/** The response carried by a command response of type `K`. */
type ResponseOf<K extends CommandResponse["type"]> = Extract<CommandResponse, { type: K }>["response"];

function apiMember(m: MemberInfo): ApiMemberInfo {
  return {
    id: BigInt(m.id),
    name: m.name,
    peerUrls: m.peerUrls,
    clientUrls: m.clientUrls,
    isLearner: m.isLearner,
  };
}

function ok<T>(value: T): BackendResult<T> {
  return { ok: true, value };
}

function fail(code: BackendFailure["code"], detail: string): { ok: false; error: BackendFailure } {
  return { ok: false, error: { code, detail } };
}

function failureOf(e: unknown): { ok: false; error: BackendFailure } {
  if (e instanceof SynodError) return fail(e.code, e.message);
  throw e;
}

function nowMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}
