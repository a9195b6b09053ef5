/** The etcd Lease service (`etcdserverpb.Lease`): Grant, Revoke, KeepAlive (stream), TimeToLive, Leases. */
import { bidiStream, type MethodDef, unary } from "../grpc/server.js";
import {
  D,
  type HeaderOnlyMsg,
  type LeaseGrantRequestMsg,
  type LeaseGrantResponseMsg,
  type LeaseIdMsg,
  type LeaseKeepAliveResponseMsg,
  type LeaseLeasesResponseMsg,
  type LeaseTimeToLiveRequestMsg,
  type LeaseTimeToLiveResponseMsg,
} from "../proto/messages.js";
import { type ServiceContext, unwrap } from "./context.js";

/** The Lease methods by gRPC path. */
export function leaseMethods(sc: ServiceContext): Record<string, MethodDef> {
  return {
    "/etcdserverpb.Lease/LeaseGrant": unary<LeaseGrantRequestMsg, LeaseGrantResponseMsg>(
      D.LeaseGrantRequest,
      D.LeaseGrantResponse,
      async (m, ctx) => {
        sc.checkSize(ctx);
        const b = await sc.backendFor(ctx);
        const r = unwrap(await b.leaseGrant({ id: m.ID, ttl: m.TTL }));
        return { header: sc.header(r.revision), ID: r.id, TTL: r.ttl };
      },
    ),
    "/etcdserverpb.Lease/LeaseRevoke": unary<LeaseIdMsg, HeaderOnlyMsg>(
      D.LeaseRevokeRequest,
      D.LeaseRevokeResponse,
      async (m, ctx) => {
        sc.checkSize(ctx);
        const b = await sc.backendFor(ctx);
        const r = unwrap(await b.leaseRevoke(m.ID));
        return { header: sc.header(r.revision) };
      },
    ),
    "/etcdserverpb.Lease/LeaseKeepAlive": bidiStream<LeaseIdMsg, LeaseKeepAliveResponseMsg>(
      D.LeaseKeepAliveRequest,
      D.LeaseKeepAliveResponse,
      async (call) => {
        // One response per request, in order; an unknown or expired lease answers TTL 0.
        // As etcd, keep-alives are not checked against auth (a lease id is the capability).
        for await (const m of call.requests) {
          const r = unwrap(await sc.backend.leaseKeepAlive(m.ID));
          await call.send({ header: sc.header(r.revision), ID: r.id, TTL: r.ttl });
        }
      },
    ),
    "/etcdserverpb.Lease/LeaseTimeToLive": unary<LeaseTimeToLiveRequestMsg, LeaseTimeToLiveResponseMsg>(
      D.LeaseTimeToLiveRequest,
      D.LeaseTimeToLiveResponse,
      async (m, ctx) => {
        const b = await sc.backendFor(ctx);
        const r = unwrap(await b.leaseTimeToLive(m.ID, m.keys));
        return {
          header: sc.header(r.revision),
          ID: m.ID,
          TTL: r.ttl,
          grantedTTL: r.grantedTtl,
          keys: r.keys,
        };
      },
    ),
    "/etcdserverpb.Lease/LeaseLeases": unary<Record<string, never>, LeaseLeasesResponseMsg>(
      D.LeaseLeasesRequest,
      D.LeaseLeasesResponse,
      async (_m, ctx) => {
        const b = await sc.backendFor(ctx);
        const r = unwrap(await b.leaseLeases());
        return { header: sc.header(r.revision), leases: r.leases.map((ID) => ({ ID })) };
      },
    ),
  };
}
