// The `synod` admin commands against a real three-member cluster (plus a spare member): status,
// member list/add/promote/remove, move-leader, snapshot save/status, alarm, defrag, check perf;
// human and JSON output, SYNOD_ENDPOINTS, colour only when asked (not a TTY here), usage errors.
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { etcdctl, type ProcessCluster, type ProcessMember, waitFor } from "../../src/testing/procs.js";
import { allocate, initialClusterOf, logsOf, member, put, synod } from "./adminhelpers.js";

/** The escape character that starts ANSI colour codes. */
const esc = String.fromCharCode(27);

let c: ProcessCluster;
let founders: ProcessMember[];
let spare: ProcessMember;
let all: string;

before(async () => {
  c = await allocate(4);
  founders = c.members.slice(0, 3);
  spare = member(c, 3);
  const initial = initialClusterOf(founders);
  for (const m of founders) c.start(m, "new", initial);
  all = c.endpoints(founders);
  try {
    await waitFor(
      "a leader",
      async () => (await etcdctl(all, ["put", "/ready", "1"], "1s")).code === 0,
      20_000,
    );
    await waitFor(
      "published client URLs",
      async () => {
        const list = await etcdctl(all, ["member", "list"], "1s");
        return founders.every((m) => list.stdout.includes(`http://127.0.0.1:${m.clientPort}, false`));
      },
      20_000,
    );
  } catch (e) {
    throw new Error(`${String(e)}\n${logsOf(c)}`);
  }
});

after(async () => {
  await c?.destroy();
});

interface StatusRow {
  readonly id: string;
  readonly name: string;
  readonly isLeader?: boolean;
  readonly isLearner: boolean;
  readonly raftTerm?: number;
  readonly revision?: number;
  readonly rttMs?: number;
  readonly error?: string;
}

async function statusJson(endpoints = all): Promise<StatusRow[]> {
  const r = await synod(["status", "-w", "json", `--endpoints=${endpoints}`]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as StatusRow[];
}

test("synod status: one row per member with the leader, term, round trip; SYNOD_ENDPOINTS; table without colour off a TTY", async () => {
  // Proves the status command discovers every member from one endpoint (given by SYNOD_ENDPOINTS),
  // asks each at its own client URL, and agrees with the cluster: one leader, one term.
  const one = c.endpoints([member(c, 1)]);
  const r = await synod(["status", "-w", "json"], { SYNOD_ENDPOINTS: one });
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as StatusRow[];
  assert.deepEqual(rows.map((x) => x.name).sort(), ["m1", "m2", "m3"]);
  assert.equal(rows.filter((x) => x.isLeader === true).length, 1);
  assert.equal(new Set(rows.map((x) => x.raftTerm)).size, 1);
  for (const x of rows) assert.ok((x.rttMs ?? -1) >= 0 && (x.rttMs ?? 1e9) < 1000, JSON.stringify(x));
  const t = await synod(["status"], { SYNOD_ENDPOINTS: one });
  assert.equal(t.code, 0, t.stderr);
  const lines = t.stdout.trimEnd().split("\n");
  assert.equal(lines.length, 7, t.stdout);
  assert.match(
    lines[1] ?? "",
    /\| +ID +\| +NAME +\| +CLIENT URL +\| +PEER URL +\| LEADER \| TERM \| INDEX \| APPLIED \| DB SIZE \| VERSION \| +RTT +\| ERRORS \|/,
  );
  assert.equal(lines.filter((l) => / \* +\|/.test(l)).length, 1);
  assert.ok(!t.stdout.includes(`${esc}[`), "no colour when stdout is not a terminal");
  const coloured = await synod(["--color=always", "status"], { SYNOD_ENDPOINTS: one });
  assert.ok(coloured.stdout.includes(`${esc}[32m*${esc}[0m`), "the leader mark in green");
  const simple = await synod(["status", "-w", "simple", `--endpoints=${one}`]);
  assert.equal(simple.stdout.trim().split("\n").length, 3);
});

test("synod member add --learner, promote, remove: a fourth member joins as a learner, becomes a voter, and leaves", async () => {
  // Proves the membership commands end to end with a real joining process, and that their
  // output gives what the operator needs next (the new member's id and settings).
  const add = await synod([
    "member",
    "add",
    "m4",
    `--peer-urls=http://127.0.0.1:${spare.peerPort}`,
    "--learner",
    `--endpoints=${all}`,
  ]);
  assert.equal(add.code, 0, add.stderr);
  const id = /^Member ([0-9a-f]+) added to cluster [0-9a-f]+ as a learner$/m.exec(add.stdout)?.[1];
  assert.ok(id !== undefined, add.stdout);
  const initial = /^ETCD_INITIAL_CLUSTER="(.*)"$/m.exec(add.stdout)?.[1] ?? "";
  assert.deepEqual(
    initial.split(",").sort(),
    initialClusterOf([...founders, spare])
      .split(",")
      .sort(),
  );
  assert.match(add.stdout, /^ETCD_INITIAL_CLUSTER_STATE="existing"$/m);
  c.start(spare, "existing", initial);
  await waitFor(
    "the learner to start",
    async () => (await statusJson()).some((r) => r.name === "m4" && r.isLearner && r.error === undefined),
    20_000,
  ).catch((e: unknown) => {
    throw new Error(`${String(e)}\n${spare.log}`);
  });
  const list = await synod(["member", "list", "-w", "json", `--endpoints=${all}`]);
  const members = (JSON.parse(list.stdout) as { members: { ID: string; isLearner: boolean }[] }).members;
  assert.deepEqual(members.find((m) => m.ID === id)?.isLearner, true);
  await waitFor(
    "the learner to catch up and be promoted",
    async () => (await synod(["member", "promote", id, `--endpoints=${all}`])).code === 0,
    15_000,
  );
  assert.equal((await statusJson()).find((r) => r.name === "m4")?.isLearner, false);
  const rm = await synod(["member", "remove", id, `--endpoints=${all}`]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.match(rm.stdout, new RegExp(`^Member ${id} removed from cluster [0-9a-f]+\\n$`));
  await c.kill(spare);
  const after = await synod(["member", "list", `--endpoints=${all}`]);
  assert.equal(after.stdout.trim().split("\n").length, 3);
  assert.doesNotMatch(after.stdout, new RegExp(id));
});

test("synod move-leader: leadership moves to the chosen member", async () => {
  // Proves move-leader finds the current leader itself and transfers to the target.
  const rows = await statusJson();
  const leader = rows.find((r) => r.isLeader === true);
  const target = rows.find((r) => r.isLeader === false && !r.isLearner);
  assert.ok(leader !== undefined && target !== undefined);
  const r = await synod(["move-leader", target.id, `--endpoints=${all}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `Leadership transferred from ${leader.id} to ${target.id}\n`);
  await waitFor(
    "the new leader",
    async () => (await statusJson()).find((x) => x.id === target.id)?.isLeader === true,
    5000,
  );
  const again = await synod(["move-leader", target.id, `--endpoints=${all}`]);
  assert.equal(again.stdout, `Member ${target.id} is already the leader\n`);
});

test("synod snapshot save: a verified backup from a follower, readable by snapshot status; no progress bar off a TTY", async () => {
  // Proves snapshot save streams Maintenance.Snapshot, checks the SHA-256 and writes the file
  // atomically; status of the file reports the cluster's revision.
  for (let i = 0; i < 100; i++) await put(member(c, 0).clientPort, `/snap/${i}`, "x".repeat(100));
  const rows = await statusJson();
  const follower = founders.find((m) => rows.find((r) => r.name === m.name)?.isLeader === false);
  assert.ok(follower !== undefined);
  const file = join(c.root, "admin-backup.db");
  const r = await synod(["snapshot", "save", file, `--endpoints=${c.endpoints([follower])}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, "", "no progress bar when stderr is not a terminal");
  assert.match(
    r.stdout,
    new RegExp(
      `^Snapshot saved at ${file}\\n[0-9.]+ kB in [0-9.]+ s from 127\\.0\\.0\\.1:${follower.clientPort}: revision \\d+, \\d+ keys, hash [0-9a-f]{8}\\n$`,
    ),
  );
  const st = await synod(["snapshot", "status", file, "-w", "json"]);
  const status = JSON.parse(st.stdout) as { revision: number; totalKey: number };
  const hk = await etcdctl(c.endpoints([follower]), ["endpoint", "hashkv", "-w", "json"]);
  const rev = (JSON.parse(hk.stdout) as { HashKV: { header: { revision: number } } }[])[0]?.HashKV.header
    .revision;
  assert.equal(status.revision, rev);
  assert.ok(status.totalKey >= 101);
  const bad = await synod([
    "snapshot",
    "save",
    join(c.root, "x.db"),
    "--endpoints=127.0.0.1:1",
    "--dial-timeout=500ms",
  ]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^Error: .*127\.0\.0\.1:1/);
});

test("synod alarm list/disarm and defrag --cluster", async () => {
  // Proves the maintenance commands answer on a healthy cluster: no alarms, every member defragmented.
  const list = await synod(["alarm", "list", "-w", "json", `--endpoints=${all}`]);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(JSON.parse(list.stdout), { alarms: [] });
  assert.equal((await synod(["alarm", "disarm", `--endpoints=${all}`])).code, 0);
  const d = await synod(["defrag", "--cluster", `--endpoints=${c.endpoints([member(c, 0)])}`]);
  assert.equal(d.code, 0, d.stderr);
  for (const m of founders)
    assert.match(
      d.stdout,
      new RegExp(`^Finished defragmenting etcd member\\[127\\.0\\.0\\.1:${m.clientPort}\\]$`, "m"),
    );
});

test("synod check perf: a short paced load passes on a healthy cluster and leaves no keys behind", async () => {
  // Proves check perf paces its writes at the load's rate, reports etcdctl's three checks and
  // deletes what it wrote.
  const r = await synod(["check", "perf", "--load=s", "--duration=2s", "-w", "json", `--endpoints=${all}`]);
  assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  const res = JSON.parse(r.stdout) as {
    writes: number;
    failures: number;
    throughput: number;
    pass: boolean;
    targetRate: number;
  };
  assert.equal(res.writes, 300);
  assert.equal(res.failures, 0);
  assert.ok(res.throughput > 135 && res.throughput < 165, `paced near 150/s: ${res.throughput}`);
  assert.equal(res.pass, true);
  const left = await etcdctl(all, ["get", "/synod-check-perf/", "--prefix", "--keys-only"]);
  assert.equal(left.code, 0, left.stderr);
  assert.equal(left.stdout, "");
  const human = await synod(["check", "perf", "--duration=1s", `--endpoints=${all}`]);
  assert.match(
    human.stdout,
    /^PASS: Throughput is \d+ writes\/s\nPASS: Slowest request took \d\.\d{6}s\nPASS: Stddev is \d\.\d{6}s\nPASS\n$/,
  );
});

test("synod admin usage errors: exit status 2 with a hint; unreachable endpoints exit 1", async () => {
  // Proves malformed command lines are refused before any request, with a pointer to 'synod help'.
  for (const [args, message] of [
    [["member"], "'member' needs one of list, add, remove, promote, got nothing"],
    [["member", "remove", "xyz"], "'member remove' needs a member ID in hex"],
    [["status", "-w", "yaml"], "-w/--write-out must be one of simple, table, json, got 'yaml'"],
    [["check", "perf", "--load=huge"], "--load must be one of s, m, l, xl, got 'huge'"],
    [["snapshot", "status"], "'snapshot status' takes one argument, the snapshot file, got 0"],
  ] as const) {
    const r = await synod([...args]);
    assert.equal(r.code, 2, args.join(" "));
    assert.ok(r.stderr.startsWith(`synod: ${message}`), r.stderr);
    assert.match(r.stderr, /Run 'synod help' for the admin commands/);
  }
  const help = await synod(["help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: synod <command> \[flags\]/);
  const down = await synod(["status", "--endpoints=127.0.0.1:1", "--dial-timeout=300ms"]);
  assert.equal(down.code, 1);
  assert.match(down.stderr, /^Error: /);
});
