/** The etcd KV service (`etcdserverpb.KV`): Range, Put, DeleteRange, Txn, Compact. */
import {
  deleteRangeRequestOf,
  putRequestOf,
  rangeRequestOf,
  txnIsSerializable,
  txnRequestOf,
  txnResponseMsg,
} from "../convert.js";
import { type MethodDef, unary } from "../grpc/server.js";
import type {
  CompactionRequestMsg,
  DeleteRangeRequestMsg,
  DeleteRangeResponseMsg,
  HeaderOnlyMsg,
  PutRequestMsg,
  PutResponseMsg,
  RangeRequestMsg,
  RangeResponseMsg,
  TxnRequestMsg,
  TxnResponseMsg,
} from "../proto/messages.js";
import { D } from "../proto/messages.js";
import { type ServiceContext, unwrap } from "./context.js";

/** The KV methods by gRPC path. */
export function kvMethods(sc: ServiceContext): Record<string, MethodDef> {
  const header = (rev: number) => sc.header(rev);
  return {
    "/etcdserverpb.KV/Range": unary<RangeRequestMsg, RangeResponseMsg>(
      D.RangeRequest,
      D.RangeResponse,
      async (m, ctx) => {
        const b = await sc.backendFor(ctx);
        const r = unwrap(await b.range(rangeRequestOf(m), { serializable: m.serializable }));
        return { header: header(r.revision), kvs: r.kvs, more: r.more, count: r.count };
      },
    ),
    "/etcdserverpb.KV/Put": unary<PutRequestMsg, PutResponseMsg>(
      D.PutRequest,
      D.PutResponse,
      async (m, ctx) => {
        sc.checkSize(ctx);
        const b = await sc.backendFor(ctx);
        const r = unwrap(await b.put(putRequestOf(m)));
        return { header: header(r.revision), prevKv: r.prevKv };
      },
    ),
    "/etcdserverpb.KV/DeleteRange": unary<DeleteRangeRequestMsg, DeleteRangeResponseMsg>(
      D.DeleteRangeRequest,
      D.DeleteRangeResponse,
      async (m, ctx) => {
        sc.checkSize(ctx);
        const b = await sc.backendFor(ctx);
        const r = unwrap(await b.deleteRange(deleteRangeRequestOf(m)));
        return { header: header(r.revision), deleted: r.deleted, prevKvs: r.prevKvs };
      },
    ),
    "/etcdserverpb.KV/Txn": unary<TxnRequestMsg, TxnResponseMsg>(
      D.TxnRequest,
      D.TxnResponse,
      async (m, ctx) => {
        sc.checkSize(ctx);
        const b = await sc.backendFor(ctx);
        const r = unwrap(await b.txn(txnRequestOf(m), { serializable: txnIsSerializable(m) }));
        return txnResponseMsg(r, header);
      },
    ),
    "/etcdserverpb.KV/Compact": unary<CompactionRequestMsg, HeaderOnlyMsg>(
      D.CompactionRequest,
      D.CompactionResponse,
      async (m, ctx) => {
        sc.checkSize(ctx);
        const b = await sc.backendFor(ctx);
        const r = unwrap(await b.compact(m.revision, { physical: m.physical }));
        return { header: header(r.revision) };
      },
    ),
  };
}
