// Debian's etcdctl (etcd 3.4) against a real three-member Synod cluster (separate processes on
// 127.0.0.1): a table of commands with asserted output, requests spread over leader and
// followers. One cluster serves the whole file; every process is killed in `after`.
import assert from "node:assert/strict";
import { readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { clusterIdOf } from "../../src/server/ids.js";
import {
  etcdctl,
  freePort,
  type ProcessCluster,
  type ProcessMember,
  waitFor,
} from "../../src/testing/procs.js";
import {
  etcdctlIn,
  foundersOf,
  initialClusterOf,
  type JsonHeader,
  killAllCtl,
  leaderHex,
  memberIds,
  parseExact,
  sleep,
  spawnCtl,
  startThree,
  statusOf,
  stopCtl,
  waitForOutput,
  within,
} from "./clusterhelpers.js";

let c: ProcessCluster;
let m1: ProcessMember;
let m2: ProcessMember;
let m3: ProcessMember;
/** All three founders' endpoints. */
let all: string;

before(async () => {
  c = await startThree(1);
  [m1, m2, m3] = foundersOf(c);
  all = c.endpoints([m1, m2, m3]);
});

after(async () => {
  await killAllCtl();
  await c?.destroy();
});

const ep = (m: ProcessMember): string => c.endpoints([m]);

/** Runs etcdctl against `endpoints` and asserts success and exact stdout. */
async function ok(endpoints: string, args: string[], stdout: string): Promise<void> {
  const r = await etcdctl(endpoints, args);
  assert.equal(r.code, 0, `etcdctl ${args.join(" ")} failed: ${r.stderr}`);
  assert.equal(r.stdout, stdout, `etcdctl ${args.join(" ")}`);
}

/** Runs etcdctl against `endpoints` and asserts failure with `error` as the last stderr line. */
async function fails(endpoints: string, args: string[], error: string): Promise<void> {
  const r = await etcdctl(endpoints, args);
  assert.notEqual(r.code, 0, `etcdctl ${args.join(" ")} should fail`);
  assert.equal(r.stderr.trim().split("\n").at(-1), error, `etcdctl ${args.join(" ")}`);
}

/** The current leader and the two followers (bounded wait for a leader every member agrees on). */
async function roles(): Promise<{ leader: ProcessMember; followers: [ProcessMember, ProcessMember] }> {
  let leader: ProcessMember | undefined;
  await waitFor(
    "a leader every member agrees on",
    async () => {
      const ids = await memberIds(all);
      const seen = await Promise.all([m1, m2, m3].map((m) => leaderHex(ep(m))));
      const agreed = seen[0];
      if (agreed === null || agreed === undefined || seen.some((s) => s !== agreed)) return false;
      leader = [m1, m2, m3].find((m) => ids.get(m.clientPort) === agreed);
      return leader !== undefined;
    },
    10_000,
  );
  const l = leader;
  assert.ok(l !== undefined);
  const [f1, f2] = [m1, m2, m3].filter((m) => m !== l);
  assert.ok(f1 !== undefined && f2 !== undefined);
  return { leader: l, followers: [f1, f2] };
}

test("etcdctl put/get/del on a cluster: --prefix, --from-key, --limit, --sort-by, --print-value-only, --rev", async () => {
  // Proves the KV range options through real processes, each request on a different member:
  // writes through one member are read on the others, history (--rev) included.
  const members = [m1, m2, m3];
  for (const [i, k] of ["a", "b", "c", "d"].entries()) {
    await ok(ep(members[i % 3] ?? m1), ["put", `/p/${k}`, `v${k}`], "OK\n");
  }
  await ok(ep(m2), ["get", "/p/a"], "/p/a\nva\n");
  await ok(ep(m3), ["get", "/p", "--prefix", "--limit=2"], "/p/a\nva\n/p/b\nvb\n");
  await ok(ep(m1), ["get", "/p/c", "--from-key", "--keys-only", "--limit=2"], "/p/c\n\n/p/d\n\n");
  await ok(
    ep(m2),
    ["get", "/p", "--prefix", "--sort-by=MODIFY", "--order=DESCEND", "--print-value-only"],
    "vd\nvc\nvb\nva\n",
  );
  await ok(
    ep(m3),
    ["get", "/p", "--prefix", "--sort-by=VALUE", "--order=ASCEND", "--keys-only"],
    "/p/a\n\n/p/b\n\n/p/c\n\n/p/d\n\n",
  );
  const original = parseExact((await etcdctl(ep(m1), ["get", "/p/a", "-w", "json"])).stdout) as {
    kvs: { mod_revision: number }[];
  };
  const oldRev = original.kvs[0]?.mod_revision;
  assert.ok(oldRev !== undefined);
  await ok(ep(m3), ["put", "/p/a", "new"], "OK\n");
  await ok(ep(m2), ["get", "/p/a", `--rev=${oldRev}`], "/p/a\nva\n");
  await ok(ep(m1), ["get", "/p/a", "--print-value-only"], "new\n");
  await ok(ep(m1), ["get", "/p/zz"], "");
  await ok(ep(m2), ["del", "/p/d"], "1\n");
  await ok(ep(m3), ["del", "/p/nothing"], "0\n");
  // Keys from /p/b on: /p/b, /p/c and the /ready key the cluster start wrote.
  await ok(ep(m1), ["del", "/p/b", "--from-key", "--prev-kv"], "3\n/p/b\nvb\n/p/c\nvc\n/ready\n1\n");
  await ok(ep(m2), ["del", "/p", "--prefix"], "1\n");
  await ok(ep(m3), ["get", "/p", "--prefix"], "");
});

test("etcdctl -w json on a cluster: headers carry the cluster id, the answering member's id, the revision and the raft term", async () => {
  // Proves ResponseHeader on every member: one cluster id (derived from the token), each
  // member's own id, the revision of the last write, and the term the member reports in Status.
  const put = parseExact((await etcdctl(ep(m1), ["put", "/j/k", "v1", "-w", "json"])).stdout) as {
    header: JsonHeader;
  };
  const rev = put.header.revision;
  const ids = await memberIds(all);
  for (const m of [m1, m2, m3]) {
    const r = await etcdctl(ep(m), ["get", "/j/k", "-w", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const j = parseExact(r.stdout) as {
      header: JsonHeader;
      kvs: { key: string; value: string; create_revision: number; mod_revision: number; version: number }[];
      count: number;
    };
    assert.equal(BigInt(j.header.cluster_id), clusterIdOf(c.token), `cluster_id from ${m.name}`);
    assert.equal(BigInt(j.header.member_id).toString(16), ids.get(m.clientPort), `member_id from ${m.name}`);
    assert.equal(j.header.revision, rev, `revision from ${m.name}`);
    const status = (await statusOf(ep(m)))?.[0]?.Status;
    assert.ok(status !== undefined);
    assert.ok(j.header.raft_term >= 2, "a term after the first election");
    assert.equal(j.header.raft_term, status.raftTerm, `raft_term from ${m.name}`);
    assert.deepEqual(j.kvs, [
      { key: btoa("/j/k"), create_revision: rev, mod_revision: rev, version: 1, value: btoa("v1") },
    ]);
    assert.equal(j.count, 1);
  }
});

test("etcdctl txn on a cluster: interactive input on stdin, both branches, and etcd's duplicate-key error", async () => {
  // Proves Txn through a follower and the leader: compares, the success branch with a read, the
  // failure branch, and that the result is replicated.
  const { leader, followers } = await roles();
  await ok(ep(leader), ["put", "/t/a", "1"], "OK\n");
  const yes = await etcdctlIn(
    ep(followers[0]),
    ["txn"],
    'value("/t/a") = "1"\n\nget /t/a\nput /t/r yes\n\nput /t/r no\n\n',
  );
  assert.equal(yes.code, 0, yes.stderr);
  assert.equal(yes.stdout, "SUCCESS\n\n/t/a\n1\n\nOK\n");
  await ok(ep(followers[1]), ["get", "/t/r", "--print-value-only"], "yes\n");
  const no = await etcdctlIn(
    ep(leader),
    ["txn"],
    'mod("/t/a") < "2"\nversion("/t/a") = "1"\n\nput /t/r yes\n\nput /t/r no\ndel /t/a\n\n',
  );
  assert.equal(no.code, 0, no.stderr);
  assert.equal(no.stdout, "FAILURE\n\nOK\n\n1\n");
  await ok(ep(followers[0]), ["get", "/t", "--prefix"], "/t/r\nno\n");
  const dup = await etcdctlIn(ep(followers[1]), ["txn"], "\nput /t/x 1\nput /t/x 2\n\n\n");
  assert.notEqual(dup.code, 0);
  assert.equal(dup.stderr.trim().split("\n").at(-1), "Error: etcdserver: duplicate key given in txn request");
});

test("etcdctl watch --prev-kv on one member streams the writes made through the other members", async () => {
  // Proves the Watch stream across members: a watcher on m1 sees PUT and DELETE events with
  // previous values for writes proposed through m2 and m3, in order, with nothing extra.
  const w = spawnCtl(ep(m1), ["watch", "/w", "--prefix", "--prev-kv"]);
  // The watch is created asynchronously: write a marker until the watcher prints it.
  let marker = 0;
  await waitFor(
    "the watcher to see a marker",
    async () => {
      marker++;
      await ok(ep(m3), ["put", "/w/marker", String(marker)], "OK\n");
      await sleep(200);
      return w.out.endsWith(`/w/marker\n${marker}\n`);
    },
    10_000,
  );
  const start = w.out.length;
  await ok(ep(m3), ["put", "/w/x", "1"], "OK\n");
  await ok(ep(m2), ["put", "/w/x", "2"], "OK\n");
  await ok(ep(m3), ["del", "/w/x"], "1\n");
  const expected = "PUT\n/w/x\n1\nPUT\n/w/x\n1\n/w/x\n2\nDELETE\n/w/x\n2\n/w/x\n\n";
  await waitFor("the watch events", () => Promise.resolve(w.out.length - start >= expected.length), 5000);
  await sleep(100);
  assert.equal(w.out.slice(start), expected);
  assert.equal(w.exited, false, `the watcher is still running: ${w.err}`);
  await stopCtl(w, "SIGTERM");
});

test("etcdctl lease on a cluster: grant, keep-alive --once and timetolive --keys through followers, list, revoke, expiry", async () => {
  // Proves the Lease service with keep-alive and time-to-live answered for followers by the
  // leader, lists and revokes on every member, and the leader expiring an unrenewed lease.
  const { leader, followers } = await roles();
  const [f1, f2] = followers;
  const grant = await etcdctl(ep(f1), ["lease", "grant", "60"]);
  assert.equal(grant.code, 0, grant.stderr);
  const id = /^lease ([0-9a-f]{16}) granted with TTL\(60s\)\n$/.exec(grant.stdout)?.[1];
  assert.ok(id !== undefined, grant.stdout);
  await ok(ep(leader), ["put", "/l/k", "v", `--lease=${id}`], "OK\n");
  await ok(ep(f2), ["lease", "keep-alive", "--once", id], `lease ${id} keepalived with TTL(60)\n`);
  await ok(ep(f1), ["lease", "keep-alive", "--once", id], `lease ${id} keepalived with TTL(60)\n`);
  for (const m of [f1, f2, leader]) {
    const ttl = await etcdctl(ep(m), ["lease", "timetolive", id, "--keys"]);
    assert.equal(ttl.code, 0, ttl.stderr);
    const remaining =
      /^lease [0-9a-f]{16} granted with TTL\(60s\), remaining\((\d+)s\), attached keys\(\[\/l\/k\]\)\n$/.exec(
        ttl.stdout,
      )?.[1];
    assert.ok(remaining !== undefined, `timetolive on ${m.name}: ${ttl.stdout}`);
    assert.ok(Number(remaining) >= 55 && Number(remaining) <= 60, `remaining ${remaining}`);
  }
  for (const m of [f1, f2, leader]) await ok(ep(m), ["lease", "list"], `found 1 leases\n${id}\n`);
  await ok(ep(f2), ["lease", "revoke", id], `lease ${id} revoked\n`);
  await ok(ep(f1), ["get", "/l/k"], "");
  await ok(ep(f1), ["lease", "timetolive", id], `lease ${id} already expired\n`);
  await fails(ep(f2), ["lease", "keep-alive", "--once", id], "Error: etcdserver: requested lease not found");
  await fails(
    ep(f1),
    ["lease", "revoke", id],
    "Error: failed to revoke lease (etcdserver: requested lease not found)",
  );
  for (const m of [f1, f2, leader]) await ok(ep(m), ["lease", "list"], "found 0 leases\n");
  // An unrenewed lease expires on the leader's clock and takes its key with it.
  const short = /lease ([0-9a-f]{16}) granted/.exec(
    (await etcdctl(ep(f2), ["lease", "grant", "2"])).stdout,
  )?.[1];
  assert.ok(short !== undefined);
  await ok(ep(f1), ["put", "/l/short", "v", `--lease=${short}`], "OK\n");
  const granted = Date.now();
  await waitFor(
    "the short lease to expire",
    async () => (await etcdctl(ep(f2), ["get", "/l/short"])).stdout === "",
    8000,
  );
  assert.ok(Date.now() - granted >= 1000, "not expired long before its TTL");
  await ok(ep(leader), ["lease", "timetolive", short], `lease ${short} already expired\n`);
});

test("etcdctl lock on a cluster: a competing process gets the lock only after the holder exits", async () => {
  // Proves etcdctl's mutex recipe (lease, create-revision order, watch on the predecessor's key)
  // across members: the waiter blocks while the holder lives, and gets the lock when the holder
  // exits gracefully (unlock) and when it is SIGKILLed (its session lease expires).
  const a = spawnCtl(ep(m1), ["lock", "/locks/one"]);
  await waitForOutput(a, "/locks/one/");
  const b = spawnCtl(ep(m2), ["lock", "/locks/one"]);
  await sleep(1500);
  assert.equal(b.out, "", "the second locker waits while the first holds the lock");
  await stopCtl(a, "SIGINT");
  await waitForOutput(b, "/locks/one/");
  assert.notEqual(b.out, a.out, "each holder owns its own key");
  await stopCtl(b, "SIGINT");
  await ok(ep(m3), ["get", "/locks/one", "--prefix", "--keys-only"], "");

  const h = spawnCtl(ep(m3), ["lock", "--ttl=2", "/locks/two"]);
  await waitForOutput(h, "/locks/two/");
  const waiter = spawnCtl(ep(m1), ["lock", "/locks/two"]);
  await sleep(1000);
  assert.equal(waiter.out, "", "the waiter waits while the holder lives");
  await stopCtl(h, "SIGKILL");
  await waitForOutput(waiter, "/locks/two/", 8000);
  await stopCtl(waiter, "SIGINT");
});

test("etcdctl lock with a command: critical sections of competing processes never overlap", async () => {
  // Proves mutual exclusion with etcdctl's exec form: each process runs its command while
  // holding the lock; the shared log shows one section ending before the next begins.
  const log = join(c.root, "lock-sections.log");
  const section = (name: string): string[] => [
    "lock",
    "/locks/exec",
    "--",
    "sh",
    "-c",
    `echo ${name}-in >> ${log}; sleep 0.7; echo ${name}-out >> ${log}`,
  ];
  const procs = [
    spawnCtl(ep(m1), section("a")),
    spawnCtl(ep(m2), section("b")),
    spawnCtl(ep(m3), section("c")),
  ];
  await within(Promise.all(procs.map((p) => p.exit)), 15_000, "the three lock holders finishing");
  for (const p of procs) assert.equal(p.proc.exitCode, 0, p.err);
  const lines = readFileSync(log, "utf8").trim().split("\n");
  assert.equal(lines.length, 6, lines.join(" "));
  for (let i = 0; i < 6; i += 2) {
    const name = lines[i]?.replace("-in", "");
    assert.equal(lines[i], `${name}-in`);
    assert.equal(lines[i + 1], `${name}-out`, `section ${i / 2}: ${lines.join(" ")}`);
  }
  assert.deepEqual(new Set(lines), new Set(["a-in", "a-out", "b-in", "b-out", "c-in", "c-out"]));
});

test("etcdctl elect on a cluster: the second candidate leads only after the first resigns, and an observer sees both", async () => {
  // Proves etcdctl's election recipe across members: one leader at a time, the waiting
  // candidate elected when the leader resigns (SIGINT), and `elect -l` reporting each change.
  const observer = spawnCtl(ep(m3), ["elect", "-l", "/elect/e"]);
  const a = spawnCtl(ep(m1), ["elect", "/elect/e", "alpha"]);
  await waitForOutput(a, "\nalpha\n");
  const b = spawnCtl(ep(m2), ["elect", "/elect/e", "beta"]);
  await waitForOutput(observer, "\nalpha\n");
  await sleep(1000);
  assert.equal(b.out, "", "the second candidate waits while the first leads");
  const aKey = a.out.split("\n")[0] ?? "";
  assert.match(aKey, /^\/elect\/e\/[0-9a-f]+$/);
  await stopCtl(a, "SIGINT");
  await waitForOutput(b, "\nbeta\n");
  const bKey = b.out.split("\n")[0] ?? "";
  assert.match(bKey, /^\/elect\/e\/[0-9a-f]+$/);
  assert.notEqual(bKey, aKey);
  await waitForOutput(observer, "\nbeta\n");
  assert.equal(observer.out, `${aKey}\nalpha\n${bKey}\nbeta\n`);
  await stopCtl(b, "SIGINT");
  await stopCtl(observer, "SIGINT");
});

test("etcdctl endpoint health --cluster: every member is healthy", async () => {
  // Proves the health check (a quorum read through each member) on every member's client URL.
  const r = await etcdctl(ep(m2), ["endpoint", "health", "--cluster"]);
  assert.equal(r.code, 0, r.stderr);
  // etcdctl 3.4 prints each endpoint's result on stderr, as on a real etcd cluster.
  const lines = r.stderr.split("\n").filter((l) => l.includes(" is healthy: "));
  assert.equal(lines.length, 3, r.stderr);
  for (const m of [m1, m2, m3]) {
    assert.ok(
      lines.some((l) =>
        new RegExp(
          `^http://127\\.0\\.0\\.1:${m.clientPort} is healthy: successfully committed proposal: took = `,
        ).test(l),
      ),
      `${m.name} healthy in:\n${r.stderr}`,
    );
  }
});

test("etcdctl endpoint status and hashkv, listed and --cluster: one leader, one hash", async () => {
  // Proves Status and HashKV on every member, through the endpoints listed (host:port) and through
  // --cluster, which dials each member's advertised http:// client URL from the member list.
  const s = await statusOf(all);
  assert.ok(s !== null && s.length === 3);
  assert.equal(new Set(s.map((x) => String(x.Status.leader))).size, 1);
  assert.equal(s.filter((x) => String(x.Status.leader) === String(x.Status.header.member_id)).length, 1);
  const urls = [m1, m2, m3].map((m) => `http://127.0.0.1:${m.clientPort}`).sort();
  const sc = await etcdctl(ep(m2), ["endpoint", "status", "--cluster", "-w", "json"]);
  assert.equal(sc.code, 0, sc.stderr);
  const rows = JSON.parse(sc.stdout) as {
    Endpoint: string;
    Status: { leader: unknown; header: { member_id: unknown } };
  }[];
  assert.deepEqual(rows.map((r) => r.Endpoint).sort(), urls);
  assert.equal(rows.filter((r) => String(r.Status.leader) === String(r.Status.header.member_id)).length, 1);
  for (const args of [
    ["endpoint", "hashkv"],
    ["endpoint", "hashkv", "--cluster"],
  ]) {
    const h = await etcdctl(args.length === 3 ? ep(m1) : all, args);
    assert.equal(h.code, 0, h.stderr);
    const lines = h.stdout.trim().split("\n");
    assert.equal(lines.length, 3, h.stdout);
    assert.equal(new Set(lines.map((l) => l.split(", ")[1])).size, 1, h.stdout);
    if (args.length === 3) assert.deepEqual(lines.map((l) => l.split(", ")[0]).sort(), urls);
  }
});

test("etcdctl snapshot save from a follower writes a verified, non-empty file", async () => {
  // Proves the Snapshot stream from a real member (etcdctl checks the trailing SHA-256).
  const { followers } = await roles();
  const file = join(c.root, "backup.db");
  const r = await etcdctl(ep(followers[0]), ["snapshot", "save", file], "10s");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `Snapshot saved at ${file}\n`);
  assert.ok(statSync(file).size > 32, "more than the checksum");
  rmSync(file);
});

test("etcdctl compaction on a cluster: reads below the compacted revision fail on every member", async () => {
  // Proves Compact is replicated: every member then refuses older revisions with etcd's text.
  await ok(ep(m1), ["put", "/c/k", "old"], "OK\n");
  const first = parseExact((await etcdctl(ep(m1), ["get", "/c/k", "-w", "json"])).stdout) as {
    header: JsonHeader;
  };
  const oldRev = first.header.revision;
  await ok(ep(m2), ["put", "/c/k", "new"], "OK\n");
  const now = (
    parseExact((await etcdctl(ep(m3), ["get", "/c/k", "-w", "json"])).stdout) as { header: JsonHeader }
  ).header.revision;
  await ok(ep(m2), ["get", "/c/k", `--rev=${oldRev}`, "--print-value-only"], "old\n");
  await ok(ep(m3), ["compaction", String(now)], `compacted revision ${now}\n`);
  for (const m of [m1, m2, m3]) {
    await fails(
      ep(m),
      ["get", "/c/k", `--rev=${oldRev}`],
      "Error: etcdserver: mvcc: required revision has been compacted",
    );
    await ok(ep(m), ["get", "/c/k", `--rev=${now}`, "--print-value-only"], "new\n");
  }
  await fails(
    ep(m1),
    ["compaction", String(oldRev)],
    "Error: etcdserver: mvcc: required revision has been compacted",
  );
});

test("etcdctl move-leader on a cluster: leadership moves to the chosen follower", async () => {
  // Proves MoveLeader (Raft leadership transfer) found through the endpoint list, and etcd's
  // error for a transferee that is not a member.
  const { leader, followers } = await roles();
  const ids = await memberIds(all);
  const from = ids.get(leader.clientPort);
  const to = ids.get(followers[1].clientPort);
  assert.ok(from !== undefined && to !== undefined);
  await ok(all, ["move-leader", to], `Leadership transferred from ${from} to ${to}\n`);
  const moved = await roles();
  assert.equal(moved.leader, followers[1]);
  await ok(ep(leader), ["put", "/ml/k", "v"], "OK\n");
  await fails(all, ["move-leader", "1234"], "Error: etcdserver: bad leader transferee");
});

test("etcdctl alarm list on a cluster: no alarms on any member", async () => {
  // Proves the Alarm GET path: nothing raised, nothing printed, success.
  for (const m of [m1, m2, m3]) await ok(ep(m), ["alarm", "list"], "");
});

test("etcdctl member list / add / remove / add --learner / promote on a cluster", async () => {
  // Proves runtime membership through etcdctl: the list's format, adding a voter that never
  // starts and removing it, and a learner that starts with state `existing`, catches up and is
  // promoted to a voter that serves reads and writes.
  const spare = c.members[3];
  assert.ok(spare !== undefined);
  const ids = await memberIds(all);
  const cid = clusterIdOf(c.token).toString(16);
  const list = (await etcdctl(ep(m2), ["member", "list"])).stdout.trim().split("\n").sort();
  assert.deepEqual(
    list,
    [m1, m2, m3]
      .map(
        (m) =>
          `${ids.get(m.clientPort)}, started, ${m.name}, http://127.0.0.1:${m.peerPort}, http://127.0.0.1:${m.clientPort}, false`,
      )
      .sort(),
  );

  // A voter that is never started: added, listed as unstarted, removed again.
  const ghostUrl = `http://127.0.0.1:${await freePort()}`;
  const add = await etcdctl(all, ["member", "add", "ghost", `--peer-urls=${ghostUrl}`]);
  assert.equal(add.code, 0, add.stderr);
  const ghost = new RegExp(`^Member\\s+([0-9a-f]+) added to cluster\\s+${cid}\\n`).exec(add.stdout)?.[1];
  assert.ok(ghost !== undefined, add.stdout);
  assert.match(add.stdout, /\nETCD_NAME="ghost"\n/);
  assert.match(
    add.stdout,
    new RegExp(`\nETCD_INITIAL_ADVERTISE_PEER_URLS="${ghostUrl}"\nETCD_INITIAL_CLUSTER_STATE="existing"\n$`),
  );
  const withGhost = (await etcdctl(ep(m3), ["member", "list"])).stdout;
  assert.ok(withGhost.includes(`${ghost}, unstarted, , ${ghostUrl}, , false\n`), withGhost);
  await ok(
    all,
    ["member", "remove", ghost],
    `Member ${ghost.padStart(16)} removed from cluster ${cid.padStart(16)}\n`,
  );
  assert.equal((await etcdctl(ep(m1), ["member", "list"])).stdout.trim().split("\n").length, 3);
  await fails(all, ["member", "remove", ghost], `Error: etcdserver: member not found`);

  // A learner: added, started as `existing`, caught up, promoted.
  await ok(ep(m1), ["put", "/mem/before", "1"], "OK\n");
  const learnerUrl = `http://127.0.0.1:${spare.peerPort}`;
  const addL = await etcdctl(all, ["member", "add", spare.name, "--learner", `--peer-urls=${learnerUrl}`]);
  assert.equal(addL.code, 0, addL.stderr);
  const lid = /^Member\s+([0-9a-f]+) added to cluster/.exec(addL.stdout)?.[1];
  assert.ok(lid !== undefined, addL.stdout);
  const initial = /ETCD_INITIAL_CLUSTER="([^"]+)"/.exec(addL.stdout)?.[1];
  assert.ok(initial !== undefined, addL.stdout);
  assert.deepEqual(initial.split(",").sort(), initialClusterOf([m1, m2, m3, spare]).split(",").sort());
  c.start(spare, "existing", initial);
  await waitFor(
    "the learner to catch up",
    async () =>
      (await etcdctl(ep(spare), ["get", "/mem/before", "--print-value-only", "--consistency=s"], "1s"))
        .stdout === "1\n",
    15_000,
  );
  await waitFor(
    "the learner to publish its client URL",
    async () =>
      (await etcdctl(ep(m1), ["member", "list"])).stdout.includes(
        `${lid}, started, ${spare.name}, ${learnerUrl}, http://127.0.0.1:${spare.clientPort}, true\n`,
      ),
    10_000,
  );
  const ls = (await statusOf(ep(spare)))?.[0]?.Status;
  assert.equal(ls?.isLearner, true);
  // As etcd: a learner serves serializable reads and Status only.
  const linearizable = await etcdctl(ep(spare), ["get", "/nothing"]);
  assert.match(linearizable.stderr, /etcdserver: rpc not supported for learner/);
  const write = await etcdctl(ep(spare), ["put", "/l", "x"]);
  assert.match(write.stderr, /etcdserver: rpc not supported for learner/);
  await ok(
    all,
    ["member", "promote", lid],
    `Member ${lid.padStart(16)} promoted in cluster ${cid.padStart(16)}\n`,
  );
  await waitFor(
    "every member to list the promoted voter",
    async () => {
      const lists = await Promise.all([m1, m2, m3, spare].map((m) => etcdctl(ep(m), ["member", "list"])));
      return lists.every((l) =>
        l.stdout.includes(
          `${lid}, started, ${spare.name}, ${learnerUrl}, http://127.0.0.1:${spare.clientPort}, false\n`,
        ),
      );
    },
    10_000,
  );
  const ps = (await statusOf(ep(spare)))?.[0]?.Status;
  assert.equal(ps?.isLearner ?? false, false);
  await ok(ep(spare), ["put", "/mem/after", "2"], "OK\n");
  await ok(ep(m2), ["get", "/mem/after", "--print-value-only"], "2\n");
  await ok(ep(spare), ["get", "/mem/before", "--print-value-only"], "1\n");
  const h = await etcdctl(c.endpoints([m1, m2, m3, spare]), ["endpoint", "hashkv"]);
  assert.equal(h.code, 0, h.stderr);
  const hashes = h.stdout
    .trim()
    .split("\n")
    .map((l) => l.split(", ")[1]);
  assert.equal(hashes.length, 4);
  assert.equal(new Set(hashes).size, 1, h.stdout);
});
