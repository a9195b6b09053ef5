/**
 * The chaos workloads: many concurrent clients over the etcd gRPC API (`EtcdClient`), each
 * recording what it did in the shared history format (history.ts) with monotonic timestamps.
 *
 * - `register`: linearizable get, put and compare-and-set (a txn comparing the value, or the
 *   mod_revision last read — equivalent here, since every written value is unique) on a few keys.
 * - `append`: read a key's list, or append a unique element (range, then a txn comparing the
 *   mod_revision read and writing list+element; a lost compare is retried a few times).
 * - `watch`: watchers on prefixes from chosen revisions (now, or some revisions back: possibly
 *   compacted), each stream living a few seconds on one member and then resumed on another from
 *   the last revision seen + 1 (as after a failover); every stream's life is one WatchObservation.
 * - `lock`: a lease (kept alive) and the Lock RPC; under the lock, read and bump a fencing counter
 *   with txns guarded by the lock key's create revision (the fencing token); Unlock; revoke.
 *
 * Outcomes: an answer is `ok`; a definite refusal (a gRPC status that says "not applied", a
 * connection that never carried the request) is `fail`; a timeout, a connection lost after
 * sending, or an ambiguous status is `unknown`. Reads have no effect, so a read that did not
 * answer is recorded as `fail` whatever the reason (dropping it is sound and spares the checker).
 *
 * Keys rotate every {@link keyGenerationMs} (`reg/<gen>/<k>`), so per-key histories stay short
 * enough for the linearizability search and append lists stay small. Every loop is bounded by the
 * deadline and by a count of operations per client.
 */
import { EtcdClient, isOutcomeUnknown } from "../../api/etcd/client/mod.js";
import type {
  CompareMsg,
  KeyValueMsg,
  PutRequestMsg,
  RangeRequestMsg,
  RequestOpMsg,
} from "../../api/etcd/proto/messages.js";
import { SeededRng } from "../../lib/rng.js";
import { prefixEnd, utf8 } from "../../mvcc/mod.js";
import type { RunClock } from "./events.js";
import type {
  AppendInput,
  AppendOp,
  LockHold,
  Op,
  Outcome,
  RegisterInput,
  RegisterOp,
  WatchEvent,
  WatchObservation,
} from "./history.js";
import { type ChaosCluster, sleep } from "./runner.js";

/** The workload kinds `--workload` accepts. */
export const workloadKinds = ["register", "append", "watch", "lock"] as const;
export type WorkloadKind = (typeof workloadKinds)[number];

/** Parses `--workload` (comma-separated kinds or `all`). */
export function parseWorkloads(text: string): WorkloadKind[] | string {
  const out = new Set<WorkloadKind>();
  for (const part of text.split(",").map((s) => s.trim())) {
    if (part === "") continue;
    if (part === "all") {
      for (const k of workloadKinds) out.add(k);
      continue;
    }
    const k = workloadKinds.find((x) => x === part);
    if (k === undefined) return `unknown workload '${part}' (expected ${workloadKinds.join(", ")} or all)`;
    out.add(k);
  }
  return [...out];
}

/** Keys rotate this often (ms of run time). */
export const keyGenerationMs = 15_000;
/** Keys per generation, per workload. */
const keysPerGeneration = 3;
/** Compare-and-set attempts of one append before it is recorded as failed. */
const appendAttemptsMax = 5;
/** Lease TTL of lock holders, seconds. */
const lockLeaseTtlS = 3;
/** The lock's name and the fencing counter's key. */
const lockName = "lock/chaos";
const counterKey = "lockctr/chaos";

/** Everything the clients recorded. */
export interface ChaosHistory {
  readonly register: RegisterOp[];
  readonly append: AppendOp[];
  readonly watch: WatchRecord[];
  readonly lock: LockRecord[];
}

/** A watch observation plus where and when its stream ran (for diagnosis; the checker ignores it). */
export type WatchRecord = WatchObservation & {
  /** The member's client endpoint. */
  readonly endpoint: string;
  /** Run-clock ns when the stream was opened and when it ended. */
  readonly openedAt: number;
  readonly closedAt: number;
};

/** Options of {@link runWorkloads}. */
export interface WorkloadOptions {
  readonly cluster: ChaosCluster;
  readonly clock: RunClock;
  readonly kinds: readonly WorkloadKind[];
  readonly seed: number;
  /** Run-clock time (ms) at which every client stops starting operations. */
  readonly deadlineMs: number;
  /** Operations per client at most. */
  readonly opsPerClientMax: number;
  /** Client call timeout, ms (default 3000). */
  readonly timeoutMs?: number;
  /** Clients per workload (default register 6, append 4, watch 4, lock 3). */
  readonly clients?: Partial<Record<WorkloadKind, number>>;
  /** Pause between a client's operations, ms, drawn in [0, thinkMs) (default 20). */
  readonly thinkMs?: number;
}

const defaultClients: Record<WorkloadKind, number> = { register: 6, append: 4, watch: 4, lock: 3 };

/** Runs the chosen workloads until the deadline; resolves with the history. */
export async function runWorkloads(options: WorkloadOptions): Promise<ChaosHistory> {
  const h: ChaosHistory = { register: [], append: [], watch: [], lock: [] };
  const ctx = new Context(options, h);
  const tasks: Promise<void>[] = [];
  let client = 0;
  for (const kind of options.kinds) {
    const n = options.clients?.[kind] ?? defaultClients[kind];
    for (let i = 0; i < n; i++) {
      client++;
      const c = new ClientCtx(ctx, client, options.seed * 1000 + client);
      const run = { register: registerClient, append: appendClient, watch: watchClient, lock: lockClient }[
        kind
      ];
      tasks.push(run(c).finally(() => c.etcd.close()));
    }
  }
  await Promise.all(tasks);
  return h;
}

/** What every client of a run shares. */
class Context {
  readonly options: WorkloadOptions;
  readonly history: ChaosHistory;
  readonly timeoutMs: number;
  readonly endpoints: string[];
  readonly #names = new Map<string, string>();
  #nextOp = 1;

  constructor(options: WorkloadOptions, history: ChaosHistory) {
    this.options = options;
    this.history = history;
    this.timeoutMs = options.timeoutMs ?? 3000;
    this.endpoints = options.cluster.members.map((m) => options.cluster.endpoint(m));
    for (const m of options.cluster.members) this.#names.set(String(m.id), m.name);
  }

  nextOpId(): number {
    return this.#nextOp++;
  }

  /** The member name of a response header's member id. */
  memberName(id: bigint): string | undefined {
    return this.#names.get(id.toString());
  }

  nowNs(): number {
    return this.options.clock.nowNs();
  }

  /** Whether clients should stop starting operations. */
  done(): boolean {
    return this.options.clock.nowMs() >= this.options.deadlineMs;
  }
}

/** One logical client: its own connections and random source. */
class ClientCtx {
  readonly ctx: Context;
  readonly id: number;
  readonly rng: SeededRng;
  readonly etcd: EtcdClient;
  ops = 0;
  seq = 0;

  constructor(ctx: Context, id: number, seed: number) {
    this.ctx = ctx;
    this.id = id;
    this.rng = new SeededRng(seed);
    // Each client starts at a different member and goes round the members call by call.
    const eps = ctx.endpoints;
    const start = id % eps.length;
    this.etcd = new EtcdClient({
      endpoints: [...eps.slice(start), ...eps.slice(0, start)],
      dialTimeoutMs: 1000,
      defaultTimeoutMs: ctx.timeoutMs,
      endpointSelection: "round-robin",
    });
  }

  /** Whether this client may start another operation. */
  more(): boolean {
    return !this.ctx.done() && this.ops < this.ctx.options.opsPerClientMax;
  }

  /** A unique value for this client. */
  unique(): string {
    this.seq++;
    return `c${this.id}.${this.seq}`;
  }

  /** A key of the current generation. */
  key(prefix: string): string {
    const gen = Math.floor(this.ctx.options.clock.nowMs() / keyGenerationMs);
    return `${prefix}${gen}/${this.rng.intBelow(keysPerGeneration)}`;
  }

  think(): Promise<void> {
    const ms = this.rng.float() * (this.ctx.options.thinkMs ?? 20);
    return sleep(ms);
  }
}

// ------------------------------------------------------------------ request builders

const text = new TextDecoder();

function rangeReq(key: string): RangeRequestMsg {
  return {
    key: utf8(key),
    rangeEnd: new Uint8Array(0),
    limit: 0,
    revision: 0,
    sortOrder: 0,
    sortTarget: 0,
    serializable: false,
    keysOnly: false,
    countOnly: false,
    minModRevision: 0,
    maxModRevision: 0,
    minCreateRevision: 0,
    maxCreateRevision: 0,
  };
}

function putReq(key: string, value: string): PutRequestMsg {
  return {
    key: utf8(key),
    value: utf8(value),
    lease: 0,
    prevKv: false,
    ignoreValue: false,
    ignoreLease: false,
  };
}

/** Compare targets and results (etcd's enums). */
const target = { version: 0, create: 1, mod: 2, value: 3 } as const;
const equal = 0;

function compare(key: string, t: number, v: { value?: string; revision?: number }): CompareMsg {
  const base = { result: equal, target: t, key: utf8(key), rangeEnd: new Uint8Array(0) };
  switch (t) {
    case target.value:
      return { ...base, value: utf8(v.value ?? "") };
    case target.mod:
      return { ...base, modRevision: v.revision ?? 0 };
    case target.create:
      return { ...base, createRevision: v.revision ?? 0 };
    default:
      return { ...base, version: v.revision ?? 0 };
  }
}

const putOp = (key: string, value: string): RequestOpMsg => ({ requestPut: putReq(key, value) });
const rangeOp = (key: string): RequestOpMsg => ({ requestRange: rangeReq(key) });

function outcomeOf(e: unknown): Outcome {
  return isOutcomeUnknown(e) ? "unknown" : "fail";
}

// ------------------------------------------------------------------ register

async function registerClient(c: ClientCtx): Promise<void> {
  /** The last value and mod_revision this client saw per key. */
  const seen = new Map<string, { value: string; mod: number }>();
  while (c.more()) {
    c.ops++;
    const key = c.key("reg/");
    const r = c.rng.float();
    if (r < 0.5) await registerRead(c, key, seen);
    else if (r < 0.75) await registerWrite(c, key);
    else await registerCas(c, key, seen);
    await c.think();
  }
}

/** Records one completed op in `list` (the register or append history). */
function record<I, O>(
  list: Op<I, O>[],
  c: ClientCtx,
  key: string,
  input: I,
  invoke: number,
  outcome: Outcome,
  output: O | null,
  member: string | undefined,
): void {
  list.push({
    id: c.ctx.nextOpId(),
    client: c.id,
    key,
    input,
    invoke,
    complete: c.ctx.nowNs(),
    outcome,
    output: outcome === "ok" ? output : null,
    ...(member === undefined ? {} : { member }),
  });
}

async function registerRead(
  c: ClientCtx,
  key: string,
  seen: Map<string, { value: string; mod: number }>,
): Promise<void> {
  const invoke = c.ctx.nowNs();
  try {
    const res = await c.etcd.range({ key });
    const kv = res.kvs?.[0];
    const value = kv === undefined ? null : text.decode(kv.value);
    if (kv !== undefined && value !== null) seen.set(key, { value, mod: kv.modRevision });
    else seen.delete(key);
    record(
      c.ctx.history.register,
      c,
      key,
      { f: "read" },
      invoke,
      "ok",
      { f: "read", value },
      c.ctx.memberName(res.header.memberId),
    );
  } catch {
    record(c.ctx.history.register, c, key, { f: "read" }, invoke, "fail", null, undefined);
  }
}

async function registerWrite(c: ClientCtx, key: string): Promise<void> {
  const value = c.unique();
  const invoke = c.ctx.nowNs();
  try {
    const res = await c.etcd.put({ key, value });
    record(
      c.ctx.history.register,
      c,
      key,
      { f: "write", value },
      invoke,
      "ok",
      { f: "write" },
      c.ctx.memberName(res.header.memberId),
    );
  } catch (e) {
    record(c.ctx.history.register, c, key, { f: "write", value }, invoke, outcomeOf(e), null, undefined);
  }
}

async function registerCas(
  c: ClientCtx,
  key: string,
  seen: Map<string, { value: string; mod: number }>,
): Promise<void> {
  const last = seen.get(key) ?? null;
  const value = c.unique();
  // Compare the value, or the mod_revision it was read at (the same test: values are unique).
  const byRevision = c.rng.float() < 0.5;
  const cmp =
    last === null
      ? compare(key, byRevision ? target.mod : target.version, { revision: 0 })
      : byRevision
        ? compare(key, target.mod, { revision: last.mod })
        : compare(key, target.value, { value: last.value });
  const input: RegisterInput = { f: "cas", expect: last?.value ?? null, value };
  const invoke = c.ctx.nowNs();
  try {
    const res = await c.etcd.txn({ compare: [cmp], success: [putOp(key, value)], failure: [] });
    const succeeded = res.succeeded === true;
    record(
      c.ctx.history.register,
      c,
      key,
      input,
      invoke,
      "ok",
      { f: "cas", succeeded },
      c.ctx.memberName(res.header.memberId),
    );
  } catch (e) {
    record(c.ctx.history.register, c, key, input, invoke, outcomeOf(e), null, undefined);
  }
}

// ------------------------------------------------------------------ append

function parseList(kv: KeyValueMsg | undefined): string[] {
  if (kv === undefined) return [];
  const s = text.decode(kv.value);
  return s === "" ? [] : s.split(" ");
}

async function appendClient(c: ClientCtx): Promise<void> {
  while (c.more()) {
    c.ops++;
    const key = c.key("app/");
    if (c.rng.float() < 0.4) await appendRead(c, key);
    else await appendElem(c, key);
    await c.think();
  }
}

async function appendRead(c: ClientCtx, key: string): Promise<void> {
  const invoke = c.ctx.nowNs();
  try {
    const res = await c.etcd.range({ key });
    const list = parseList(res.kvs?.[0]);
    record(
      c.ctx.history.append,
      c,
      key,
      { f: "read" },
      invoke,
      "ok",
      { f: "read", list },
      c.ctx.memberName(res.header.memberId),
    );
  } catch {
    record(c.ctx.history.append, c, key, { f: "read" }, invoke, "fail", null, undefined);
  }
}

async function appendElem(c: ClientCtx, key: string): Promise<void> {
  const elem = c.unique();
  const input: AppendInput = { f: "append", elem };
  const invoke = c.ctx.nowNs();
  for (let attempt = 0; attempt < appendAttemptsMax; attempt++) {
    let list: string[];
    let mod: number;
    try {
      const res = await c.etcd.range({ key });
      const kv = res.kvs?.[0];
      list = parseList(kv);
      mod = kv?.modRevision ?? 0;
    } catch {
      // Nothing was written by this op yet (earlier attempts lost their compare).
      record(c.ctx.history.append, c, key, input, invoke, "fail", null, undefined);
      return;
    }
    try {
      const res = await c.etcd.txn({
        compare: [compare(key, target.mod, { revision: mod })],
        success: [putOp(key, [...list, elem].join(" "))],
        failure: [],
      });
      if (res.succeeded === true) {
        record(
          c.ctx.history.append,
          c,
          key,
          input,
          invoke,
          "ok",
          { f: "append" },
          c.ctx.memberName(res.header.memberId),
        );
        return;
      }
    } catch (e) {
      record(c.ctx.history.append, c, key, input, invoke, outcomeOf(e), null, undefined);
      return;
    }
  }
  record(c.ctx.history.append, c, key, input, invoke, "fail", null, undefined);
}

// ------------------------------------------------------------------ watch

/** Prefixes watched (the empty prefix: every key). */
const watchPrefixes = ["reg/", "app/", ""];

async function watchClient(c: ClientCtx): Promise<void> {
  const prefix = watchPrefixes[c.id % watchPrefixes.length] ?? "";
  let next = 0;
  let first = true;
  while (c.more()) {
    c.ops++;
    // The first stream starts now or some revisions back (possibly below the compaction).
    let start = next;
    if (first) {
      first = false;
      start = 0;
    } else if (c.rng.float() < 0.2 && next > 50) {
      start = Math.max(1, next - 1 - c.rng.intBelow(3000));
    }
    const endpoint = c.ctx.endpoints[c.rng.intBelow(c.ctx.endpoints.length)] ?? "";
    const lifeMs = 1000 + c.rng.float() * 5000;
    const obs = await watchOnce(c, prefix, start, endpoint, lifeMs);
    if (obs !== null) {
      c.ctx.history.watch.push(obs);
      next = obs.compactedAt !== null ? obs.compactedAt : obs.lastRevision + 1;
    }
    await sleep(50 + c.rng.float() * 200);
  }
}

/**
 * One watch stream's life on `endpoint`: from `start` (0: now), for `lifeMs` or until it fails;
 * before closing it asks for a progress notification to learn how far it is complete.
 */
function watchOnce(
  c: ClientCtx,
  prefix: string,
  start: number,
  endpoint: string,
  lifeMs: number,
): Promise<WatchRecord | null> {
  const openedAt = c.ctx.nowNs();
  return new Promise((resolve) => {
    const events: WatchEvent[] = [];
    let startRevision = start;
    let created = false;
    let lastRevision = -1;
    let compactedAt: number | null = null;
    let finished = false;
    const ws = c.etcd.watchStream({ endpoint });
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(life);
      ws.close();
      if (!created) {
        resolve(null);
        return;
      }
      const maxEvent = events.reduce((m, e) => Math.max(m, e.revision), startRevision - 1);
      resolve({
        watcher: c.id,
        prefix,
        startRevision,
        events,
        compactedAt,
        lastRevision: Math.max(lastRevision, maxEvent),
        endpoint,
        openedAt,
        closedAt: c.ctx.nowNs(),
      });
    };
    const watcher = ws.watch(
      { key: utf8(prefix), rangeEnd: prefixEnd(utf8(prefix)), startRevision: start },
      {
        onCreated: (_id, res) => {
          created = true;
          if (start === 0) startRevision = res.header.revision + 1;
        },
        onEvents: (evs) => {
          for (const e of evs) {
            const kv = e.kv;
            if (kv === null) continue;
            events.push({
              revision: kv.modRevision,
              key: text.decode(kv.key),
              type: e.type === 1 ? "delete" : "put",
              value: e.type === 1 ? null : text.decode(kv.value),
              modRevision: kv.modRevision,
            });
          }
        },
        onProgress: (res) => {
          lastRevision = Math.max(lastRevision, res.header.revision);
          if (closing) finish();
        },
        onCanceled: (info) => {
          if (info.compactRevision > 0) compactedAt = info.compactRevision;
          finish();
        },
        onError: () => finish(),
      },
    );
    let closing = false;
    const life = setTimeout(() => {
      // Ask how far the stream is complete, then close (or close anyway after a second).
      closing = true;
      if (watcher.done) return finish();
      ws.requestProgress();
      setTimeout(finish, 1000);
    }, lifeMs);
  });
}

// ------------------------------------------------------------------ lock

async function lockClient(c: ClientCtx): Promise<void> {
  while (c.more()) {
    c.ops++;
    await lockOnce(c);
    await c.think();
  }
}

/**
 * Keeps one lease alive as etcd's client does: a renewal every 500 ms over a keep-alive stream,
 * a fresh stream (to the next member) when one fails or a renewal goes unanswered for a second,
 * and the lease counted as valid only until the send time of the last answered renewal plus the
 * TTL it granted. The holder must consider its lock lost from that deadline on, even if nothing
 * failed loudly (a renewal answered by a member cut off from the leader, a stream that hangs).
 */
class LeaseKeeperWithDeadline {
  /** Run-clock ns until which the lease is known valid. */
  validUntil: number;
  /** When a renewal answered "no such lease" (TTL <= 0), if one did. */
  goneAt: number | null = null;
  renewals = 0;
  #stopped = false;
  readonly #done: Promise<void>;

  constructor(
    readonly c: ClientCtx,
    readonly lease: number,
    grantSentAt: number,
    ttlS: number,
  ) {
    this.validUntil = grantSentAt + ttlS * 1e9;
    this.#done = this.#run();
  }

  async #run(): Promise<void> {
    let stream = this.c.etcd.keepAliveStream();
    while (!this.#stopped && this.goneAt === null) {
      const sent = this.c.ctx.nowNs();
      try {
        const res = await withTimeout(stream.keepAlive(this.lease), 1000);
        if (res.TTL <= 0) this.goneAt = this.c.ctx.nowNs();
        else {
          this.renewals++;
          this.validUntil = Math.max(this.validUntil, sent + res.TTL * 1e9);
        }
      } catch {
        stream.close();
        if (this.#stopped) break;
        stream = this.c.etcd.keepAliveStream();
      }
      await sleep(500);
    }
    stream.close();
  }

  /** When the holder had to consider the lease lost, if that happened before `until` (ns). */
  lostBy(until: number): number | null {
    const expired = this.validUntil < until ? this.validUntil : null;
    if (this.goneAt !== null && (expired === null || this.goneAt < expired)) return this.goneAt;
    return expired;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/** A lock hold plus diagnostics (the checker ignores the extra fields). */
export type LockRecord = LockHold & {
  /** Member that answered Lock, and the header revision of its answer. */
  readonly lockMember: string | undefined;
  readonly lockRevision: number;
  /** Header revision of the Unlock answer, or null. */
  readonly unlockRevision: number | null;
  /** Renewals answered during the hold's life, and the lease deadline at the end (ns). */
  readonly renewals: number;
  readonly validUntil: number;
};

async function lockOnce(c: ClientCtx): Promise<void> {
  const etcd = c.etcd;
  let lease: number;
  const grantSentAt = c.ctx.nowNs();
  try {
    lease = (await etcd.leaseGrant(lockLeaseTtlS)).ID;
  } catch {
    await sleep(200);
    return;
  }
  const keeper = new LeaseKeeperWithDeadline(c, lease, grantSentAt, lockLeaseTtlS);
  try {
    let lockKey: Uint8Array;
    let lockRevision: number;
    let lockMember: string | undefined;
    try {
      const res = await etcd.lock(lockName, lease, { timeoutMs: 10_000 });
      lockKey = res.key;
      lockRevision = res.header.revision;
      lockMember = c.ctx.memberName(res.header.memberId);
    } catch {
      return;
    }
    const acquired = c.ctx.nowNs();
    const keyText = text.decode(lockKey);
    const token = await lockToken(c, keyText);
    if (token === null) {
      await etcd.unlock(lockKey).catch(() => undefined);
      return;
    }
    const hold = await underLock(c, keyText, token);
    await sleep(c.rng.float() * 300);
    let released: number | null = null;
    let unlockRevision: number | null = null;
    const releaseInvoked = c.ctx.nowNs();
    try {
      unlockRevision = (await etcd.unlock(lockKey)).header.revision;
      released = c.ctx.nowNs();
    } catch {
      released = null;
    }
    const record: LockRecord = {
      client: c.id,
      lease: String(lease),
      token,
      acquired,
      released,
      releaseInvoked,
      leaseLostAt: keeper.lostBy(releaseInvoked),
      ...hold,
      lockMember,
      lockRevision,
      unlockRevision,
      renewals: keeper.renewals,
      validUntil: keeper.validUntil,
    };
    c.ctx.history.lock.push(record);
  } finally {
    await keeper.stop();
    await etcd.leaseRevoke(lease).catch(() => undefined);
  }
}

/** The fencing token: the lock key's create revision (null if it cannot be read or is gone). */
async function lockToken(c: ClientCtx, key: string): Promise<number | null> {
  for (let i = 0; i < 3; i++) {
    try {
      const kv = (await c.etcd.range({ key })).kvs?.[0];
      return kv === undefined ? null : kv.createRevision;
    } catch {
      await sleep(100);
    }
  }
  return null;
}

/** Reads the counter and writes counter+1, each guarded by the lock key's create revision. */
async function underLock(
  c: ClientCtx,
  lockKey: string,
  token: number,
): Promise<Pick<LockHold, "counterRead" | "counterWritten" | "writeOutcome">> {
  const guard = compare(lockKey, target.create, { revision: token });
  let read: number;
  let mod: number;
  try {
    const res = await c.etcd.txn({ compare: [guard], success: [rangeOp(counterKey)], failure: [] });
    if (res.succeeded !== true) return { counterRead: null, counterWritten: null, writeOutcome: null };
    const kv = res.responses?.[0]?.responseRange?.kvs?.[0];
    read = kv === undefined ? 0 : Number(text.decode(kv.value));
    mod = kv?.modRevision ?? 0;
  } catch {
    return { counterRead: null, counterWritten: null, writeOutcome: null };
  }
  const written = read + 1;
  try {
    const res = await c.etcd.txn({
      compare: [guard, compare(counterKey, target.mod, { revision: mod })],
      success: [putOp(counterKey, String(written))],
      failure: [],
    });
    const ok = res.succeeded === true;
    return { counterRead: read, counterWritten: ok ? written : null, writeOutcome: ok ? "ok" : "fail" };
  } catch (e) {
    return { counterRead: read, counterWritten: null, writeOutcome: outcomeOf(e) };
  }
}
