// Model-based property tests (fast-check, fixed seeds): random sequences of puts, deletes, txns,
// compactions and lease grants/revokes run against the store and against a naive reference model
// that keeps the whole key space at every revision. Every range at every revision must agree,
// error codes must agree, watch streams replayed from any revision must rebuild the model's state,
// and a snapshot round trip must preserve the hash.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  type Compare,
  decodeSnapshot,
  MvccErrorCodes as E,
  type Event,
  encodeSnapshot,
  fromUtf8,
  type KeyValue,
  MvccStore,
  type RequestOp,
  type WatchResponse,
  type WatchStream,
} from "../../src/mvcc/mod.js";
import { b } from "./helpers.js";

const KEYS = ["a", "a/x", "b", "c", "d"] as const;
const ALL = new Uint8Array([0]);

interface ModelKv {
  readonly value: string;
  readonly create: number;
  readonly mod: number;
  readonly version: number;
  readonly lease: number;
}
type State = ReadonlyMap<string, ModelKv>;

/** The reference model: the full key space at every revision (index = revision). */
class Model {
  readonly states: State[] = [new Map(), new Map()];
  rev = 1;
  compacted = 0;
  readonly leases = new Set<number>();

  get current(): State {
    return this.states[this.rev] as State;
  }

  commit(next: State): void {
    this.rev++;
    this.states[this.rev] = next;
  }
}

type SimpleOp =
  | { t: "put"; key: string; value: string }
  | { t: "del"; key: string }
  | { t: "get"; key: string };
type Op =
  | { t: "put"; key: string; value: string; lease: number }
  | { t: "del"; key: string; end: string | null }
  | {
      t: "txn";
      cmp: {
        key: string;
        target: "version" | "create" | "mod" | "value" | "lease";
        result: Compare["result"];
        n: number;
      };
      success: SimpleOp[];
      failure: SimpleOp[];
    }
  | { t: "compact"; back: number }
  | { t: "grant"; id: number }
  | { t: "revoke"; id: number }
  | { t: "take" }
  | { t: "sync" };

const keyArb = fc.constantFrom(...KEYS);
const valueArb = fc.constantFrom("", "0", "1", "x", "yy");
const branchArb: fc.Arbitrary<SimpleOp[]> = fc
  .tuple(
    fc.uniqueArray(keyArb, { maxLength: 3 }),
    fc.array(fc.constantFrom("put", "del") as fc.Arbitrary<"put" | "del">, { minLength: 3, maxLength: 3 }),
    valueArb,
    keyArb,
  )
  .map(([keys, kinds, value, getKey]) => [
    ...keys.map((key, i): SimpleOp => (kinds[i] === "put" ? { t: "put", key, value } : { t: "del", key })),
    { t: "get", key: getKey },
  ]);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant("put" as const),
      key: keyArb,
      value: valueArb,
      lease: fc.constantFrom(0, 0, 0, 1, 2),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("del" as const),
      key: keyArb,
      end: fc.option(keyArb, { nil: null }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("txn" as const),
      cmp: fc.record({
        key: keyArb,
        target: fc.constantFrom("version", "create", "mod", "value", "lease") as fc.Arbitrary<"version">,
        result: fc.constantFrom("equal", "notEqual", "less", "greater") as fc.Arbitrary<Compare["result"]>,
        n: fc.integer({ min: 0, max: 6 }),
      }),
      success: branchArb,
      failure: branchArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant("compact" as const), back: fc.integer({ min: -1, max: 6 }) }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("grant" as const), id: fc.constantFrom(1, 2) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("revoke" as const), id: fc.constantFrom(1, 2) }) },
  { weight: 1, arbitrary: fc.constant({ t: "take" as const }) },
  { weight: 1, arbitrary: fc.constant({ t: "sync" as const }) },
);

function inRange(key: string, start: string, end: string | null): boolean {
  return end === null ? key === start : key >= start && key < end;
}

function modelView(state: State, start: string, end: string | null): string[] {
  return [...state.entries()]
    .filter(([k]) => inRange(k, start, end))
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v.value}@${v.create}/${v.mod}/v${v.version}/l${v.lease}`);
}

function storeView(kvs: readonly KeyValue[]): string[] {
  return kvs.map(
    (kv) =>
      `${fromUtf8(kv.key)}=${fromUtf8(kv.value)}@${kv.createRevision}/${kv.modRevision}/v${kv.version}/l${kv.lease}`,
  );
}

function modelPut(next: Map<string, ModelKv>, rev: number, key: string, value: string, lease: number): void {
  const old = next.get(key);
  next.set(key, { value, create: old?.create ?? rev, mod: rev, version: (old?.version ?? 0) + 1, lease });
}

function compareHolds(state: State, c: Extract<Op, { t: "txn" }>["cmp"]): boolean {
  const kv = state.get(c.key);
  let r: number;
  if (c.target === "value") {
    if (kv === undefined) return false;
    const want = String(c.n);
    r = kv.value === want ? 0 : kv.value < want ? -1 : 1;
  } else {
    const field =
      kv === undefined
        ? 0
        : { version: kv.version, create: kv.create, mod: kv.mod, lease: kv.lease }[c.target];
    r = field - c.n;
  }
  return { equal: r === 0, notEqual: r !== 0, less: r < 0, greater: r > 0 }[c.result];
}

/** Applies one op to store and model and checks that their answers agree. */
function step(s: MvccStore, m: Model, op: Op, live: WatchStream, liveOut: WatchResponse[]): void {
  switch (op.t) {
    case "put": {
      const r = s.put({ key: b(op.key), value: b(op.value), lease: op.lease });
      if (op.lease !== 0 && !m.leases.has(op.lease)) {
        assert.equal(r.ok ? "ok" : r.error.code, E.leaseNotFound);
        return;
      }
      assert.ok(r.ok);
      const next = new Map(m.current);
      modelPut(next, m.rev + 1, op.key, op.value, op.lease);
      m.commit(next);
      assert.equal(r.value.revision, m.rev);
      return;
    }
    case "del": {
      const r = s.deleteRange(op.end === null ? { key: b(op.key) } : { key: b(op.key), rangeEnd: b(op.end) });
      assert.ok(r.ok);
      const doomed = [...m.current.keys()].filter((k) => inRange(k, op.key, op.end));
      assert.equal(r.value.deleted, doomed.length);
      if (doomed.length > 0) {
        const next = new Map(m.current);
        for (const k of doomed) next.delete(k);
        m.commit(next);
      }
      assert.equal(r.value.revision, m.rev);
      return;
    }
    case "txn":
      txnStep(s, m, op);
      return;
    case "compact": {
      const target = m.rev - op.back;
      const r = s.compact(target);
      if (target <= m.compacted) assert.equal(r.ok ? "ok" : r.error.code, E.compacted);
      else if (target > m.rev) assert.equal(r.ok ? "ok" : r.error.code, E.futureRevision);
      else {
        assert.ok(r.ok);
        m.compacted = target;
      }
      // Every other compaction (tried or done) is followed by a forced repack: the history's rows
      // and the value arena move, and nothing observable may change.
      if (op.back % 2 === 0) s.kv.repack();
      return;
    }
    case "grant": {
      const r = s.leaseGrant({ id: op.id, ttl: 10 });
      if (m.leases.has(op.id)) assert.equal(r.ok ? "ok" : r.error.code, E.leaseExists);
      else {
        assert.ok(r.ok);
        m.leases.add(op.id);
      }
      return;
    }
    case "revoke": {
      const r = s.leaseRevoke(op.id);
      if (!m.leases.has(op.id)) {
        assert.equal(r.ok ? "ok" : r.error.code, E.leaseNotFound);
        return;
      }
      assert.ok(r.ok);
      m.leases.delete(op.id);
      const doomed = [...m.current.entries()].filter(([, v]) => v.lease === op.id).map(([k]) => k);
      if (doomed.length > 0) {
        const next = new Map(m.current);
        for (const k of doomed) next.delete(k);
        m.commit(next);
      }
      assert.equal(r.value.revision, m.rev);
      return;
    }
    case "take":
      liveOut.push(...live.take());
      return;
    case "sync":
      s.watchHub.sync();
      return;
  }
}

function txnStep(s: MvccStore, m: Model, op: Extract<Op, { t: "txn" }>): void {
  const c = op.cmp;
  const compare: Compare =
    c.target === "value"
      ? { key: b(c.key), target: "value", result: c.result, value: b(String(c.n)) }
      : { key: b(c.key), target: c.target, result: c.result, value: c.n };
  const toReq = (o: SimpleOp): RequestOp =>
    o.t === "put"
      ? { type: "put", request: { key: b(o.key), value: b(o.value) } }
      : o.t === "del"
        ? { type: "deleteRange", request: { key: b(o.key) } }
        : { type: "range", request: { key: b(o.key) } };
  const r = s.txn({ compare: [compare], success: op.success.map(toReq), failure: op.failure.map(toReq) });
  assert.ok(r.ok, r.ok ? "" : r.error.detail);
  const ok = compareHolds(m.current, c);
  assert.equal(r.value.succeeded, ok);
  const next = new Map(m.current);
  let changed = false;
  const gets: string[][] = [];
  for (const o of ok ? op.success : op.failure) {
    if (o.t === "put") {
      modelPut(next, m.rev + 1, o.key, o.value, 0);
      changed = true;
    } else if (o.t === "del") {
      changed = next.delete(o.key) || changed;
    } else {
      gets.push(modelView(next, o.key, null));
    }
  }
  const storeGets = r.value.responses.flatMap((resp) =>
    resp.type === "range" ? [storeView(resp.response.kvs)] : [],
  );
  assert.deepEqual(storeGets, gets, "ranges inside the txn see earlier ops");
  if (changed) m.commit(next);
  assert.equal(r.value.revision, m.rev);
}

/** Every range at every revision agrees with the model; compacted revisions fail. */
function checkHistory(s: MvccStore, m: Model): void {
  assert.equal(s.currentRevision, m.rev);
  assert.equal(s.compactRevision, m.compacted);
  const ranges: [string, string | null][] = [
    ["\0", "\u00ff"],
    ["a", "b"],
    ["a/", "c"],
    ["b", null],
    ["a/x", null],
    ["c", "a"],
  ];
  for (let rev = 1; rev <= m.rev; rev++) {
    for (const [start, end] of ranges) {
      const req =
        end === null ? { key: b(start), revision: rev } : { key: b(start), rangeEnd: b(end), revision: rev };
      const r = s.range(req);
      if (rev < m.compacted) {
        assert.equal(r.ok ? "ok" : r.error.code, E.compacted);
        continue;
      }
      assert.ok(r.ok);
      const want = modelView(m.states[rev] as State, start, end);
      assert.deepEqual(storeView(r.value.kvs), want, `range [${start}, ${end}) at ${rev}`);
      assert.equal(r.value.count, want.length);
      const limited = s.range({ ...req, limit: 2 });
      assert.ok(limited.ok);
      assert.deepEqual(storeView(limited.value.kvs), want.slice(0, 2));
      assert.equal(limited.value.more, want.length > 2);
      assert.equal(limited.value.count, want.length);
    }
  }
}

/** Replays `events` onto `state`; checks ordering and atomic revisions on the way. */
function replay(state: State, responses: readonly WatchResponse[]): Map<string, ModelKv> {
  const out = new Map(state);
  let last = 0;
  for (const r of responses) {
    if (r.events.length === 0) continue;
    const rev = (r.events[0] as Event).kv.modRevision;
    assert.ok(rev > last, `revision ${rev} after ${last}: ordered, never duplicated, never split`);
    last = rev;
    for (const e of r.events) {
      assert.equal(e.kv.modRevision, rev, "one response holds one revision");
      const key = fromUtf8(e.kv.key);
      if (e.type === "delete") out.delete(key);
      else {
        out.set(key, {
          value: fromUtf8(e.kv.value),
          create: e.kv.createRevision,
          mod: e.kv.modRevision,
          version: e.kv.version,
          lease: e.kv.lease,
        });
      }
    }
  }
  return out;
}

function drain(s: MvccStore, stream: WatchStream): WatchResponse[] {
  const out: WatchResponse[] = [];
  for (let i = 0; i < 100_000; i++) {
    const got = stream.take();
    out.push(...got);
    if (s.watchHub.sync() === 0 && got.length === 0 && stream.queuedResponses === 0) return out;
  }
  assert.fail("watch stream did not drain");
}

function sameState(a: State, c: State): void {
  assert.deepEqual(modelView(a, "\0", "\u00ff"), modelView(c, "\0", "\u00ff"));
}

/** Watches from every retained revision rebuild the final state; prev_kv matches the model. */
function checkWatches(s: MvccStore, m: Model): void {
  for (let start = Math.max(1, m.compacted); start <= m.rev + 1; start++) {
    const stream = s.watchHub.newStream();
    stream.watch({ key: b("\0"), rangeEnd: ALL, startRevision: start, prevKv: true });
    const rs = drain(s, stream);
    sameState(replay(m.states[start - 1] ?? new Map(), rs), m.current);
    for (const e of rs.flatMap((r) => r.events)) {
      const before = e.kv.modRevision - 1;
      const want = before < m.compacted ? undefined : (m.states[before] as State).get(fromUtf8(e.kv.key));
      assert.equal(
        e.prevKv === null ? "none" : storeView([e.prevKv])[0],
        want === undefined
          ? "none"
          : modelView(new Map([[fromUtf8(e.kv.key), want]]), fromUtf8(e.kv.key), null)[0],
      );
    }
    stream.close();
  }
}

function runOps(ops: readonly Op[]): void {
  const s = new MvccStore({ watch: { eventsQueuedMax: 3, syncRecordsMax: 4, syncWatchersMax: 2 } });
  const m = new Model();
  const live = s.watchHub.newStream();
  live.watch({ key: b("\0"), rangeEnd: ALL });
  const liveOut: WatchResponse[] = [];
  for (const op of ops) step(s, m, op, live, liveOut);
  checkHistory(s, m);
  liveOut.push(...drain(s, live));
  const canceled = liveOut.find((r) => r.canceled);
  if (canceled === undefined) sameState(replay(m.states[1] as State, liveOut), m.current);
  else {
    // A parked live watcher may lose its history to compaction: it must be told, with the revision,
    // after receiving exactly the events up to some revision below that compaction.
    assert.ok(canceled.compactRevision > 0 && canceled.compactRevision <= m.compacted);
    assert.ok(liveOut.at(-1) === canceled, "nothing after the cancel");
    const last = liveOut.reduce((rev, r) => Math.max(rev, r.events[0]?.kv.modRevision ?? 0), 1);
    assert.ok(last + 1 < canceled.compactRevision, `next revision ${last + 1} was compacted`);
    sameState(replay(m.states[1] as State, liveOut), m.states[last] as State);
  }
  checkWatches(s, m);
  const copy = decodeSnapshot(encodeSnapshot(s, 256));
  if (typeof copy === "string") assert.fail(copy);
  assert.deepEqual(copy.hashKv(), s.hashKv());
  checkHistory(copy, m);
}

/** Runs a property, putting the underlying assertion into the failure message. */
function check(property: fc.IProperty<[Op[]]>, params: fc.Parameters<[Op[]]>): void {
  try {
    fc.assert(property, params);
  } catch (e) {
    if (e instanceof Error && e.cause instanceof Error)
      e.message += `\nCause: ${e.cause.stack ?? e.cause.message}`;
    throw e;
  }
}

test("MvccStore model: random put/delete/txn/compact/lease sequences agree with the reference model", () => {
  // Proves ranges at every revision, error codes, watch replay from every revision, bounded
  // live watching with parking, and snapshot round trips, against a naive model.
  check(
    fc.property(fc.array(opArb, { maxLength: 40 }), (ops) => runOps(ops)),
    { seed: 20240611, numRuns: 150 },
  );
});

test("MvccStore model: longer runs with few keys and frequent compaction", () => {
  // Proves the same properties over longer histories where compaction interleaves with watches.
  check(
    fc.property(fc.array(opArb, { minLength: 60, maxLength: 120 }), (ops) => runOps(ops)),
    { seed: 7, numRuns: 25 },
  );
});
