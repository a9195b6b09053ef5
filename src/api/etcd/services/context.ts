import type { BackendResult, EtcdBackend } from "../backend.js";
import { grpcErrorOf, requestTooLargeError } from "../errors.js";
import type { CallContext } from "../grpc/server.js";
import { GrpcError, GrpcStatus } from "../grpc/status.js";
import type { HeaderMsg } from "../proto/messages.js";

/** What every service needs: the backend, the limits and header construction. */
export class ServiceContext {
  constructor(
    readonly backend: EtcdBackend,
    /** etcd `--max-request-bytes`: larger write requests fail with "request is too large". */
    readonly requestBytesMax: number,
  ) {}

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
