/**
 * Who a call is and what it may do, for etcd's authentication: one {@link AuthGate} per member
 * (shared by all its client listeners) holds the simple-token table, the brute-force limiter and
 * the password cost, and answers permission questions against the replicated auth state.
 *
 * Identity (etcd's `AuthInfoFromCtx`): with auth disabled every call is anonymous and tokens are
 * ignored. With auth enabled, the `token` gRPC metadata (or `authorization`, which the JSON
 * gateway fills from the `Authorization` header) names the user; an unknown token fails with
 * "invalid auth token", after this member has caught up with the log (a token minted on another
 * member may not be applied here yet). Without a token, a verified client certificate's CN
 * (`--client-cert-auth`) names the user; otherwise the call has no user and anything that needs
 * one fails with "user name is empty".
 *
 * Checks are made at the auth revision the caller was identified at: reads re-check the revision
 * after reading (etcd's `doSerialize`), writes carry it to the log (`AuthStore.checkGuard`).
 */
import type { AuthStore, MvccErrorCode } from "../../../mvcc/mod.js";
import { MvccErrorCodes } from "../../../mvcc/mod.js";
import { authTokenTtlSecondsDefault, bcryptCostDefault } from "../../../server/config.js";
import type { BackendFailure, EtcdBackend } from "../backend.js";
import { grpcErrorOf } from "../errors.js";
import type { CallContext } from "../grpc/server.js";
import { AuthFailureLimiter, type AuthFailureLimits, authFailureLimitsDefault } from "./limiter.js";
import { scryptLogNOf } from "./password.js";
import { SimpleTokens, tokenIndex } from "./tokens.js";

/** How often expired tokens are swept (lookups also drop them). */
const tokenSweepIntervalMs = 10_000;

/** Options of an {@link AuthGate}; every field has etcd's default. */
export interface AuthGateOptions {
  /** etcd `--auth-token-ttl`: seconds a simple token stays valid after its last use (300). */
  readonly tokenTtlSeconds?: number;
  /** etcd `--bcrypt-cost` (10), mapped to scrypt's work factor (see `password.ts`). */
  readonly bcryptCost?: number;
  /** Brute-force limits for Authenticate (see `limiter.ts`). */
  readonly failureLimits?: AuthFailureLimits;
  /** Monotonic clock in ms; default `performance.now`. */
  readonly nowMs?: () => number;
}

/** Who a call is, as far as auth goes. */
export interface Caller {
  /** Whether auth was enabled when the call was identified. */
  readonly enabled: boolean;
  /** The user named by a token or a client certificate; null when none was given. */
  readonly user: string | null;
  /** The auth revision the call was identified (and is checked) at; 0 while auth is disabled. */
  readonly authRevision: number;
}

/** The caller of every call while auth is disabled. */
export const anonymous: Caller = { enabled: false, user: null, authRevision: 0 };

function denied(code: MvccErrorCode, detail: string): BackendFailure {
  return { code, detail };
}

/** See the file comment. */
export class AuthGate {
  readonly tokens: SimpleTokens;
  readonly limiter: AuthFailureLimiter;
  /** scrypt exponent for new password hashes. */
  readonly scryptLogN: number;
  readonly #backend: EtcdBackend;
  readonly #sweeper: NodeJS.Timeout;

  constructor(backend: EtcdBackend, options: AuthGateOptions = {}) {
    const nowMs = options.nowMs ?? (() => performance.now());
    this.#backend = backend;
    this.tokens = new SimpleTokens(options.tokenTtlSeconds ?? authTokenTtlSecondsDefault, nowMs);
    this.limiter = new AuthFailureLimiter(options.failureLimits ?? authFailureLimitsDefault, nowMs);
    this.scryptLogN = scryptLogNOf(options.bcryptCost ?? bcryptCostDefault);
    // Every member hears every minted token and invalidation from the log through this listener;
    // it moves with the store when a snapshot replaces it (MvccStore.adoptWatchers).
    backend.authStore().listener = (e) => this.tokens.onEvent(e);
    this.#sweeper = setInterval(() => this.tokens.sweep(), tokenSweepIntervalMs);
    this.#sweeper.unref();
  }

  /** Stops the sweeper. */
  close(): void {
    clearInterval(this.#sweeper);
  }

  /** The replicated auth state on this member now. */
  get store(): AuthStore {
    return this.#backend.authStore();
  }

  /** Identifies the caller (see the file comment); throws etcd's "invalid auth token". */
  async caller(ctx: CallContext): Promise<Caller> {
    if (!this.store.enabled) return anonymous;
    const token = ctx.metadata.token ?? ctx.metadata.authorization;
    if (token === undefined || token === "") {
      const cn = ctx.peerCommonName;
      return { enabled: true, user: cn ?? null, authRevision: this.store.revision };
    }
    let user = this.tokens.lookup(token);
    if (user === null && tokenIndex(token) >= 0) {
      // Minted on another member, perhaps not applied here yet (etcd waits for the index too).
      const caughtUp = await this.#backend.readBarrier();
      if (!caughtUp.ok) throw grpcErrorOf(caughtUp.error);
      user = this.tokens.lookup(token);
    }
    if (user === null) throw grpcErrorOf(denied(MvccErrorCodes.authInvalidToken, "unknown or expired token"));
    const store = this.store;
    if (!store.enabled) return anonymous;
    return { enabled: true, user, authRevision: store.revision };
  }

  /**
   * Why `c` may not read (or write) `[key, rangeEnd)`, or null if it may (etcd's `isOpPermitted`):
   * no user → "user name is empty"; an unknown user or a missing grant → "permission denied".
   */
  denial(c: Caller, key: Uint8Array, rangeEnd: Uint8Array, type: "read" | "write"): BackendFailure | null {
    if (!c.enabled) return null;
    if (c.user === null) return denied(MvccErrorCodes.authUserEmpty, "the request names no user");
    if (this.store.isPermitted(c.user, key, rangeEnd, type)) return null;
    return denied(MvccErrorCodes.authPermissionDenied, `user '${c.user}' may not ${type} the range`);
  }

  /** Why `c` may not make an admin call, or null (etcd's `IsAdminPermitted`: the root role). */
  adminDenial(c: Caller): BackendFailure | null {
    if (!c.enabled) return null;
    if (c.user === null) return denied(MvccErrorCodes.authUserEmpty, "the request names no user");
    if (this.store.user(c.user) === undefined) {
      return denied(MvccErrorCodes.authUserNotFound, `user '${c.user}' does not exist`);
    }
    if (this.store.isRoot(c.user)) return null;
    return denied(MvccErrorCodes.authPermissionDenied, `user '${c.user}' lacks the root role`);
  }

  /**
   * After a read served from local state: "revision of auth store is old" if the auth state
   * changed while it was served (etcd's `doSerialize` re-check), else null.
   */
  staleness(c: Caller): BackendFailure | null {
    const store = this.store;
    if (!c.enabled || !store.enabled || store.revision === c.authRevision) return null;
    return denied(MvccErrorCodes.authOldRevision, "the auth store changed while the read was served");
  }

  /** Throws the gRPC error for `failure`, if any. */
  static enforce(failure: BackendFailure | null): void {
    if (failure !== null) throw grpcErrorOf(failure);
  }
}
