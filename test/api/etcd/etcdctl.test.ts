// etcdctl (Debian's etcd-client, etcd 3.4) against an in-process Synod API server over a
// LocalBackend. These tests fail, not skip, when etcdctl is missing.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { rmSync, statSync } from "node:fs";
import { after, before, test } from "node:test";
import { etcdctl, startServer, type TestServer, waitFor } from "./helpers.js";

let srv: TestServer;
const ctl = (args: string[], input?: string) => etcdctl(srv.endpoint, args, input);

/** Runs etcdctl and asserts success and exact stdout. */
async function ok(args: string[], stdout: string, input?: string): Promise<void> {
  const r = await ctl(args, input);
  assert.equal(r.code, 0, `etcdctl ${args.join(" ")} failed: ${r.stderr}`);
  assert.equal(r.stdout, stdout, `etcdctl ${args.join(" ")}`);
}

/** Runs etcdctl and asserts failure with `error` as its last stderr line. */
async function fails(args: string[], error: string, input?: string): Promise<void> {
  const r = await ctl(args, input);
  assert.notEqual(r.code, 0, `etcdctl ${args.join(" ")} should fail`);
  assert.equal(r.stderr.trim().split("\n").at(-1), error, `etcdctl ${args.join(" ")}`);
}

before(async () => {
  srv = await startServer();
});
after(async () => {
  await srv.close();
});

test("etcdctl: put/get/del with --prefix, --from-key, --limit, --sort-by, --print-value-only, --rev", async () => {
  // Proves the KV service's range options reach the store and come back as etcdctl prints them.
  for (const k of ["a", "b", "c", "d"]) await ok(["put", `/p/${k}`, `v${k}`], "OK\n");
  await ok(["get", "/p/a"], "/p/a\nva\n");
  await ok(["get", "/p", "--prefix", "--limit=2"], "/p/a\nva\n/p/b\nvb\n");
  await ok(["get", "/p/c", "--from-key", "--keys-only"], "/p/c\n\n/p/d\n\n");
  await ok(
    ["get", "/p", "--prefix", "--sort-by=MODIFY", "--order=DESCEND", "--print-value-only"],
    "vd\nvc\nvb\nva\n",
  );
  await ok(["put", "/p/a", "new"], "OK\n");
  await ok(["get", "/p/a", "--rev=2"], "/p/a\nva\n");
  await ok(["get", "/p/a"], "/p/a\nnew\n");
  await ok(["get", "/p/zz"], "");
  await ok(["del", "/p/d"], "1\n");
  await ok(["del", "/p/nothing"], "0\n");
});

test("etcdctl: get -w json carries the header, base64 keys, revisions and the full count", async () => {
  // Proves the response header and key-value fields, and that count ignores --limit.
  const r = await ctl(["get", "/p", "--prefix", "--limit=1", "-w", "json"]);
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as {
    header: { revision: number; raft_term: number };
    kvs: { key: string; value: string; create_revision: number; mod_revision: number; version: number }[];
    more: boolean;
    count: number;
  };
  assert.equal(j.header.revision, srv.backend.store.currentRevision);
  assert.equal(j.header.raft_term, 1);
  assert.deepEqual(j.kvs, [
    { key: btoa("/p/a"), create_revision: 2, mod_revision: 6, version: 2, value: btoa("new") },
  ]);
  assert.equal(j.more, true);
  assert.equal(j.count, 3);
});

test("etcdctl: txn from stdin takes the success or failure branch; duplicate keys are refused", async () => {
  // Proves Txn compares, both branches and etcd's duplicate-key error text.
  await ok(["txn"], "SUCCESS\n\nOK\n", 'value("/p/a") = "new"\n\nput /t yes\n\nput /t no\n\n');
  await ok(["get", "/t", "--print-value-only"], "yes\n");
  await ok(["txn"], "FAILURE\n\nOK\n", 'mod("/p/a") < "2"\n\nput /t yes\n\nput /t no\n\n');
  await ok(["get", "/t", "--print-value-only"], "no\n");
  await fails(["txn"], "Error: etcdserver: duplicate key given in txn request", "\nput /x 1\nput /x 2\n\n\n");
});

test("etcdctl: watch --prev-kv streams PUT and DELETE events while another process writes", async () => {
  // Proves the Watch stream: created before events, prev_kv filled, DELETE events, and that
  // cancelling the client (killing etcdctl) cleans up the server-side watcher.
  const watcher = spawn("etcdctl", [`--endpoints=${srv.endpoint}`, "watch", "/w", "--prev-kv"], {
    env: { ...process.env, ETCDCTL_API: "3" },
  });
  let out = "";
  watcher.stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  try {
    await waitFor(() => srv.backend.store.watchHub.watcherCount === 1, 5000, "the watcher");
    await ok(["put", "/w", "1"], "OK\n");
    await ok(["put", "/w", "2"], "OK\n");
    await ok(["del", "/w"], "1\n");
    const expected = "PUT\n/w\n1\nPUT\n/w\n1\n/w\n2\nDELETE\n/w\n2\n/w\n\n";
    await waitFor(() => out.length >= expected.length, 5000, "watch output");
    assert.equal(out, expected);
  } finally {
    watcher.kill("SIGTERM");
  }
  await waitFor(() => srv.backend.store.watchHub.watcherCount === 0, 5000, "the watcher to go away");
});

test("etcdctl: endpoints given as http:// URLs work (the Go client's URL :authority is accepted)", async () => {
  // Proves the :authority rewriting for etcd 3.4's client: unary calls, a value larger than an
  // HTTP/2 frame in both directions, and a watch stream through one URL endpoint (the cluster
  // tests cover --cluster, which dials the advertised http:// client URLs).
  const url = `http://${srv.endpoint}`;
  const big = "v".repeat(100_000);
  const put = await etcdctl(url, ["put", "/url/big"], big);
  assert.equal(put.code, 0, put.stderr);
  const get = await etcdctl(url, ["get", "/url/big", "--print-value-only"]);
  assert.equal(get.code, 0, get.stderr);
  assert.equal(get.stdout, `${big}\n`);
  const watcher = spawn("etcdctl", [`--endpoints=${url}`, "watch", "/url/w"], {
    env: { ...process.env, ETCDCTL_API: "3" },
  });
  let out = "";
  watcher.stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  try {
    await waitFor(() => srv.backend.store.watchHub.watcherCount === 1, 5000, "the watcher");
    assert.equal((await etcdctl(url, ["put", "/url/w", "x"])).code, 0);
    await waitFor(() => out === "PUT\n/url/w\nx\n", 5000, "watch output");
  } finally {
    watcher.kill("SIGTERM");
  }
});

test("etcdctl: lease grant, keep-alive, timetolive --keys, list and revoke", async () => {
  // Proves the Lease service end to end, including keys deleted with their lease.
  const grant = await ctl(["lease", "grant", "60"]);
  assert.equal(grant.code, 0, grant.stderr);
  const id = /lease ([0-9a-f]{16}) granted with TTL\(60s\)/.exec(grant.stdout)?.[1];
  assert.ok(id !== undefined, grant.stdout);
  await ok(["put", "/l/k", "v", `--lease=${id}`], "OK\n");
  await ok(["lease", "keep-alive", "--once", id], `lease ${id} keepalived with TTL(60)\n`);
  const ttl = await ctl(["lease", "timetolive", id, "--keys"]);
  assert.match(
    ttl.stdout,
    new RegExp(
      `^lease ${id} granted with TTL\\(60s\\), remaining\\(\\d+s\\), attached keys\\(\\[/l/k\\]\\)\\n$`,
    ),
  );
  await ok(["lease", "list"], `found 1 leases\n${id}\n`);
  await ok(["lease", "revoke", id], `lease ${id} revoked\n`);
  await ok(["get", "/l/k"], "");
  await ok(["lease", "timetolive", id], `lease ${id} already expired\n`);
  await ok(["lease", "list"], "found 0 leases\n");
});

test("etcdctl: endpoint status and health, member list, hashkv, alarm list", async () => {
  // Proves the Maintenance and Cluster read paths etcdctl uses.
  const status = await ctl(["endpoint", "status", "-w", "json"]);
  assert.equal(status.code, 0, status.stderr);
  const s = (
    JSON.parse(status.stdout) as {
      Status: { version: string; leader: number; header: { member_id: number } };
    }[]
  )[0];
  assert.equal(s?.Status.version, "3.5.0");
  assert.equal(s?.Status.leader, s?.Status.header.member_id);
  const health = await ctl(["endpoint", "health"]);
  assert.equal(health.code, 0, health.stderr);
  assert.match(health.stdout + health.stderr, /127\.0\.0\.1:\d+ is healthy: successfully committed proposal/);
  await ok(
    ["member", "list"],
    "8e9e05c52164694d, started, default, http://localhost:2380, http://localhost:2379, false\n",
  );
  const hash = await ctl(["endpoint", "hashkv"]);
  assert.match(hash.stdout, /^127\.0\.0\.1:\d+, \d+\n$/);
  await ok(["alarm", "list"], "");
});

test("etcdctl: snapshot save writes a file etcdctl verifies with its SHA-256", async () => {
  // Proves the Snapshot stream: chunks, 512-byte padding and the trailing SHA-256 etcdctl checks.
  const file = `/tmp/synod-etcdapi-snap-${process.pid}.db`;
  try {
    const r = await ctl(["snapshot", "save", file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Snapshot saved at/);
    assert.equal((statSync(file).size - 32) % 512, 0);
  } finally {
    rmSync(file, { force: true });
  }
});

test("etcdctl: compaction, then reads and watches below it fail with etcd's errors", async () => {
  // Proves Compact, ErrGRPCCompacted for ranges and watches, and ErrGRPCFutureRev.
  const rev = srv.backend.store.currentRevision;
  await ok(["compaction", String(rev - 1)], `compacted revision ${rev - 1}\n`);
  await fails(["get", "/p/a", "--rev=2"], "Error: etcdserver: mvcc: required revision has been compacted");
  await fails(["compaction", "2"], "Error: etcdserver: mvcc: required revision has been compacted");
  await fails(
    ["get", "/p/a", `--rev=${rev + 100}`],
    "Error: etcdserver: mvcc: required revision is a future revision",
  );
  const w = await ctl(["watch", "/p/a", "--rev=2"]);
  assert.notEqual(w.code, 0);
  assert.match(w.stderr, /watch was canceled \(etcdserver: mvcc: required revision has been compacted\)/);
});

test("etcdctl: bad input (unknown lease, oversized request, empty key) gets etcd's errors and the server keeps serving", async () => {
  // Proves error mapping for requests etcdctl can send, and that the server survives them.
  await fails(["put", "/k", "v", "--lease=1234"], "Error: etcdserver: requested lease not found");
  await fails(
    ["lease", "revoke", "1234"],
    "Error: failed to revoke lease (etcdserver: requested lease not found)",
  );
  await fails(["put", "/big"], "Error: etcdserver: request is too large", "x".repeat(1_600_000));
  await fails(["get", ""], "Error: etcdserver: key is not provided");
  await ok(["put", "/after", "ok"], "OK\n");
  await ok(["get", "/after", "--print-value-only"], "ok\n");
});
