import type { BackendResult, EtcdBackend } from "../backend.js";
import { grpcErrorOf, requestTooLargeError } from "../errors.js";
import type { CallContext } from "../grpc/server.js";
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
