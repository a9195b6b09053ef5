// Member and cluster ids are derived deterministically, so every member agrees without talking.
import assert from "node:assert/strict";
import { test } from "node:test";
import { clusterIdOf, hexId, memberIdOf } from "../../src/server/ids.js";

test("memberIdOf: same URLs and token give the same id; any difference gives another", () => {
  // Proves ids are a pure function of (sorted peer URLs, token), as etcd computes them.
  const a = memberIdOf(["http://127.0.0.1:2380"], "tok");
  assert.equal(memberIdOf(["http://127.0.0.1:2380"], "tok"), a);
  assert.notEqual(memberIdOf(["http://127.0.0.1:2381"], "tok"), a);
  assert.notEqual(memberIdOf(["http://127.0.0.1:2380"], "other"), a);
  assert.equal(memberIdOf(["http://b:1", "http://a:1"], "t"), memberIdOf(["http://a:1", "http://b:1"], "t"));
  assert.ok(Number.isSafeInteger(a) && a > 0);
});

test("clusterIdOf: a function of the cluster token; hexId renders etcd-style hex", () => {
  // Proves founding and joining members agree on the cluster id from their flags alone.
  assert.equal(clusterIdOf("tok"), clusterIdOf("tok"));
  assert.notEqual(clusterIdOf("tok"), clusterIdOf("other"));
  assert.equal(hexId(255), "ff");
  assert.equal(hexId(0x8e9e05c52164694dn), "8e9e05c52164694d");
});
