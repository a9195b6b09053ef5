/**
 * The chaos harness's administrative calls (status, leader, HashKV, membership, a sentinel put)
 * over each member's JSON gateway (HTTP/1.1 on the client port, etcd's grpc-gateway mapping).
 * Kept apart from the workload clients: the harness's own calls never enter the history.
 */
import type { ChaosCluster, ChaosMember } from "./runner.js";

/** Default time one administrative call may take. */
const adminTimeoutMs = 3000;

/** What Maintenance.Status reports. */
export interface MemberStatusInfo {
  readonly memberId: number;
  readonly revision: number;
  readonly leader: number;
  readonly raftTerm: number;
  readonly raftIndex: number;
  readonly raftAppliedIndex: number;
}

/** What Maintenance.HashKV reports. */
export interface HashKvInfo {
  readonly hash: number;
  readonly compactRevision: number;
  readonly hashRevision: number;
  readonly revision: number;
}

type Json = Record<string, unknown>;

function num(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "string" && v !== "") return Number(v);
  return 0;
}

/** Calls against the members of one {@link ChaosCluster}. */
export class AdminClient {
  readonly #cluster: ChaosCluster;

  constructor(cluster: ChaosCluster) {
    this.#cluster = cluster;
  }

  /** POSTs `body` to `path` on `m`; the parsed JSON answer, or an Error (never throws). */
  async call(m: ChaosMember, path: string, body: Json, timeoutMs = adminTimeoutMs): Promise<Json | Error> {
    try {
      const res = await fetch(`http://127.0.0.1:${m.clientPort}${path}`, {
        method: "POST",
        body: JSON.stringify(body),
        headers: { "content-type": "application/json" },
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      const json = JSON.parse(text) as Json;
      if (res.status !== 200)
        return new Error(`${path} on ${m.name}: HTTP ${res.status} ${text.slice(0, 200)}`);
      return json;
    } catch (e) {
      return e instanceof Error ? e : new Error(String(e));
    }
  }

  async status(m: ChaosMember, timeoutMs = adminTimeoutMs): Promise<MemberStatusInfo | null> {
    const r = await this.call(m, "/v3/maintenance/status", {}, timeoutMs);
    if (r instanceof Error) return null;
    const h = (r.header ?? {}) as Json;
    return {
      memberId: num(h.member_id),
      revision: num(h.revision),
      leader: num(r.leader),
      raftTerm: num(r.raftTerm),
      raftIndex: num(r.raftIndex),
      raftAppliedIndex: num(r.raftAppliedIndex),
    };
  }

  /**
   * The member that running members report as leader in the highest term they know, or null if
   * none does (a member reporting itself counts only if it is running).
   */
  async leader(): Promise<ChaosMember | null> {
    const live = this.#cluster.live();
    const statuses = await Promise.all(live.map((m) => this.status(m, 1000)));
    let best: { term: number; id: number } | null = null;
    for (const s of statuses) {
      if (s === null || s.leader === 0) continue;
      if (best === null || s.raftTerm > best.term) best = { term: s.raftTerm, id: s.leader };
    }
    if (best === null) return null;
    const id = best.id;
    return this.#cluster.members.find((m) => m.id === id && m.state === "running") ?? null;
  }

  async hashKv(m: ChaosMember, revision: number): Promise<HashKvInfo | Error> {
    const r = await this.call(m, "/v3/maintenance/hashkv", { revision: String(revision) }, 10_000);
    if (r instanceof Error) return r;
    return {
      hash: num(r.hash),
      compactRevision: num(r.compact_revision),
      hashRevision: num(r.hash_revision),
      revision: num(((r.header ?? {}) as Json).revision),
    };
  }

  /** The member ids in the configuration as `via` knows it (linearizable), or an Error. */
  async memberIds(via: ChaosMember): Promise<number[] | Error> {
    const r = await this.call(via, "/v3/cluster/member/list", { linearizable: true });
    if (r instanceof Error) return r;
    const members = (r.members ?? []) as Json[];
    return members.map((x) => num(x.ID));
  }

  async memberRemove(via: ChaosMember, id: number): Promise<Json | Error> {
    return this.call(via, "/v3/cluster/member/remove", { ID: String(id) }, 15_000);
  }

  async memberAdd(via: ChaosMember, peerUrl: string): Promise<Json | Error> {
    return this.call(via, "/v3/cluster/member/add", { peerURLs: [peerUrl] }, 15_000);
  }

  /** A put through `via` (the harness's own writes: sentinels for the final convergence check). */
  async put(via: ChaosMember, key: string, value: string): Promise<Json | Error> {
    return this.call(via, "/v3/kv/put", {
      key: Buffer.from(key).toString("base64"),
      value: Buffer.from(value).toString("base64"),
    });
  }
}
