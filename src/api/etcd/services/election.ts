/**
 * etcd's Election service (`v3electionpb.Election`): the `concurrency.Election` recipe run inside
 * the server, as etcd does. A campaigner's key is `name/<lease hex>`, put under its lease; the
 * leader is the key with the lowest create revision under `name/`. Campaign waits until every key
 * with a lower create revision is deleted; Proclaim and Resign act only while the key's create
 * revision still equals `LeaderKey.rev`; Observe streams the leader's value on every change.
 *
 * etcd runs this service as a client of its own KV API, so every KV failure reaches the caller as
 * a plain error: gRPC code UNKNOWN with etcd's message. Lease 0 means "grant a 60 s lease that
 * nobody keeps alive" (a fresh `concurrency.Session`), in Campaign, Proclaim and Resign alike.
 */
import { bytesEqual, type KeyValue, prefixEnd, type RangeRequest, type Revision } from "../../../mvcc/mod.js";
import type { EtcdBackend } from "../backend.js";
import { type CallContext, type MethodDef, serverStream, unary } from "../grpc/server.js";
import { GrpcError, GrpcStatus } from "../grpc/status.js";
import {
  type CampaignRequestMsg,
  type CampaignResponseMsg,
  ElectionD,
  type HeaderOnlyMsg,
  type LeaderKeyMsg,
  type LeaderRequestMsg,
  type LeaderResponseMsg,
  type ProclaimRequestMsg,
  type ResignRequestMsg,
} from "../proto/messages.js";
import { type ServiceContext, unwrapPlain } from "./context.js";
import { canceled, concat, sessionTtlSecondsDefault, WatchFeed, waitDeletes } from "./queue.js";

/** etcd's `concurrency.ErrElectionNotLeader` text. */
export const electionNotLeaderMessage = "election: not leader";
/** etcd's `concurrency.ErrElectionNoLeader` text. */
export const electionNoLeaderMessage = "election: no leader";
/** etcd's `v3election.ErrMissingLeaderKey` text. */
export const electionMissingLeaderMessage = '"leader" field must be provided';

const enc = new TextEncoder();

/** A plain error as etcd's election server returns it: gRPC UNKNOWN with the text. */
function plainError(message: string): GrpcError {
  return new GrpcError(GrpcStatus.unknown, message);
}

/** The range that finds an election's leader: the lowest create revision under `prefix`. */
function firstCreated(prefix: Uint8Array): RangeRequest {
  return { key: prefix, rangeEnd: prefixEnd(prefix), sortOrder: "ascend", sortTarget: "create", limit: 1 };
}

/** The Election service's recipe over one backend. */
class ElectionRecipe {
  readonly #b: EtcdBackend;

  /** `b`: the backend as the caller may use it (every step is checked under its identity). */
  constructor(
    readonly sc: ServiceContext,
    b: EtcdBackend,
  ) {
    this.#b = b;
  }

  /** The session lease of a request: lease 0 grants a fresh unrenewed one (as etcd's NewSession). */
  async sessionLease(lease: number): Promise<number> {
    if (lease !== 0) return lease;
    return unwrapPlain(await this.#b.leaseGrant({ id: 0, ttl: sessionTtlSecondsDefault })).id;
  }

  async campaign(m: CampaignRequestMsg, signal: AbortSignal): Promise<CampaignResponseMsg> {
    const lease = await this.sessionLease(m.lease);
    const prefix = concat(m.name, enc.encode("/"));
    const key = concat(prefix, enc.encode(lease.toString(16)));
    const t = unwrapPlain(
      await this.#b.txn(
        {
          compare: [{ key, target: "create", result: "equal", value: 0 }],
          success: [{ type: "put", request: { key, value: m.value, lease } }],
          failure: [{ type: "range", request: { key } }],
        },
        { serializable: false },
      ),
    );
    let rev = t.revision;
    if (!t.succeeded) {
      // Campaigning again with the same lease resumes the existing candidacy.
      const first = t.responses[0];
      const kv = first?.type === "range" ? first.response.kvs[0] : undefined;
      if (kv === undefined)
        throw new Error("election: txn failed on create_revision 0 but the key is absent");
      rev = kv.createRevision;
      if (!bytesEqual(kv.value, m.value)) {
        try {
          await this.proclaim(key, rev, lease, m.value);
        } catch (e) {
          await this.resign(key, rev).catch(() => undefined);
          throw e;
        }
      }
    }
    try {
      await waitDeletes(this.#b, prefix, rev - 1, signal);
    } catch (e) {
      // A campaigner that gives up withdraws; one that failed otherwise keeps its key (as etcd).
      if (signal.aborted) await this.resign(key, rev).catch(() => undefined);
      throw e;
    }
    return { header: this.sc.header(t.revision), leader: { name: m.name, key, rev, lease } };
  }

  /** Puts `value` on `key` if its create revision is still `rev`; else "election: not leader". */
  async proclaim(key: Uint8Array, rev: Revision, lease: number, value: Uint8Array): Promise<HeaderOnlyMsg> {
    const t = unwrapPlain(
      await this.#b.txn(
        {
          compare: [{ key, target: "create", result: "equal", value: rev }],
          success: [{ type: "put", request: { key, value, lease } }],
          failure: [],
        },
        { serializable: false },
      ),
    );
    if (!t.succeeded) throw plainError(electionNotLeaderMessage);
    return { header: this.sc.header(t.revision) };
  }

  /** Deletes `key` if its create revision is still `rev`; succeeds either way (as etcd). */
  async resign(key: Uint8Array, rev: Revision): Promise<HeaderOnlyMsg> {
    const t = unwrapPlain(
      await this.#b.txn(
        {
          compare: [{ key, target: "create", result: "equal", value: rev }],
          success: [{ type: "deleteRange", request: { key } }],
          failure: [],
        },
        { serializable: false },
      ),
    );
    return { header: this.sc.header(t.revision) };
  }

  async leader(name: Uint8Array): Promise<LeaderResponseMsg> {
    const r = unwrapPlain(
      await this.#b.range(firstCreated(concat(name, enc.encode("/"))), { serializable: false }),
    );
    const kv = r.kvs[0];
    if (kv === undefined) throw plainError(electionNoLeaderMessage);
    return { header: this.sc.header(r.revision), kv };
  }

  /**
   * etcd's `Election.observe`: read the leader (or wait for the first put under the prefix), send
   * it, then send every put on the leader's key until it is deleted, and start over. Ends (OK)
   * when a read fails or a watcher is canceled; rejects with CANCELED on abort.
   */
  async observe(
    name: Uint8Array,
    signal: AbortSignal,
    send: (res: LeaderResponseMsg) => Promise<void>,
  ): Promise<void> {
    const prefix = concat(name, enc.encode("/"));
    for (;;) {
      if (signal.aborted) throw canceled();
      const r = await this.#b.range(firstCreated(prefix), { serializable: false });
      if (!r.ok) return;
      let leader = r.value.kvs[0];
      let rev = r.value.revision;
      if (leader === undefined) {
        const first = await this.#firstPut(prefix, rev, signal);
        if (first === null) return;
        leader = first;
        rev = first.modRevision;
      }
      await send({ header: this.sc.header(rev), kv: leader });
      if (!(await this.#followLeader(leader.key, rev, signal, send))) return;
    }
  }

  /** The first key put under `prefix` from revision `rev` on; null if the watcher is canceled. */
  async #firstPut(prefix: Uint8Array, rev: Revision, signal: AbortSignal): Promise<KeyValue | null> {
    const feed = new WatchFeed(this.#b, { key: prefix, rangeEnd: prefixEnd(prefix), startRevision: rev });
    try {
      for (;;) {
        const w = await feed.next(signal);
        if (w.canceled) return null;
        const put = w.events.find((e) => e.type === "put");
        if (put !== undefined) return put.kv;
      }
    } finally {
      feed.close();
    }
  }

  /**
   * Sends every put on the leader's `key` after `rev` until the key is deleted (→ true) or the
   * watcher is canceled (→ false).
   */
  async #followLeader(
    key: Uint8Array,
    rev: Revision,
    signal: AbortSignal,
    send: (res: LeaderResponseMsg) => Promise<void>,
  ): Promise<boolean> {
    const feed = new WatchFeed(this.#b, { key, startRevision: rev + 1 });
    try {
      for (;;) {
        const w = await feed.next(signal);
        if (w.canceled) return false;
        for (const e of w.events) {
          if (e.type === "delete") return true;
          await send({ header: this.sc.header(w.revision), kv: e.kv });
        }
      }
    } finally {
      feed.close();
    }
  }
}

function leaderKeyOf(leader: LeaderKeyMsg | null): LeaderKeyMsg {
  if (leader === null) throw plainError(electionMissingLeaderMessage);
  return leader;
}

/** The Election methods by gRPC path. */
export function electionMethods(sc: ServiceContext): Record<string, MethodDef> {
  // Each call runs the recipe with the caller's permissions, as etcd's election server runs as a
  // client with the caller's token.
  const recipe = async (ctx: CallContext): Promise<ElectionRecipe> =>
    new ElectionRecipe(sc, await sc.backendFor(ctx));
  return {
    "/v3electionpb.Election/Campaign": unary<CampaignRequestMsg, CampaignResponseMsg>(
      ElectionD.CampaignRequest,
      ElectionD.CampaignResponse,
      async (m, ctx) => (await recipe(ctx)).campaign(m, ctx.signal),
    ),
    "/v3electionpb.Election/Proclaim": unary<ProclaimRequestMsg, HeaderOnlyMsg>(
      ElectionD.ProclaimRequest,
      ElectionD.ProclaimResponse,
      async (m, ctx) => {
        const l = leaderKeyOf(m.leader);
        const e = await recipe(ctx);
        const lease = await e.sessionLease(l.lease);
        return e.proclaim(l.key, l.rev, lease, m.value);
      },
    ),
    "/v3electionpb.Election/Leader": unary<LeaderRequestMsg, LeaderResponseMsg>(
      ElectionD.LeaderRequest,
      ElectionD.LeaderResponse,
      async (m, ctx) => (await recipe(ctx)).leader(m.name),
    ),
    "/v3electionpb.Election/Observe": serverStream<LeaderRequestMsg, LeaderResponseMsg>(
      ElectionD.LeaderRequest,
      ElectionD.LeaderResponse,
      async (m, ctx, send) => (await recipe(ctx)).observe(m.name, ctx.signal, send),
    ),
    "/v3electionpb.Election/Resign": unary<ResignRequestMsg, HeaderOnlyMsg>(
      ElectionD.ResignRequest,
      ElectionD.ResignResponse,
      async (m, ctx) => {
        const l = leaderKeyOf(m.leader);
        const e = await recipe(ctx);
        await e.sessionLease(l.lease);
        return e.resign(l.key, l.rev);
      },
    ),
  };
}
