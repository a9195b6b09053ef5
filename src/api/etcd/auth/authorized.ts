/**
 * A backend as one caller may use it: every KV, lease and maintenance method first checks the
 * caller's permissions (as etcd's `authApplierV3` and `v3_server.go` do), then delegates with the
 * auth revision of the check, so the write applies only if the auth state is unchanged. Services
 * take one per call (`ServiceContext.backendFor`), which makes the Lock and Election recipes,
 * built on the same methods, check every key they touch under the caller's identity, as etcd's
 * in-process lock and election clients do with the caller's token.
 *
 * Checked: Range (read), Put (write; read too with `prev_kv`; write on every key of the lease it
 * attaches), DeleteRange (write; read with `prev_kv`), Txn (read for every compare, the rules above
 * for every op of both branches, nested txns included), LeaseRevoke (write on every attached key),
 * LeaseTimeToLive with keys (read on every attached key), Compact, Status, Alarm, Hash and HashKV
 * (root role). Not checked, as etcd: LeaseGrant, LeaseKeepAlive, LeaseLeases, MemberList.
 */
import {
  type AlarmRequest,
  type AuthCommand,
  type AuthResponse,
  type AuthStore,
  type DeleteRangeRequest,
  EMPTY_BYTES,
  type LeaseGrantRequest,
  type LeaseId,
  MvccErrorCodes,
  type PutRequest,
  type RangeRequest,
  type RequestOp,
  type Revision,
  type TxnRequest,
  txnDepthMax,
  type WatchHub,
  type WriteAuth,
} from "../../../mvcc/mod.js";
import type {
  BackendFailure,
  BackendResult,
  EtcdBackend,
  HashResult,
  HeaderInfo,
  MemberStatus,
  MembershipResult,
  ReadOptions,
} from "../backend.js";
import type { AuthGate, Caller } from "./gate.js";

function refused(error: BackendFailure): { ok: false; error: BackendFailure } {
  return { ok: false, error };
}

/** Whether every op of both branches (nested txns included) only reads. */
export function txnReadOnly(req: TxnRequest): boolean {
  const ops = [...req.success, ...req.failure];
  return ops.every(
    (op) => op.type === "range" || op.type === "empty" || (op.type === "txn" && txnReadOnly(op.request)),
  );
}

/** See the file comment. */
export class AuthorizedBackend implements EtcdBackend {
  readonly #inner: EtcdBackend;
  readonly #gate: AuthGate;
  readonly caller: Caller;
  /** What every write carries to the log: the caller's user and the auth revision of its checks. */
  readonly #writeAuth: WriteAuth;

  constructor(inner: EtcdBackend, gate: AuthGate, caller: Caller) {
    this.#inner = inner;
    this.#gate = gate;
    this.caller = caller;
    this.#writeAuth = { revision: caller.authRevision, user: caller.user ?? "" };
  }

  #read(key: Uint8Array, rangeEnd: Uint8Array | undefined): BackendFailure | null {
    return this.#gate.denial(this.caller, key, rangeEnd ?? EMPTY_BYTES, "read");
  }

  #write(key: Uint8Array, rangeEnd: Uint8Array | undefined): BackendFailure | null {
    return this.#gate.denial(this.caller, key, rangeEnd ?? EMPTY_BYTES, "write");
  }

  /** Why a read-then-check result must be refused (the auth state moved meanwhile), or null. */
  #stale<T>(r: BackendResult<T>): BackendResult<T> {
    const stale = r.ok ? this.#gate.staleness(this.caller) : null;
    return stale === null ? r : refused(stale);
  }

  #putDenial(req: PutRequest): BackendFailure | null {
    return this.#write(req.key, undefined) ?? (req.prevKv === true ? this.#read(req.key, undefined) : null);
  }

  #deleteDenial(req: DeleteRangeRequest): BackendFailure | null {
    return (
      this.#write(req.key, req.rangeEnd) ?? (req.prevKv === true ? this.#read(req.key, req.rangeEnd) : null)
    );
  }

  /** Every compare and every op of both branches, nested txns included (etcd's `checkTxnAuth`). */
  #txnDenial(req: TxnRequest, depth: number): BackendFailure | null {
    if (depth > txnDepthMax) return null;
    for (const c of req.compare) {
      const bad = this.#read(c.key, c.rangeEnd);
      if (bad !== null) return bad;
    }
    for (const op of [...req.success, ...req.failure]) {
      const bad = this.#opDenial(op, depth);
      if (bad !== null) return bad;
    }
    return null;
  }

  #opDenial(op: RequestOp, depth: number): BackendFailure | null {
    switch (op.type) {
      case "range":
        return this.#read(op.request.key, op.request.rangeEnd);
      case "put":
        return this.#putDenial(op.request);
      case "deleteRange":
        return this.#deleteDenial(op.request);
      case "txn":
        return this.#txnDenial(op.request, depth + 1);
      case "empty":
        return null;
    }
  }

  // ------------------------------------------------------------------ KV

  async range(req: RangeRequest, opts: ReadOptions) {
    const bad = this.#read(req.key, req.rangeEnd);
    if (bad !== null) return refused(bad);
    return this.#stale(await this.#inner.range(req, opts));
  }

  async put(req: PutRequest) {
    const bad = this.#putDenial(req);
    if (bad !== null) return refused(bad);
    return this.#inner.put(req, this.#writeAuth);
  }

  async deleteRange(req: DeleteRangeRequest) {
    const bad = this.#deleteDenial(req);
    if (bad !== null) return refused(bad);
    return this.#inner.deleteRange(req, this.#writeAuth);
  }

  async txn(req: TxnRequest, opts: ReadOptions) {
    const bad = this.#txnDenial(req, 0);
    if (bad !== null) return refused(bad);
    const r = await this.#inner.txn(req, opts, this.#writeAuth);
    return txnReadOnly(req) ? this.#stale(r) : r;
  }

  async compact(revision: Revision, opts: { readonly physical: boolean }) {
    const bad = this.#gate.adminDenial(this.caller);
    if (bad !== null) return refused(bad);
    return this.#inner.compact(revision, opts, this.#writeAuth);
  }

  // ------------------------------------------------------------------ leases

  leaseGrant(req: LeaseGrantRequest) {
    return this.#inner.leaseGrant(req);
  }

  leaseRevoke(id: LeaseId) {
    return this.#inner.leaseRevoke(id, this.#writeAuth);
  }

  leaseKeepAlive(id: LeaseId) {
    return this.#inner.leaseKeepAlive(id);
  }

  async leaseTimeToLive(id: LeaseId, keys: boolean) {
    const r = await this.#inner.leaseTimeToLive(id, keys);
    if (!keys || !r.ok) return r;
    // etcd's checkLeaseTimeToLive: the attached keys' names need read permission on each.
    const bad =
      this.#userDenial() ?? r.value.keys.map((k) => this.#read(k, undefined)).find((d) => d !== null);
    if (bad !== undefined && bad !== null) return refused(bad);
    return this.#stale(r);
  }

  leaseLeases() {
    return this.#inner.leaseLeases();
  }

  /** "user name is empty" when auth is on and the call names no user. */
  #userDenial(): BackendFailure | null {
    if (!this.caller.enabled || this.caller.user !== null) return null;
    return { code: MvccErrorCodes.authUserEmpty, detail: "the request names no user" };
  }

  // ------------------------------------------------------------------ watch, maintenance, cluster

  watchHub(): WatchHub {
    return this.#inner.watchHub();
  }

  requestWatchSync(): void {
    this.#inner.requestWatchSync();
  }

  header(): HeaderInfo {
    return this.#inner.header();
  }

  hasLeader(): boolean {
    return this.#inner.hasLeader();
  }

  async #admin<T>(run: () => Promise<BackendResult<T>>): Promise<BackendResult<T>> {
    const bad = this.#gate.adminDenial(this.caller);
    return bad === null ? run() : refused(bad);
  }

  // Status, Hash and HashKV: the Maintenance handlers check for the root role (`requireAdmin`)
  // before calling the backend, as they do for every other admin call.
  status(): Promise<BackendResult<MemberStatus>> {
    return this.#inner.status();
  }

  alarm(req: AlarmRequest) {
    return this.#admin(() => this.#inner.alarm(req, this.#writeAuth));
  }

  hash(): Promise<BackendResult<HashResult>> {
    return this.#inner.hash();
  }

  hashKv(revision: Revision) {
    return this.#inner.hashKv(revision);
  }

  memberList(opts: { readonly linearizable: boolean }): Promise<BackendResult<MembershipResult>> {
    return this.#inner.memberList(opts);
  }

  // ------------------------------------------------------------------ auth

  authStore(): AuthStore {
    return this.#inner.authStore();
  }

  auth(command: AuthCommand, auth: WriteAuth): Promise<BackendResult<AuthResponse>> {
    return this.#inner.auth(command, auth);
  }

  readBarrier(): Promise<BackendResult<void>> {
    return this.#inner.readBarrier();
  }
}
