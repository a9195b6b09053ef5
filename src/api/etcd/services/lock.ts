/**
 * etcd's Lock service (`v3lockpb.Lock`): the `concurrency.Mutex` recipe run inside the server, as
 * etcd does. Lock(name, lease) puts `name/<lease hex>` under the lease if absent, then waits until
 * every key under `name/` with a lower create revision is deleted, then re-reads its own key
 * (gone → "mutex: session is expired"). Lease 0 grants a 60 s lease that nobody keeps alive.
 * A client that gives up while waiting has its key deleted. Unlock(key) deletes the key.
 */
import { prefixEnd, type TxnRequest } from "../../../mvcc/mod.js";
import { type MethodDef, unary } from "../grpc/server.js";
import { GrpcError, GrpcStatus } from "../grpc/status.js";
import {
  type HeaderOnlyMsg,
  LockD,
  type LockRequestMsg,
  type LockResponseMsg,
  type UnlockRequestMsg,
} from "../proto/messages.js";
import { type ServiceContext, unwrapPlain } from "./context.js";
import { concat, sessionTtlSecondsDefault, waitDeletes } from "./queue.js";

const enc = new TextEncoder();

/** The Lock methods by gRPC path. */
export function lockMethods(sc: ServiceContext): Record<string, MethodDef> {
  return {
    "/v3lockpb.Lock/Lock": unary<LockRequestMsg, LockResponseMsg>(
      LockD.LockRequest,
      LockD.LockResponse,
      async (m, ctx) => {
        // Every step runs with the caller's permissions, as etcd's lock server runs as a client
        // with the caller's token: write on the own key, read on the prefix.
        const b = await sc.backendFor(ctx);
        let lease = m.lease;
        if (lease === 0) lease = unwrapPlain(await b.leaseGrant({ id: 0, ttl: sessionTtlSecondsDefault })).id;
        const prefix = concat(m.name, enc.encode("/"));
        const myKey = concat(prefix, enc.encode(lease.toString(16)));
        const owner = {
          key: prefix,
          rangeEnd: prefixEnd(prefix),
          sortOrder: "ascend",
          sortTarget: "create",
          limit: 1,
        } as const;
        const txn: TxnRequest = {
          compare: [{ key: myKey, target: "create", result: "equal", value: 0 }],
          success: [
            { type: "put", request: { key: myKey, value: new Uint8Array(0), lease } },
            { type: "range", request: owner },
          ],
          failure: [
            { type: "range", request: { key: myKey } },
            { type: "range", request: owner },
          ],
        };
        const t = unwrapPlain(await b.txn(txn, { serializable: false }));
        let myRev = t.revision;
        const first = t.responses[0];
        if (!t.succeeded && first?.type === "range") myRev = first.response.kvs[0]?.createRevision ?? myRev;
        const second = t.responses[1];
        const ownerKv = second?.type === "range" ? second.response.kvs[0] : undefined;
        if (ownerKv === undefined || ownerKv.createRevision === myRev)
          return { header: sc.header(t.revision), key: myKey };
        try {
          await waitDeletes(b, prefix, myRev - 1, ctx.signal);
        } catch (e) {
          await b.deleteRange({ key: myKey });
          throw e;
        }
        const mine = unwrapPlain(await b.range({ key: myKey }, { serializable: false }));
        if (mine.kvs.length === 0) throw new GrpcError(GrpcStatus.unknown, "mutex: session is expired");
        return { header: sc.header(mine.revision), key: myKey };
      },
    ),
    "/v3lockpb.Lock/Unlock": unary<UnlockRequestMsg, HeaderOnlyMsg>(
      LockD.UnlockRequest,
      LockD.UnlockResponse,
      async (m, ctx) => {
        const b = await sc.backendFor(ctx);
        const r = unwrapPlain(await b.deleteRange({ key: m.key }));
        return { header: sc.header(r.revision) };
      },
    ),
  };
}
