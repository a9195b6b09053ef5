import { AuthorizedBackend } from "../auth/authorized.js";
import { AuthGate, type Caller } from "../auth/gate.js";
import type { BackendResult, EtcdBackend } from "../backend.js";
import { grpcErrorOf, requestTooLargeError } from "../errors.js";
import type { CallContext } from "../grpc/server.js";
import { GrpcError, GrpcStatus } from "../grpc/status.js";
import type { HeaderMsg } from "../proto/messages.js";

/** What every service needs: the backend, the limits, auth and header construction. */
export class ServiceContext {
  constructor(
    /** The member's backend, unchecked: use {@link backendFor} to serve a client's request. */
    readonly backend: EtcdBackend,
    /** etcd `--max-request-bytes`: larger write requests fail with "request is too large". */
    readonly requestBytesMax: number,
    /** The member's auth gate (tokens, permissions, brute-force limits). */
    readonly auth: AuthGate,
  ) {}

  /**
   * The backend as the caller of `ctx` may use it: every KV, lease and maintenance method checks
   * the caller's permissions first (see `auth/authorized.ts`). Throws "invalid auth token".
   */
  async backendFor(ctx: CallContext): Promise<AuthorizedBackend> {
    return new AuthorizedBackend(this.backend, this.auth, await this.auth.caller(ctx));
  }

  /** Throws unless the caller of `ctx` may make admin calls (the root role, when auth is on). */
  async requireAdmin(ctx: CallContext): Promise<Caller> {
    const caller = await this.auth.caller(ctx);
    AuthGate.enforce(this.auth.adminDenial(caller));
    return caller;
  }

  /** A response header at `revision` (the current revision when omitted). */
  header(revision?: number): HeaderMsg {
    const h = this.backend.header();
    return {
      clusterId: h.clusterId,
      memberId: h.memberId,
      revision: revision ?? h.revision,
      raftTerm: h.raftTerm,
    };
  }

  /** Fails a request that would go through the log when it is over `requestBytesMax`. */
  checkSize(ctx: CallContext): void {
    if (ctx.requestBytes > this.requestBytesMax) throw requestTooLargeError();
  }
}

/** The value of a backend result, or the mapped gRPC error thrown. */
export function unwrap<T>(r: BackendResult<T>): T {
  if (!r.ok) throw grpcErrorOf(r.error);
  return r.value;
}

/**
 * The value of a backend result, or its etcd message as gRPC UNKNOWN: how etcd's Lock and
 * Election services answer, since they run as clients of the server and return its errors as
 * plain errors (reference §8).
 */
export function unwrapPlain<T>(r: BackendResult<T>): T {
  if (!r.ok) throw new GrpcError(GrpcStatus.unknown, grpcErrorOf(r.error).message);
  return r.value;
}
