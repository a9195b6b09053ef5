// Auto-compaction targets: which revision each mode compacts to.
import assert from "node:assert/strict";
import { test } from "node:test";
import { noopLogger } from "../../src/lib/logger.js";
import { type Command, MvccStore, utf8 } from "../../src/mvcc/mod.js";
import { AutoCompactor, type CompactingMember } from "../../src/server/compactor.js";

function memberWith(revisions: number): CompactingMember {
  const store = new MvccStore();
  for (let i = 1; i < revisions; i++) store.put({ key: utf8("k"), value: utf8(String(i)) });
  return {
    store,
    isLeader: true,
    propose: (cmd: Command) => Promise.resolve(store.apply(cmd)),
  };
}

test("AutoCompactor revision mode: compacts to the current revision minus the retention", () => {
  // Proves etcd's revision-mode rule (keep the last N revisions).
  const m = memberWith(50);
  const c = new AutoCompactor(m, {
    mode: "revision",
    retentionMs: 0,
    retentionRevisions: 10,
    logger: noopLogger,
    nowMs: () => 0,
  });
  try {
    assert.equal(m.store.currentRevision, 50);
    assert.equal(c.target(), 40);
  } finally {
    c.close();
  }
});

test("AutoCompactor periodic mode: compacts to the newest sample at least one retention old", () => {
  // Proves the periodic rule: revisions written within the retention window stay readable.
  const m = memberWith(5);
  let now = 0;
  const c = new AutoCompactor(m, {
    mode: "periodic",
    retentionMs: 1000,
    retentionRevisions: 0,
    logger: noopLogger,
    nowMs: () => now,
  });
  try {
    assert.equal(c.target(), 0, "nothing is a retention old yet");
    now = 500;
    m.store.put({ key: utf8("k"), value: utf8("x") }); // revision 6
    assert.equal(c.target(), 0);
    now = 1000;
    assert.equal(c.target(), 5, "the sample taken at 0 ms is now a retention old");
    now = 1600;
    assert.equal(c.target(), 6);
  } finally {
    c.close();
  }
});
