import {
  type AlarmRequest,
  type AuthCommand,
  type AuthResponse,
  type AuthStore,
  type Command,
  encodeSnapshot,
  type LeaseGrantRequest,
  type LeaseId,
  type MvccLimits,
  type MvccResult,
  MvccStore,
  type Revision,
  type WatchHub,
  type WriteAuth,
} from "../../mvcc/mod.js";
import type {
  BackendResult,
  EtcdBackend,
  HashResult,
  HeaderInfo,
  MemberInfo,
  MemberStatus,
  MembershipResult,
  ReadOptions,
  SnapshotStream,
} from "./backend.js";
import { alarmText, etcdServerVersion } from "./version.js";

/** Interval of the lease expiry loop (etcd: 500 ms). */
export const leaseExpiryIntervalMs = 500;
/** Most leases revoked per expiry pass (etcd: revoke rate 1000/s, half per 500 ms pass). */
export const leaseExpiredPerPassMax = 500;
/** Interval of the watch catch-up loop while watchers are unsynced (etcd: 100 ms). */
export const watchSyncIntervalMs = 100;
/** Default watch progress-notify interval (etcd: 10 minutes). */
export const progressNotifyIntervalMsDefault = 10 * 60 * 1000;

/** Options of a {@link LocalBackend}. */
export interface LocalBackendOptions {
  readonly clusterId?: bigint;
  readonly memberId?: bigint;
  readonly name?: string;
  readonly clientUrls?: readonly string[];
  readonly peerUrls?: readonly string[];
  readonly limits?: Partial<MvccLimits>;
  /** Monotonic clock in ms for lease expiry; default `performance.now`. */
  readonly nowMs?: () => number;
  /** Run the lease-expiry, watch-sync and progress timers (default true; tests may drive by hand). */
  readonly timers?: boolean;
  readonly progressNotifyIntervalMs?: number;
}

/**
 * An {@link EtcdBackend} over one in-process {@link MvccStore}: requests apply directly, in call
 * order, with no replication. This member is always the leader of a one-member cluster, tracks
 * lease expiry from an injected monotonic clock and revokes expired leases itself. It is the
 * reference for the API tests and the single-member fast path; the Raft-backed backend gives the
 * same answers through the log.
 */
export class LocalBackend implements EtcdBackend {
  readonly store: MvccStore;
  readonly #clusterId: bigint;
  readonly #memberId: bigint;
  readonly #member: MemberInfo;
  readonly #nowMs: () => number;
  readonly #timers: NodeJS.Timeout[] = [];
  #syncScheduled = false;
  #closed = false;
  /** Requests applied that a Raft member would have logged (Status raftIndex / raftAppliedIndex). */
  #appliedIndex = 1;

  constructor(options: LocalBackendOptions = {}) {
    this.store = new MvccStore(options.limits === undefined ? {} : { limits: options.limits });
    this.#clusterId = options.clusterId ?? 0xcdf818194e3a8c32n;
    this.#memberId = options.memberId ?? 0x8e9e05c52164694dn;
    this.#nowMs = options.nowMs ?? (() => performance.now());
    this.#member = {
      id: this.#memberId,
      name: options.name ?? "default",
      peerUrls: options.peerUrls ?? ["http://localhost:2380"],
      clientUrls: options.clientUrls ?? ["http://localhost:2379"],
      isLearner: false,
    };
    this.store.lessor.promote(this.#nowMs(), 0);
    if (options.timers ?? true) {
      const progressMs = options.progressNotifyIntervalMs ?? progressNotifyIntervalMsDefault;
      this.#timers.push(
        setInterval(() => this.expireLeases(), leaseExpiryIntervalMs),
        setInterval(() => this.#syncWatchers(), watchSyncIntervalMs),
        setInterval(() => this.store.watchHub.progressNotify(), progressMs),
      );
      for (const t of this.#timers) t.unref();
    }
  }

  /** Stops the timers. */
  close(): void {
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
  }

  /** Revokes every lease expired by now (the leader's expiry loop); returns how many. */
  expireLeases(): number {
    const ids = this.store.lessor.expired(this.#nowMs(), leaseExpiredPerPassMax);
    for (const id of ids) this.store.leaseRevoke(id);
    this.#appliedIndex += ids.length;
    if (ids.length > 0) this.#afterWrite();
    return ids.length;
  }

  range(req: Parameters<EtcdBackend["range"]>[0], _opts: ReadOptions) {
    return done(this.store.range(req));
  }

  put(request: Parameters<EtcdBackend["put"]>[0], auth?: WriteAuth) {
    return this.#guarded({ type: "put", request }, auth, () => this.store.put(request));
  }

  deleteRange(request: Parameters<EtcdBackend["deleteRange"]>[0], auth?: WriteAuth) {
    return this.#guarded({ type: "deleteRange", request }, auth, () => this.store.deleteRange(request));
  }

  txn(request: Parameters<EtcdBackend["txn"]>[0], _opts: ReadOptions, auth?: WriteAuth) {
    return this.#guarded({ type: "txn", request }, auth, () => this.store.txn(request));
  }

  compact(revision: Revision, _opts: { readonly physical: boolean }, auth?: WriteAuth) {
    return this.#guarded({ type: "compact", revision }, auth, () => this.store.compact(revision));
  }

  leaseGrant(req: LeaseGrantRequest) {
    return this.#write(this.store.leaseGrant(req));
  }

  leaseRevoke(id: LeaseId, auth?: WriteAuth) {
    return this.#guarded({ type: "leaseRevoke", id }, auth, () => this.store.leaseRevoke(id));
  }

  leaseKeepAlive(id: LeaseId) {
    const r = this.store.leaseKeepAlive(id, this.#nowMs());
    if (r.clearCheckpoint) this.store.leaseCheckpoint([{ id, remainingTtl: 0 }]);
    return Promise.resolve(ok({ revision: r.revision, id: r.id, ttl: r.ttl }));
  }

  leaseTimeToLive(id: LeaseId, keys: boolean) {
    return Promise.resolve(ok(this.store.leaseTimeToLive(id, this.#nowMs(), keys)));
  }

  leaseLeases() {
    return Promise.resolve(ok(this.store.leaseLeases()));
  }

  watchHub(): WatchHub {
    return this.store.watchHub;
  }

  requestWatchSync(): void {
    if (this.#syncScheduled || this.#closed) return;
    this.#syncScheduled = true;
    setImmediate(() => {
      this.#syncScheduled = false;
      this.#syncWatchers();
    });
  }

  header(): HeaderInfo {
    return {
      clusterId: this.#clusterId,
      memberId: this.#memberId,
      raftTerm: 1,
      revision: this.store.currentRevision,
    };
  }

  hasLeader(): boolean {
    return true;
  }

  status(): Promise<BackendResult<MemberStatus>> {
    const s = this.store;
    return Promise.resolve(
      ok({
        revision: s.currentRevision,
        version: etcdServerVersion,
        dbSize: s.accountedBytes,
        dbSizeInUse: s.accountedBytes,
        dbSizeQuota: s.limits.quotaBytes,
        leader: this.#memberId,
        raftIndex: this.#appliedIndex,
        raftTerm: 1,
        raftAppliedIndex: this.#appliedIndex,
        isLearner: false,
        errors: s.alarms.map((a) =>
          alarmText(a.memberId === 0 ? this.#memberId : BigInt(a.memberId), a.alarm),
        ),
      }),
    );
  }

  alarm(request: AlarmRequest, auth?: WriteAuth) {
    if (request.action === "get") return done(this.store.alarm(request));
    return this.#guarded({ type: "alarm", request }, auth, () => this.store.alarm(request));
  }

  hash(): Promise<BackendResult<HashResult>> {
    return Promise.resolve(storeHash(this.store));
  }

  hashKv(revision: Revision) {
    return done(this.store.hashKv(revision));
  }

  memberList(_opts: { readonly linearizable: boolean }): Promise<BackendResult<MembershipResult>> {
    return Promise.resolve(
      ok({ revision: this.store.currentRevision, member: null, members: [this.#member] }),
    );
  }

  /** The snapshot is encoded in memory at once (the store must not change while it is read). */
  snapshot(): Promise<BackendResult<SnapshotStream>> {
    return Promise.resolve(ok(storeSnapshot(this.store)));
  }

  defragment() {
    return Promise.resolve(ok({ revision: this.store.currentRevision }));
  }

  authStore(): AuthStore {
    return this.store.auth;
  }

  auth(command: AuthCommand, auth: WriteAuth): Promise<BackendResult<AuthResponse>> {
    // Each auth command counts as one applied entry; its index names the token it may mint.
    const request = command;
    return this.#guarded({ type: "auth", request }, auth, () =>
      this.store.applyAuth(command, this.#appliedIndex + 1),
    );
  }

  readBarrier(): Promise<BackendResult<void>> {
    return Promise.resolve(ok(undefined));
  }

  /** A write checked with `auth` (see `EtcdBackend`): refused as the log path would refuse it. */
  #guarded<T>(
    cmd: Command,
    auth: WriteAuth | undefined,
    run: () => MvccResult<T>,
  ): Promise<BackendResult<T>> {
    const refused = auth === undefined ? null : this.store.checkWriteAuth(cmd, auth);
    return this.#write(refused === null ? run() : { ok: false, error: refused });
  }

  #write<T>(r: MvccResult<T>): Promise<BackendResult<T>> {
    this.#appliedIndex++;
    if (r.ok) this.#afterWrite();
    return done(r);
  }

  #afterWrite(): void {
    if (this.store.watchHub.unsyncedCount > 0) this.requestWatchSync();
  }

  #syncWatchers(): void {
    const hub = this.store.watchHub;
    if (hub.unsyncedCount > 0) hub.sync();
  }
}

/** Etcd's `Hash` of a store: its HashKV hash at the current revision. */
export function storeHash(store: MvccStore): BackendResult<HashResult> {
  const r = store.hashKv(0);
  return r.ok ? ok({ revision: r.value.revision, hash: r.value.hash }) : r;
}

/**
 * A point-in-time snapshot stream of a store. The snapshot is encoded in memory at once, since
 * the store must not change while it is read.
 */
export function storeSnapshot(store: MvccStore): SnapshotStream {
  const chunks = [...encodeSnapshot(store)];
  const totalBytes = chunks.reduce((n, c) => n + c.length, 0);
  async function* iterate(): AsyncGenerator<Uint8Array> {
    yield* chunks;
  }
  return { revision: store.currentRevision, totalBytes, chunks: iterate() };
}

function ok<T>(value: T): BackendResult<T> {
  return { ok: true, value };
}

function done<T>(r: MvccResult<T>): Promise<BackendResult<T>> {
  return Promise.resolve(r);
}
