// The driver sequence of src/wal/storage.ts with a real Raft node: a one-member cluster
// bootstrapped, elected and fed proposals through the WAL restarts from disk with the same log.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { SeededRng } from "../../src/lib/rng.js";
import { RawNode } from "../../src/raft/rawnode.js";
import { MemoryStorage } from "../../src/raft/storage.js";
import { StateRole } from "../../src/raft/types.js";
import { applyPersisted, bootstrapRequest, storageFromRecovered } from "../../src/wal/storage.js";
import { Wal } from "../../src/wal/wal.js";

const conf = { voters: [1], votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false };

/** Runs Readies until none is left: persist through the WAL, mirror into storage, advance. */
async function drain(node: RawNode, wal: Wal, storage: MemoryStorage): Promise<number> {
  let applied = 0;
  while (node.hasReady()) {
    const rd = node.ready();
    await wal.save(rd);
    applyPersisted(storage, rd);
    applied += rd.committedEntries.length;
    node.advance();
  }
  return applied;
}

test("storage: a Raft node persisting through the WAL restarts from disk with the same log and hard state", async () => {
  // Proves bootstrapRequest, applyPersisted and storageFromRecovered together give RawNode a
  // Storage that matches what it saw before the restart, including after a local snapshot.
  const dir = mkdtempSync(join(tmpdir(), "synod-wal-storage-"));
  try {
    const wal = await Wal.open(dir, { segmentBytes: 4096 });
    assert.equal(wal.recovered.fresh, true);
    await wal.save(bootstrapRequest(conf));
    const storage = MemoryStorage.bootstrap(conf);
    const node = new RawNode({ id: 1, storage, rng: new SeededRng(1) });
    node.campaign();
    await drain(node, wal, storage);
    assert.equal(node.status().role, StateRole.leader);
    for (let i = 0; i < 50; i++) {
      assert.ok(node.propose(new TextEncoder().encode(`value ${i}`)).ok);
      await drain(node, wal, storage);
    }
    const snap = storage.createSnapshot(30, conf, new TextEncoder().encode("state at 30"));
    await wal.saveSnapshot(snap);
    storage.compact(30);
    const before = node.status();
    await wal.close();

    const again = await Wal.open(dir, { segmentBytes: 4096 });
    try {
      assert.equal(again.recovered.cut, false);
      const restored = storageFromRecovered(again.recovered);
      assert.equal(restored.firstIndex(), storage.firstIndex());
      assert.equal(restored.lastIndex(), storage.lastIndex());
      assert.deepEqual(restored.initialState(), storage.initialState());
      assert.deepEqual(
        restored.entries(31, restored.lastIndex() + 1, Number.POSITIVE_INFINITY),
        storage.entries(31, storage.lastIndex() + 1, Number.POSITIVE_INFINITY),
      );
      const node2 = new RawNode({ id: 1, storage: restored, rng: new SeededRng(2), applied: 30 });
      assert.equal(node2.status().term, before.term);
      assert.equal(node2.status().commit, before.commit);
      assert.equal(node2.status().lastIndex, before.lastIndex);
    } finally {
      await again.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
