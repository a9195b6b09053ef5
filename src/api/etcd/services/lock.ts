/**
 * etcd's Lock service (`v3lockpb.Lock`): the `concurrency.Mutex` recipe run inside the server, as
 * etcd does. Lock(name, lease) puts `name/<lease hex>` under the lease if absent, then waits until
 * every key under `name/` with a lower create revision is deleted, then re-reads its own key
 * (gone → "mutex: session is expired"). Lease 0 grants a 60 s lease that nobody keeps alive.
 * A client that gives up while waiting has its key deleted. Unlock(key) deletes the key.
 */
import { type KeyValue, prefixEnd, type Revision, type TxnRequest } from "../../../mvcc/mod.js";
import type { EtcdBackend } from "../backend.js";
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

/** TTL of the lease granted for a Lock request without one (etcd's default session TTL). */
export const lockDefaultLeaseTtlSeconds = 60;

const enc = new TextEncoder();

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function canceled(): GrpcError {
  return new GrpcError(GrpcStatus.canceled, "context canceled");
}

/** Resolves once `key` has a DELETE event after revision `rev` (or the watch is canceled). */
async function waitDelete(
  backend: EtcdBackend,
  key: Uint8Array,
  rev: Revision,
  signal: AbortSignal,
): Promise<void> {
  const stream = backend.watchHub().newStream();
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => reject(canceled());
      const check = (): void => {
        for (const r of stream.take()) {
          if (r.canceled || r.events.some((e) => e.type === "delete")) {
            signal.removeEventListener("abort", onAbort);
            resolve();
            return;
          }
        }
      };
      signal.addEventListener("abort", onAbort, { once: true });
      stream.onReady = check;
      stream.watch({ key, startRevision: rev + 1 });
      if (stream.unsynced > 0) backend.requestWatchSync();
      check();
    });
  } finally {
    stream.onReady = null;
    stream.close();
  }
}

/** Waits until no key under `prefix` has a create revision at or below `maxCreateRev`. */
async function waitDeletes(
  backend: EtcdBackend,
  prefix: Uint8Array,
  maxCreateRev: Revision,
  signal: AbortSignal,
): Promise<void> {
  for (;;) {
    if (signal.aborted) throw canceled();
    const r = unwrapPlain(
      await backend.range(
        {
          key: prefix,
          rangeEnd: prefixEnd(prefix),
          sortOrder: "descend",
          sortTarget: "create",
          maxCreateRevision: maxCreateRev,
          limit: 1,
        },
        { serializable: false },
      ),
    );
    const last: KeyValue | undefined = r.kvs[0];
    if (last === undefined) return;
    await waitDelete(backend, last.key, r.revision, signal);
  }
}

/** The Lock methods by gRPC path. */
export function lockMethods(sc: ServiceContext): Record<string, MethodDef> {
  const b = sc.backend;
  return {
    "/v3lockpb.Lock/Lock": unary<LockRequestMsg, LockResponseMsg>(
      LockD.LockRequest,
      LockD.LockResponse,
      async (m, ctx) => {
        let lease = m.lease;
        if (lease === 0)
          lease = unwrapPlain(await b.leaseGrant({ id: 0, ttl: lockDefaultLeaseTtlSeconds })).id;
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
      async (m) => {
        const r = unwrapPlain(await b.deleteRange({ key: m.key }));
        return { header: sc.header(r.revision) };
      },
    ),
  };
}
