// Tests of the key-range permission checker (src/mvcc/authperm.ts): single keys, ranges, prefixes,
// from-key ("\0") grants and requests, unions of grants, and a property test against a naive model.
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { AuthStore, IntervalSet, intervalOf, type KeyInterval, prefixEnd } from "../../src/mvcc/mod.js";
import { b } from "./helpers.js";

const ZERO = new Uint8Array([0]);
const NONE = new Uint8Array(0);

/** A set of grants, each `[key, rangeEnd]` as text ("" = none, "\0" = from key). */
function grants(...gs: [string, string][]): IntervalSet {
  return new IntervalSet(gs.map(([k, e]) => intervalOf(b(k), b(e))));
}

/** Whether `set` covers the request `[key, rangeEnd]` (text, etcd range conventions). */
function allows(set: IntervalSet, key: string, rangeEnd = ""): boolean {
  return set.covers(intervalOf(b(key), b(rangeEnd)));
}

test("authperm: a single-key grant allows exactly that key", () => {
  // Proves an empty range_end in a permission is one key: not its neighbours, prefixes or extensions.
  const s = grants(["/app/cfg", ""]);
  assert.equal(allows(s, "/app/cfg"), true);
  assert.equal(allows(s, "/app/cfg\0"), false);
  assert.equal(allows(s, "/app/cf"), false);
  assert.equal(allows(s, "/app/cfh"), false);
  assert.equal(allows(s, "/app/cfg", "/app/cfg\0"), true, "the range holding only that key");
  assert.equal(allows(s, "/app/cfg", "/app/cfh"), false, "a range reaching past it");
});

test("authperm: a prefix grant covers keys and sub-ranges under the prefix, nothing beyond", () => {
  // Proves prefix permissions (range_end = prefixEnd) as etcdctl --prefix grants them.
  const s = new IntervalSet([intervalOf(b("/app/"), prefixEnd(b("/app/")))]);
  assert.equal(allows(s, "/app/"), true);
  assert.equal(allows(s, "/app/x/y"), true);
  assert.equal(allows(s, "/app/\xff"), true);
  assert.equal(allows(s, "/app0"), false, "the prefix end is excluded");
  assert.equal(allows(s, "/other/"), false);
  assert.equal(allows(s, "/app"), false);
  assert.equal(s.covers(intervalOf(b("/app/"), prefixEnd(b("/app/")))), true, "a prefix read");
  assert.equal(s.covers(intervalOf(b("/app/a"), b("/app/b"))), true, "a sub-range");
  assert.equal(allows(s, "/app/", "/app1"), false, "a range one byte past the prefix");
  assert.equal(allows(s, "/app/", "\0"), false, "a from-key read");
  assert.equal(allows(s, "\0", "\0"), false, "the whole key space");
});

test("authperm: from-key grants and requests use '\\0' as 'no upper bound'", () => {
  // Proves range_end "\0" is open-ended on both sides of the check, and key "\0"/"" with "\0" is everything.
  const from = grants(["m", "\0"]);
  assert.equal(allows(from, "m"), true);
  assert.equal(allows(from, "zzzz"), true);
  assert.equal(allows(from, "\xff\xff"), true);
  assert.equal(allows(from, "l"), false);
  assert.equal(allows(from, "m", "\0"), true);
  assert.equal(allows(from, "x", "\0"), true);
  assert.equal(allows(from, "l", "\0"), false);
  assert.equal(allows(from, "\0", "\0"), false);
  for (const all of [grants(["", "\0"]), grants(["\0", "\0"])]) {
    assert.equal(allows(all, "\0", "\0"), true, "every key");
    assert.equal(allows(all, "a"), true);
    assert.equal(allows(all, "\0"), true);
  }
  // A bounded grant never covers an open-ended request, however large.
  assert.equal(allows(grants(["a", "\xff\xff\xff"]), "b", "\0"), false);
});

test("authperm: the union of grants must cover a range completely", () => {
  // Proves etcd's interval-tree Contains semantics: touching grants join, a gap refuses the range.
  const touching = grants(["a", "c"], ["c", "e"]);
  assert.equal(allows(touching, "a", "e"), true);
  assert.equal(allows(touching, "b", "d"), true);
  assert.equal(touching.size, 1, "merged into one interval");
  const gap = grants(["a", "c"], ["d", "e"]);
  assert.equal(allows(gap, "a", "e"), false);
  assert.equal(allows(gap, "a", "c"), true);
  assert.equal(allows(gap, "c"), false, "the gap's first key");
  assert.equal(allows(gap, "d", "e"), true);
  const overlapping = grants(["b", "x"], ["a", "c"], ["w", "\0"]);
  assert.equal(allows(overlapping, "a", "\0"), true);
  assert.equal(overlapping.size, 1);
  assert.equal(allows(grants(), "a"), false, "no grants allow nothing");
});

test("authperm: an empty or inverted request range still needs its first key", () => {
  // Proves a request that selects nothing is not a free pass: it is checked as its start key.
  assert.equal(allows(grants(["k", ""]), "k", "a"), true);
  assert.equal(allows(grants(["j", ""]), "k", "a"), false);
  assert.equal(allows(grants(["k", ""]), "k", "k"), true);
});

test("authperm: covers agrees with a naive model (fast-check, fixed seed)", () => {
  // Proves the merged-interval binary search against a direct definition: walk from the request's
  // start through grants that contain the current point until the request's end is passed.
  const alphabet = ["\0", "a", "b", "\xff"];
  const keyArb = fc
    .array(fc.constantFrom(...alphabet), { minLength: 0, maxLength: 3 })
    .map((cs) => cs.join(""));
  const rangeArb = fc.tuple(keyArb, fc.oneof(fc.constant(""), fc.constant("\0"), keyArb));
  fc.assert(
    fc.property(fc.array(rangeArb, { maxLength: 5 }), rangeArb, (gs, [rk, re]) => {
      const ivs = gs.map(([k, e]) => intervalOf(b(k), b(e)));
      const req = intervalOf(b(rk), b(re));
      assert.equal(new IntervalSet(ivs).covers(req), naiveCovers(ivs, req), JSON.stringify({ gs, rk, re }));
    }),
    { seed: 20240817, numRuns: 3000 },
  );
});

/** Coverage by definition: extend the covered prefix of the request grant by grant. */
function naiveCovers(ivs: readonly KeyInterval[], req: KeyInterval): boolean {
  let reach = req.start;
  for (;;) {
    if (req.end !== null && reach >= req.end) return true;
    const containing = ivs.filter((iv) => iv.start <= reach && (iv.end === null || iv.end > reach));
    if (containing.length === 0) return false;
    if (containing.some((iv) => iv.end === null)) return true;
    const ends = containing.map((iv) => iv.end as string).sort();
    reach = ends[ends.length - 1] as string;
  }
}

test("AuthStore.isPermitted: roles merge, types separate, root bypasses, unknown users get nothing", () => {
  // Proves permission checks through users and roles: READ and WRITE grants are separate, READWRITE
  // counts for both, a user's roles are merged, the root role allows everything.
  const a = new AuthStore();
  const ok = <T>(r: { ok: boolean; value?: T }) => assert.equal(r.ok, true);
  ok(a.apply({ type: "roleAdd", name: "r" }, 1));
  ok(a.apply({ type: "roleAdd", name: "w" }, 2));
  ok(
    a.apply(
      {
        type: "roleGrantPermission",
        name: "r",
        permission: { type: "read", key: b("/app/"), rangeEnd: prefixEnd(b("/app/")) },
      },
      3,
    ),
  );
  ok(
    a.apply(
      {
        type: "roleGrantPermission",
        name: "w",
        permission: { type: "readwrite", key: b("/tmp"), rangeEnd: ZERO },
      },
      4,
    ),
  );
  ok(a.apply({ type: "userAdd", name: "u", passwordHash: "h", noPassword: false }, 5));
  ok(a.apply({ type: "userGrantRole", user: "u", role: "r" }, 6));
  assert.equal(a.isPermitted("u", b("/app/x"), NONE, "read"), true);
  assert.equal(a.isPermitted("u", b("/app/x"), NONE, "write"), false);
  assert.equal(a.isPermitted("u", b("/tmp/x"), NONE, "read"), false);
  ok(a.apply({ type: "userGrantRole", user: "u", role: "w" }, 7));
  assert.equal(a.isPermitted("u", b("/tmp/x"), NONE, "write"), true, "the grant is seen after the change");
  assert.equal(a.isPermitted("u", b("/tmp"), ZERO, "read"), true);
  assert.equal(a.isPermitted("nobody", b("/app/x"), NONE, "read"), false);
  ok(a.apply({ type: "userAdd", name: "boss", passwordHash: "h", noPassword: false }, 8));
  ok(a.apply({ type: "userGrantRole", user: "boss", role: "root" }, 9));
  assert.equal(a.isPermitted("boss", ZERO, ZERO, "write"), true);
  assert.equal(a.isRoot("boss"), true);
  assert.equal(a.isRoot("u"), false);
});
