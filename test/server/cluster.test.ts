// Real synod processes on 127.0.0.1 driven by Debian's etcdctl: a three-member cluster, leader
// failover under SIGKILL, and a killed member catching up after restart.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { etcdctl, ProcessCluster, waitFor } from "../../src/testing/procs.js";

const mainJs = join(process.cwd(), "dist/src/cli/main.js");

async function leaderIndex(c: ProcessCluster): Promise<number> {
  for (let i = 0; i < c.members.length; i++) {
    const m = c.members[i];
    if (m === undefined || m.proc === null) continue;
    const r = await etcdctl(c.endpoints([m]), ["endpoint", "status", "-w", "json"], "1s");
    if (r.code !== 0) continue;
    const s = JSON.parse(r.stdout) as { Status: { leader: number; header: { member_id: number } } }[];
    const st = s[0]?.Status;
    if (st !== undefined && st.leader !== 0 && String(st.leader) === String(st.header.member_id)) return i;
  }
  return -1;
}

test("synod cluster: three processes serve etcdctl; writes on one member are read on the others", async () => {
  // Proves a real three-member cluster forms from --initial-cluster, replicates, publishes each
  // member's client URL, and serves linearizable reads on every member.
  const c = await ProcessCluster.create(3, mainJs);
  try {
    for (const m of c.members) c.start(m);
    await waitFor("a leader", async () => (await leaderIndex(c)) >= 0, 15_000);
    const [m1, m2, m3] = c.members as [(typeof c.members)[0], (typeof c.members)[0], (typeof c.members)[0]];
    assert.equal((await etcdctl(c.endpoints([m1]), ["put", "greeting", "hello"])).stdout.trim(), "OK");
    const got = await etcdctl(c.endpoints([m3]), ["get", "greeting", "--print-value-only"]);
    assert.equal(got.stdout.trim(), "hello");
    await waitFor(
      "every member published its client URL",
      async () => {
        const list = await etcdctl(c.endpoints([m2]), ["member", "list"]);
        return c.members.every((m) => list.stdout.includes(`http://127.0.0.1:${m.clientPort}`));
      },
      10_000,
    );
  } finally {
    await c.destroy();
  }
});

test("synod cluster: after SIGKILL of the leader a new leader serves within 3 s, nothing acknowledged is lost, and the member catches up on restart", async () => {
  // Proves failover with etcd's timing defaults (heartbeat 100 ms, election 1000 ms) and
  // durability of acknowledged writes across a leader crash.
  const c = await ProcessCluster.create(3, mainJs);
  try {
    for (const m of c.members) c.start(m);
    await waitFor("a leader", async () => (await leaderIndex(c)) >= 0, 15_000);
    const acked: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await etcdctl(c.endpoints(), ["put", `k${i}`, `v${i}`]);
      if (r.code === 0) acked.push(`k${i}`);
    }
    assert.equal(acked.length, 30);
    const li = await leaderIndex(c);
    const leader = c.members[li];
    assert.ok(leader !== undefined);
    const rest = c.members.filter((m) => m !== leader);
    const killedAt = Date.now();
    await c.kill(leader, "SIGKILL");
    await waitFor(
      "a write through the surviving members",
      async () => (await etcdctl(c.endpoints(rest), ["put", "after", "kill"], "300ms")).code === 0,
      10_000,
    );
    const elapsed = Date.now() - killedAt;
    assert.ok(elapsed < 3000, `a new leader served after ${elapsed} ms`);
    for (const k of acked) {
      const r = await etcdctl(c.endpoints(rest), ["get", k, "--print-value-only"]);
      assert.equal(r.stdout.trim(), `v${k.slice(1)}`);
    }
    c.start(leader);
    await waitFor(
      "the restarted member to catch up",
      async () => {
        const r = await etcdctl(
          c.endpoints([leader]),
          ["get", "after", "--print-value-only", "--consistency=s"],
          "1s",
        );
        return r.stdout.trim() === "kill";
      },
      15_000,
    );
  } finally {
    await c.destroy();
  }
});
