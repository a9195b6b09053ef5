// Table tests for txns: compares, branches, nesting, validation before apply, duplicate-key
// rules and the ops limit, each as etcd v3 defines them (reference §4), with exact error codes.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type Compare,
  MvccErrorCodes as E,
  MvccStore,
  mvccErrorMessages,
  type RequestOp,
  type TxnRequest,
} from "../../src/mvcc/mod.js";
import { b, keysOf, must, mustFail, show } from "./helpers.js";

const put = (k: string, v = "x", extra: object = {}): RequestOp => ({
  type: "put",
  request: { key: b(k), value: b(v), ...extra },
});
const del = (k: string, end?: string): RequestOp => ({
  type: "deleteRange",
  request: end === undefined ? { key: b(k) } : { key: b(k), rangeEnd: b(end) },
});
const get = (k: string, end?: string): RequestOp => ({
  type: "range",
  request: end === undefined ? { key: b(k) } : { key: b(k), rangeEnd: b(end) },
});
const txn = (compare: Compare[], success: RequestOp[], failure: RequestOp[] = []): TxnRequest => ({
  compare,
  success,
  failure,
});
const nested = (t: TxnRequest): RequestOp => ({ type: "txn", request: t });

function store(): MvccStore {
  const s = new MvccStore();
  must(s.put({ key: b("a"), value: b("1") })); // rev 2
  must(s.put({ key: b("a"), value: b("2") })); // rev 3: a version 2, create 2, mod 3
  return s;
}

test("MvccStore txn: compares on every target and result", () => {
  // Proves VERSION/CREATE/MOD/VALUE/LEASE compares with =, !=, <, > against etcd's semantics.
  const s = store();
  const cases: [Compare, boolean][] = [
    [{ key: b("a"), target: "version", result: "equal", value: 2 }, true],
    [{ key: b("a"), target: "version", result: "greater", value: 1 }, true],
    [{ key: b("a"), target: "version", result: "less", value: 2 }, false],
    [{ key: b("a"), target: "create", result: "equal", value: 2 }, true],
    [{ key: b("a"), target: "mod", result: "equal", value: 3 }, true],
    [{ key: b("a"), target: "mod", result: "notEqual", value: 3 }, false],
    [{ key: b("a"), target: "value", result: "equal", value: b("2") }, true],
    [{ key: b("a"), target: "value", result: "greater", value: b("1") }, true],
    [{ key: b("a"), target: "value", result: "less", value: b("10") }, false],
    [{ key: b("a"), target: "value", result: "notEqual", value: b("2") }, false],
    [{ key: b("a"), target: "lease", result: "equal", value: 0 }, true],
  ];
  for (const [c, expected] of cases) {
    const r = must(s.txn(txn([c], [])));
    assert.equal(r.succeeded, expected, `${c.target} ${c.result} ${String(c.value)}`);
  }
});

test("MvccStore txn: a missing key compares as zero, except VALUE compares which are false", () => {
  // Proves create_revision == 0 detects absence and that value compares on a missing key always fail.
  const s = store();
  const absent = (c: Omit<Compare, "key">): boolean =>
    must(s.txn(txn([{ ...c, key: b("nope") } as Compare], []))).succeeded;
  assert.equal(absent({ target: "create", result: "equal", value: 0 }), true);
  assert.equal(absent({ target: "version", result: "equal", value: 0 }), true);
  assert.equal(absent({ target: "mod", result: "less", value: 1 }), true);
  assert.equal(absent({ target: "value", result: "equal", value: b("") }), false);
  assert.equal(absent({ target: "value", result: "notEqual", value: b("x") }), false);
});

test("MvccStore txn: range compares must hold for every key in the range", () => {
  // Proves compares with range_end apply to each key, and an empty range compares the zero key-value.
  const s = store();
  must(s.put({ key: b("b"), value: b("1") })); // rev 4
  const all = (c: Omit<Compare, "key" | "rangeEnd">, end = "z"): boolean =>
    must(s.txn(txn([{ ...c, key: b("a"), rangeEnd: b(end) } as Compare], []))).succeeded;
  assert.equal(all({ target: "mod", result: "greater", value: 2 }), true);
  assert.equal(all({ target: "mod", result: "greater", value: 3 }), false);
  assert.equal(all({ target: "version", result: "equal", value: 1 }), false);
  const empty = must(
    s.txn(txn([{ key: b("x"), rangeEnd: b("y"), target: "create", result: "equal", value: 0 }], [])),
  );
  assert.equal(empty.succeeded, true);
});

test("MvccStore txn: then and else branches, responses per op, one revision for all writes", () => {
  // Proves branch selection, one ResponseOp per executed op in order, and a single main revision.
  const s = store();
  const ok = must(
    s.txn(
      txn(
        [{ key: b("a"), target: "value", result: "equal", value: b("2") }],
        [put("x"), put("y"), get("a")],
        [put("z")],
      ),
    ),
  );
  assert.equal(ok.succeeded, true);
  assert.equal(ok.revision, 4);
  assert.deepEqual(
    ok.responses.map((r) => r.type),
    ["put", "put", "range"],
  );
  const xy = must(s.range({ key: b("x"), rangeEnd: b("z") })).kvs;
  assert.deepEqual(xy.map(show), ["x=x@4/4/v1/l0", "y=x@4/4/v1/l0"]);
  const no = must(
    s.txn(txn([{ key: b("a"), target: "value", result: "equal", value: b("9") }], [put("p")], [put("z")])),
  );
  assert.equal(no.succeeded, false);
  assert.equal(no.revision, 5);
  assert.equal(must(s.range({ key: b("p") })).count, 0);
  assert.equal(must(s.range({ key: b("z") })).count, 1);
});

test("MvccStore txn: a txn without effective writes keeps the revision", () => {
  // Proves read-only txns and txns whose deletes delete nothing do not bump the revision.
  const s = store();
  const ro = must(s.txn(txn([], [get("a")])));
  assert.equal(ro.revision, 3);
  const noop = must(s.txn(txn([], [del("nothing")])));
  assert.equal(noop.revision, 3);
  assert.equal(s.currentRevision, 3);
});

test("MvccStore txn: later operations see earlier ones", () => {
  // Proves a range after a put or delete in the same txn observes it.
  const s = store();
  const r = must(s.txn(txn([], [put("n", "new"), get("n"), del("a"), get("a")])));
  const [, first, , second] = r.responses;
  assert.ok(first?.type === "range" && second?.type === "range");
  assert.deepEqual(first.response.kvs.map(show), ["n=new@4/4/v1/l0"]);
  assert.equal(second.response.count, 0);
});

test("MvccStore txn: nested txns choose their branch against the state before the txn", () => {
  // Proves compareToPath semantics: nested compares do not see the enclosing txn's earlier writes.
  const s = store();
  const inner = txn(
    [{ key: b("q"), target: "create", result: "equal", value: 0 }],
    [put("inner-then")],
    [put("inner-else")],
  );
  const r = must(s.txn(txn([], [put("q"), nested(inner)])));
  const nestedResp = r.responses[1];
  assert.ok(nestedResp?.type === "txn");
  assert.equal(nestedResp.response.succeeded, true, "q did not exist before the txn");
  assert.equal(must(s.range({ key: b("inner-then") })).count, 1);
  assert.equal(must(s.range({ key: b("inner-else") })).count, 0);
});

test("MvccStore txn: the chosen path is validated in full before anything is applied", () => {
  // Proves atomicity: an unknown lease or ignore_value on a missing key in a later op leaves no trace.
  const s = store();
  const badLease = mustFail(s.txn(txn([], [put("ok1"), nested(txn([], [put("ok2", "v", { lease: 99 })]))])));
  assert.equal(badLease.code, E.leaseNotFound);
  const badIgnore = mustFail(
    s.txn(txn([], [put("ok1"), { type: "put", request: { key: b("ghost"), ignoreValue: true } }])),
  );
  assert.equal(badIgnore.code, E.keyNotFound);
  assert.equal(s.currentRevision, 3);
  assert.equal(must(s.range({ key: b("ok1") })).count, 0);
  // Only the chosen branch is validated: a bad op in the branch not taken is harmless.
  const fine = must(s.txn(txn([], [put("ok1")], [put("bad", "v", { lease: 99 })])));
  assert.equal(fine.succeeded, true);
});

test("MvccStore txn: nested range revisions are checked before applying", () => {
  // Proves etcd #18667: a compacted or future revision in a nested range fails the whole txn.
  const s = store();
  must(s.put({ key: b("a"), value: b("3") })); // rev 4
  must(s.compact(3));
  const compacted = mustFail(
    s.txn(txn([], [put("w"), { type: "range", request: { key: b("a"), revision: 2 } }])),
  );
  assert.equal(compacted.code, E.compacted);
  const future = mustFail(
    s.txn(txn([], [put("w"), { type: "range", request: { key: b("a"), revision: 9 } }])),
  );
  assert.equal(future.code, E.futureRevision);
  assert.equal(s.currentRevision, 4);
});

test("MvccStore txn: duplicate keys are rejected by etcd's interval rules", () => {
  // Proves ErrGRPCDuplicateKey for: the same key put twice; a put inside a delete range at the same
  // level; a put in a nested txn inside a parent's delete range; the same key put in the parent and
  // a nested txn; a nested delete range before a later nested put.
  const s = store();
  const dup = (t: TxnRequest): string => mustFail(s.txn(t)).code;
  assert.equal(dup(txn([], [put("k"), put("k")])), E.duplicateKey);
  assert.equal(dup(txn([], [del("a", "z"), put("k")])), E.duplicateKey);
  assert.equal(dup(txn([], [put("k"), del("k")])), E.duplicateKey);
  assert.equal(dup(txn([], [del("a", "z"), nested(txn([], [put("k")]))])), E.duplicateKey);
  assert.equal(dup(txn([], [put("k"), nested(txn([], [put("k")]))])), E.duplicateKey);
  assert.equal(dup(txn([], [nested(txn([], [del("k")])), nested(txn([], [put("k")]))])), E.duplicateKey);
  assert.equal(dup(txn([], [], [put("k"), put("k")])), E.duplicateKey, "the else branch is checked too");
  assert.equal(mvccErrorMessages[E.duplicateKey], "etcdserver: duplicate key given in txn request");
  assert.equal(s.currentRevision, 3);
});

test("MvccStore txn: allowed overlaps — then/else of one nested txn, overlapping deletes", () => {
  // Proves the cases etcd accepts: one key in both branches of a nested txn, and overlapping deletes.
  const s = store();
  must(s.txn(txn([], [nested(txn([], [put("k", "then")], [put("k", "else")]))])));
  assert.deepEqual(keysOf(must(s.range({ key: b("k") })).kvs), ["k"]);
  const r = must(s.txn(txn([], [del("a", "z"), del("a")])));
  assert.equal(s.currentRevision, r.revision);
  assert.equal(must(s.range({ key: b("a"), rangeEnd: b("z") })).count, 0);
  // Puts in the then and else branches of the top level are independent.
  must(s.txn(txn([], [put("m")], [put("m")])));
});

test("MvccStore txn: a nested put followed by a nested delete of the same key is allowed (etcd quirk)", () => {
  // Proves etcd's checkIntervals does not check earlier nested puts against later nested deletes;
  // the key changes twice in one revision and ends deleted.
  const s = store();
  const r = must(s.txn(txn([], [nested(txn([], [put("k")])), nested(txn([], [del("k")]))])));
  assert.equal(r.revision, 4);
  assert.equal(must(s.range({ key: b("k") })).count, 0);
});

test("MvccStore txn: a delete with range_end \\0 never conflicts with puts (etcd quirk)", () => {
  // Proves the literal-interval behaviour of etcd's duplicate check for "from key" deletes.
  const s = store();
  must(
    s.txn(
      txn([], [{ type: "deleteRange", request: { key: b("a"), rangeEnd: new Uint8Array([0]) } }, put("k")]),
    ),
  );
  assert.deepEqual(keysOf(must(s.range({ key: b("\0"), rangeEnd: new Uint8Array([0]) })).kvs), ["k"]);
});

test("MvccStore txn: at most txnOpsMax operations per level, nested txns use the remaining budget", () => {
  // Proves ErrGRPCTooManyOps for compares, success and failure lists, and for nested budgets.
  const s = new MvccStore({ limits: { txnOpsMax: 4 } });
  const many = (n: number): RequestOp[] => Array.from({ length: n }, (_, i) => put(`k${i}`));
  must(s.txn(txn([], many(4))));
  assert.equal(mustFail(s.txn(txn([], many(5)))).code, E.tooManyOps);
  assert.equal(mustFail(s.txn(txn([], [], many(5)))).code, E.tooManyOps);
  const compares: Compare[] = Array.from({ length: 5 }, () => ({
    key: b("a"),
    target: "version",
    result: "equal",
    value: 0,
  }));
  assert.equal(mustFail(s.txn(txn(compares, []))).code, E.tooManyOps);
  // Two ops at the top leave a budget of 2 for the nested level.
  must(s.txn(txn([], [put("x"), nested(txn([], [put("y1"), put("y2")]))])));
  assert.equal(mustFail(s.txn(txn([], [put("x"), nested(txn([], many(3)))]))).code, E.tooManyOps);
  assert.equal(mvccErrorMessages[E.tooManyOps], "etcdserver: too many operations in txn request");
  // The default is etcd's 128.
  const d = new MvccStore();
  must(d.txn(txn([], many(128))));
  assert.equal(mustFail(d.txn(txn([], many(129)))).code, E.tooManyOps);
});

test("MvccStore txn: an empty RequestOp is 'key not found', an empty compare key is 'key is not provided'", () => {
  // Proves etcd's checkRequestOp default case and the compare key check.
  const s = store();
  assert.equal(mustFail(s.txn(txn([], [{ type: "empty" }]))).code, E.keyNotFound);
  assert.equal(
    mustFail(s.txn(txn([{ key: new Uint8Array(0), target: "version", result: "equal", value: 0 }], []))).code,
    E.emptyKey,
  );
  assert.equal(mustFail(s.txn(txn([], [put("")]))).code, E.emptyKey);
});

test("MvccStore txn: a delete in a txn returns prev_kvs and a put returns prev_kv", () => {
  // Proves prev_kv options work inside txns the same as at the top level.
  const s = store();
  const r = must(
    s.txn(
      txn(
        [],
        [
          { type: "put", request: { key: b("a"), value: b("3"), prevKv: true } },
          { type: "deleteRange", request: { key: b("b0"), rangeEnd: b("b9"), prevKv: true } },
        ],
      ),
    ),
  );
  const [p, d] = r.responses;
  assert.ok(p?.type === "put" && d?.type === "deleteRange");
  assert.equal(p.response.prevKv === null ? "" : show(p.response.prevKv), "a=2@2/3/v2/l0");
  assert.equal(d.response.deleted, 0);
  assert.equal(p.response.revision, 4);
  assert.equal(d.response.revision, 4, "every write op reports the txn's revision");
});
