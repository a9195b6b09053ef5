/**
 * The etcd Maintenance and Cluster services and `grpc.health.v1.Health/Check`. Membership changes,
 * MoveLeader, Defragment and Snapshot are served when the backend offers them and answered with
 * UNIMPLEMENTED otherwise. With auth enabled every Maintenance call and every membership change
 * needs the root role (etcd's `authMaintenanceServer` and `checkMembershipOperationPermission`);
 * MemberList and the health check do not.
 */
import { createHash } from "node:crypto";
import type { MemberInfo, MembershipResult } from "../backend.js";
import { alarmActionOf, alarmTypeNumber, alarmTypeOf } from "../convert.js";
import { type MethodDef, serverStream, unary } from "../grpc/server.js";
import { GrpcError, GrpcStatus } from "../grpc/status.js";
import {
  type AlarmRequestMsg,
  type AlarmResponseMsg,
  D,
  type HashKVRequestMsg,
  type HashKVResponseMsg,
  type HashResponseMsg,
  type HeaderOnlyMsg,
  type HealthCheckRequestMsg,
  type HealthCheckResponseMsg,
  type MemberAddRequestMsg,
  type MemberAddResponseMsg,
  type MemberIdRequestMsg,
  type MemberListRequestMsg,
  type MemberMsg,
  type MembersResponseMsg,
  type MemberUpdateRequestMsg,
  type MoveLeaderRequestMsg,
  type SnapshotResponseMsg,
  type StatusResponseMsg,
} from "../proto/messages.js";
import { etcdServerVersion } from "../version.js";
import { type ServiceContext, unwrap } from "./context.js";

/** Largest blob in one Snapshot response (etcd: 32 KiB). */
export const snapshotBlobBytesMax = 32 * 1024;
/**
 * The snapshot payload is zero-padded to a multiple of this many bytes before the SHA-256 is
 * appended: etcdctl's `snapshot save` checks that the file minus the hash is whole 512-byte pages
 * (a bbolt file always is) before it verifies the hash.
 */
export const snapshotPadBytes = 512;

/** `n` rounded up to a multiple of {@link snapshotPadBytes}. */
export function paddedSnapshotBytes(n: number): number {
  return Math.ceil(n / snapshotPadBytes) * snapshotPadBytes;
}

function memberMsg(m: MemberInfo): MemberMsg {
  return { ID: m.id, name: m.name, peerURLs: m.peerUrls, clientURLs: m.clientUrls, isLearner: m.isLearner };
}

function unsupported(what: string): GrpcError {
  return new GrpcError(GrpcStatus.unimplemented, `synod: ${what} is not supported by this member`);
}

/** The Maintenance methods by gRPC path. */
export function maintenanceMethods(sc: ServiceContext): Record<string, MethodDef> {
  const b = sc.backend;
  return {
    "/etcdserverpb.Maintenance/Status": unary<Record<string, never>, StatusResponseMsg>(
      D.StatusRequest,
      D.StatusResponse,
      async (_m, ctx) => {
        await sc.requireAdmin(ctx);
        const s = unwrap(await b.status());
        return {
          header: sc.header(s.revision),
          version: s.version,
          dbSize: s.dbSize,
          leader: s.leader,
          raftIndex: s.raftIndex,
          raftTerm: s.raftTerm,
          raftAppliedIndex: s.raftAppliedIndex,
          errors: s.errors,
          dbSizeInUse: s.dbSizeInUse,
          isLearner: s.isLearner,
          dbSizeQuota: s.dbSizeQuota,
        };
      },
    ),
    "/etcdserverpb.Maintenance/Alarm": unary<AlarmRequestMsg, AlarmResponseMsg>(
      D.AlarmRequest,
      D.AlarmResponse,
      async (m, ctx) => {
        sc.checkSize(ctx);
        const action = alarmActionOf(m.action);
        const alarm = alarmTypeOf(m.alarm);
        if (action === null || alarm === null) {
          throw new GrpcError(GrpcStatus.invalidArgument, "etcdserver: invalid alarm request");
        }
        const authorized = await sc.backendFor(ctx);
        const r = unwrap(await authorized.alarm({ action, alarm, memberId: Number(m.memberID) }));
        return {
          header: sc.header(r.revision),
          alarms: r.alarms.map((a) => ({ memberID: BigInt(a.memberId), alarm: alarmTypeNumber(a.alarm) })),
        };
      },
    ),
    "/etcdserverpb.Maintenance/Hash": unary<Record<string, never>, HashResponseMsg>(
      D.HashRequest,
      D.HashResponse,
      async (_m, ctx) => {
        await sc.requireAdmin(ctx);
        const r = unwrap(await b.hash());
        return { header: sc.header(r.revision), hash: r.hash };
      },
    ),
    "/etcdserverpb.Maintenance/HashKV": unary<HashKVRequestMsg, HashKVResponseMsg>(
      D.HashKVRequest,
      D.HashKVResponse,
      async (m, ctx) => {
        await sc.requireAdmin(ctx);
        const r = unwrap(await b.hashKv(m.revision));
        return {
          header: sc.header(r.revision),
          hash: r.hash,
          compactRevision: r.compactRevision,
          hashRevision: r.hashRevision,
        };
      },
    ),
    "/etcdserverpb.Maintenance/Defragment": unary<Record<string, never>, HeaderOnlyMsg>(
      D.DefragmentRequest,
      D.DefragmentResponse,
      async (_m, ctx) => {
        await sc.requireAdmin(ctx);
        if (b.defragment === undefined) throw unsupported("Defragment");
        const r = unwrap(await b.defragment());
        return { header: sc.header(r.revision) };
      },
    ),
    "/etcdserverpb.Maintenance/MoveLeader": unary<MoveLeaderRequestMsg, HeaderOnlyMsg>(
      D.MoveLeaderRequest,
      D.MoveLeaderResponse,
      async (m, ctx) => {
        await sc.requireAdmin(ctx);
        if (b.moveLeader === undefined) throw unsupported("MoveLeader");
        const r = unwrap(await b.moveLeader(m.targetID));
        return { header: sc.header(r.revision) };
      },
    ),
    "/etcdserverpb.Maintenance/Snapshot": serverStream<Record<string, never>, SnapshotResponseMsg>(
      D.SnapshotRequest,
      D.SnapshotResponse,
      async (_m, ctx, send) => {
        await sc.requireAdmin(ctx);
        if (b.snapshot === undefined) throw unsupported("Snapshot");
        const snap = unwrap(await b.snapshot());
        const header = sc.header(snap.revision);
        const sha = createHash("sha256");
        const total = snap.totalBytes === null ? null : paddedSnapshotBytes(snap.totalBytes);
        let sent = 0;
        const sendBlob = async (blob: Uint8Array): Promise<void> => {
          sha.update(blob);
          sent += blob.length;
          await send({
            header,
            remainingBytes: total === null ? 0 : total - sent,
            blob,
            version: etcdServerVersion,
          });
        };
        for await (const chunk of snap.chunks) {
          for (let at = 0; at < chunk.length; at += snapshotBlobBytesMax) {
            if (ctx.signal.aborted) return;
            await sendBlob(chunk.subarray(at, Math.min(chunk.length, at + snapshotBlobBytesMax)));
          }
        }
        const pad = paddedSnapshotBytes(sent) - sent;
        if (pad > 0) await sendBlob(new Uint8Array(pad));
        // As etcd, the last message carries the SHA-256 of everything sent before it.
        await send({ header, remainingBytes: 0, blob: sha.digest(), version: etcdServerVersion });
      },
    ),
  };
}

/** The Cluster methods by gRPC path. */
export function clusterMethods(sc: ServiceContext): Record<string, MethodDef> {
  const b = sc.backend;
  const members = (r: MembershipResult): MembersResponseMsg => ({
    header: sc.header(r.revision),
    members: r.members.map(memberMsg),
  });
  return {
    "/etcdserverpb.Cluster/MemberList": unary<MemberListRequestMsg, MembersResponseMsg>(
      D.MemberListRequest,
      D.MemberListResponse,
      async (m) => members(unwrap(await b.memberList({ linearizable: m.linearizable }))),
    ),
    "/etcdserverpb.Cluster/MemberAdd": unary<MemberAddRequestMsg, MemberAddResponseMsg>(
      D.MemberAddRequest,
      D.MemberAddResponse,
      async (m, ctx) => {
        await sc.requireAdmin(ctx);
        if (b.memberAdd === undefined) throw unsupported("MemberAdd");
        const r = unwrap(await b.memberAdd(m.peerURLs, m.isLearner));
        const added = r.member ?? {
          id: 0n,
          name: "",
          peerUrls: m.peerURLs,
          clientUrls: [],
          isLearner: m.isLearner,
        };
        return { ...members(r), member: memberMsg(added) };
      },
    ),
    "/etcdserverpb.Cluster/MemberRemove": unary<MemberIdRequestMsg, MembersResponseMsg>(
      D.MemberRemoveRequest,
      D.MemberRemoveResponse,
      async (m, ctx) => {
        await sc.requireAdmin(ctx);
        if (b.memberRemove === undefined) throw unsupported("MemberRemove");
        return members(unwrap(await b.memberRemove(m.ID)));
      },
    ),
    "/etcdserverpb.Cluster/MemberUpdate": unary<MemberUpdateRequestMsg, MembersResponseMsg>(
      D.MemberUpdateRequest,
      D.MemberUpdateResponse,
      async (m, ctx) => {
        await sc.requireAdmin(ctx);
        if (b.memberUpdate === undefined) throw unsupported("MemberUpdate");
        return members(unwrap(await b.memberUpdate(m.ID, m.peerURLs)));
      },
    ),
    "/etcdserverpb.Cluster/MemberPromote": unary<MemberIdRequestMsg, MembersResponseMsg>(
      D.MemberPromoteRequest,
      D.MemberPromoteResponse,
      async (m, ctx) => {
        await sc.requireAdmin(ctx);
        if (b.memberPromote === undefined) throw unsupported("MemberPromote");
        return members(unwrap(await b.memberPromote(m.ID)));
      },
    ),
  };
}

/** Services whose names `grpc.health.v1.Health/Check` knows ("" = the server as a whole). */
export const healthServiceNames: readonly string[] = [
  "",
  "etcdserverpb.KV",
  "etcdserverpb.Watch",
  "etcdserverpb.Lease",
  "etcdserverpb.Cluster",
  "etcdserverpb.Maintenance",
];

/** `grpc.health.v1.Health/Check`: SERVING while this member knows a leader. */
export function healthMethods(sc: ServiceContext): Record<string, MethodDef> {
  return {
    "/grpc.health.v1.Health/Check": unary<HealthCheckRequestMsg, HealthCheckResponseMsg>(
      D.HealthCheckRequest,
      D.HealthCheckResponse,
      async (m) => {
        if (!healthServiceNames.includes(m.service))
          throw new GrpcError(GrpcStatus.notFound, "unknown service");
        return { status: sc.backend.hasLeader() ? 1 : 2 };
      },
    ),
  };
}
