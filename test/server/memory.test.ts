// Tests for returning compaction garbage to the system: the full collection the member runs after
// large compactions, and when the reclaimer schedules it.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Logger } from "../../src/lib/logger.js";
import { collectGarbage, MemoryReclaimer, reclaimBytesMin } from "../../src/server/memory.js";

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test("collectGarbage: frees unreachable ArrayBuffers without --expose-gc", async () => {
  // Proves the run-time gc function works in a process started without --expose-gc (as members
  // are) and really collects: a dropped 64 MiB buffer leaves the ArrayBuffer total.
  assert.equal((globalThis as { gc?: unknown }).gc, undefined, "the test runs without --expose-gc");
  let big: Uint8Array | null = new Uint8Array(64 * 1024 * 1024);
  big[0] = 1;
  const before = process.memoryUsage().arrayBuffers;
  big = null;
  const ms = collectGarbage();
  await tick();
  assert.ok(ms >= 0);
  const after = process.memoryUsage().arrayBuffers;
  assert.ok(before - after >= 60 * 1024 * 1024, `ArrayBuffers ${before} -> ${after} bytes`);
  assert.equal((globalThis as { gc?: unknown }).gc, undefined, "gc is not left on the global object");
});

test("MemoryReclaimer: one collection per reclaimBytesMin dropped, counted from the last one", async () => {
  // Proves a collection is scheduled (after the current turn) only once enough memory was dropped
  // since the last one, by compactions (the store's growing count) and snapshots together, never
  // twice for the same bytes, and that a new store (a smaller count, after a snapshot install)
  // counts from its own start.
  const logged: Record<string, unknown>[] = [];
  const logger: Logger = { debug() {}, info: (_m, f) => logged.push(f ?? {}), warn() {} };
  const r = new MemoryReclaimer(logger);
  r.afterApply(reclaimBytesMin - 1);
  await tick();
  assert.equal(logged.length, 0);
  r.afterApply(reclaimBytesMin);
  r.afterApply(reclaimBytesMin + 1);
  assert.equal(logged.length, 0, "the collection waits for the next turn");
  await tick();
  assert.equal(logged.length, 1);
  assert.equal(logged[0]?.droppedBytes, reclaimBytesMin + 1, "bytes dropped before the turn count in");
  r.afterApply(2 * reclaimBytesMin);
  await tick();
  assert.equal(logged.length, 1, "less than reclaimBytesMin since the last collection");
  r.dropped(1);
  await tick();
  assert.equal(logged.length, 2, "a snapshot's bytes add to the compactions'");
  assert.equal(logged[1]?.droppedBytes, reclaimBytesMin);
  r.afterApply(10);
  await tick();
  r.afterApply(reclaimBytesMin + 10);
  await tick();
  assert.equal(logged.length, 3, "a new store counts from its own start");
  assert.equal(logged[2]?.droppedBytes, reclaimBytesMin + 10);
});
