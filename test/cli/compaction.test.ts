// --auto-compaction-mode / --auto-compaction-retention on a real synod process, read by etcdctl.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { etcdctl, ProcessCluster, type ProcessMember, waitFor } from "../../src/testing/procs.js";

const mainJs = join(process.cwd(), "dist/src/cli/main.js");

test("synod --auto-compaction-mode=periodic: history older than the retention is compacted by the leader", async () => {
  // Proves etcd's periodic auto-compaction: after the retention window, reads of old revisions
  // fail with etcd's compacted error while current reads still work.
  const c = await ProcessCluster.create(1, mainJs, [
    "--auto-compaction-mode=periodic",
    "--auto-compaction-retention=1s",
  ]);
  const [m] = c.members as [ProcessMember];
  try {
    c.start(m, "new", `${m.name}=http://127.0.0.1:${m.peerPort}`);
    const ep = c.endpoints([m]);
    await waitFor("the member", async () => (await etcdctl(ep, ["put", "k", "v1"], "1s")).code === 0, 15_000);
    assert.equal((await etcdctl(ep, ["put", "k", "v2"])).code, 0);
    await waitFor(
      "revision 2 to be compacted",
      async () =>
        /required revision has been compacted/.test((await etcdctl(ep, ["get", "k", "--rev=2"])).stderr),
      10_000,
    );
    assert.equal((await etcdctl(ep, ["get", "k", "--print-value-only"])).stdout.trim(), "v2");
  } finally {
    await c.destroy();
  }
});
