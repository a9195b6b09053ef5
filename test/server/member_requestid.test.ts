// Regression test for a bug found by the chaos harness (npm run chaos): a member answered a
// client with the result of another command.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { utf8 } from "../../src/mvcc/mod.js";
import type { MemberInfo } from "../../src/server/envelope.js";
import { Member } from "../../src/server/member.js";
import { LoopNet } from "../../src/testing/loopnet.js";

const infos: MemberInfo[] = [1, 2, 3].map((id) => ({
  id,
  name: `m${id}`,
  peerUrls: [`http://127.0.0.1:${2380 + id}`],
  clientUrls: [],
  isLearner: false,
}));

async function until(what: string, f: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test("Member: a restarted member never answers a new request with the result of a command its previous run proposed", async () => {
  // Proves request ids are unique across a member's runs. Commands carry (proposer id, request
  // id); the proposer answers its waiting client when the command is applied. A member whose ids
  // restarted at the same value on every start matched a command proposed by its previous run
  // (committed by the others, but not yet applied by it when it restarted: it applies it after the
  // restart) to a new request with the same id, and answered that client with the other command's
  // result — chaos runs saw appends answered "compare failed" although applied (then appended
  // twice by the client's retry) and "command put answered as txn" internal errors.
  const net = new LoopNet();
  const root = mkdtempSync(join(tmpdir(), "synod-reqid-"));
  const members = new Map<number, Member>();
  const start = async (id: number): Promise<Member> => {
    const m = await Member.start({
      id,
      dataDir: join(root, `m${id}`),
      initialCluster: infos,
      initialClusterState: "new",
      heartbeatMs: 10,
      electionMs: 100,
      transport: net.transport(id),
    });
    net.attach(id, m);
    members.set(id, m);
    return m;
  };
  try {
    for (const id of [1, 2, 3]) await start(id);
    await until("a leader", () => [...members.values()].some((m) => m.isLeader));
    const leader = [...members.values()].find((m) => m.isLeader) as Member;
    const follower = [...members.values()].find((m) => !m.isLeader) as Member;
    await until("the follower applied the leader's first entry", () => follower.store.appliedIndex >= 2);
    // The follower's proposal reaches the leader and commits, but the leader's messages no longer
    // reach the follower: it restarts without having applied its own command.
    net.cutOneWay(leader.id, follower.id);
    const lost = follower.propose({ type: "put", request: { key: utf8("a"), value: utf8("1") } });
    lost.catch(() => undefined);
    await until("the leader applied the follower's put", () => {
      const r = leader.store.range({ key: utf8("a") });
      return r.ok && r.value.kvs.length === 1;
    });
    net.detach(follower.id);
    await follower.stop();
    await assert.rejects(lost);
    const restarted = await start(follower.id);
    assert.equal(restarted.store.currentRevision, 1, "the restarted follower has not applied the put");
    net.cutOneWay(leader.id, follower.id, true);
    const second = await restarted.propose({ type: "put", request: { key: utf8("b"), value: utf8("2") } });
    assert.ok(second.ok && second.value.type === "put", "answered with a put's result");
    const b = restarted.store.range({ key: utf8("b") });
    assert.ok(b.ok);
    assert.equal(
      second.value.response.revision,
      b.value.kvs[0]?.modRevision,
      "the answer is the revision at which this put was applied",
    );
  } finally {
    for (const [id, m] of members) {
      net.detach(id);
      await m.stop();
    }
    rmSync(root, { recursive: true, force: true });
  }
});
