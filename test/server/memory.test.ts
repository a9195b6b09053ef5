// Tests for returning garbage to the system: the full collection the member runs after large
// compactions, when the reclaimer schedules it, and the release of written snapshot data without one.
import assert from "node:assert/strict";
import { constants, PerformanceObserver } from "node:perf_hooks";
import { test } from "node:test";
import type { Logger } from "../../src/lib/logger.js";
import { collectGarbage, MemoryReclaimer, reclaimBytesMin, releaseBuffers } from "../../src/server/memory.js";

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
  // since the last one, by compactions (the store's growing count) and other drops together, never
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
  assert.equal(logged.length, 2, "bytes dropped otherwise add to the compactions'");
  assert.equal(logged[1]?.droppedBytes, reclaimBytesMin);
  r.afterApply(10);
  await tick();
  r.afterApply(reclaimBytesMin + 10);
  await tick();
  assert.equal(logged.length, 3, "a new store counts from its own start");
  assert.equal(logged[2]?.droppedBytes, reclaimBytesMin + 10);
});

test("releaseBuffers: old-generation buffers are freed by young collections, before any full one", async () => {
  // Proves what the member relies on after writing a snapshot: its parts, kept alive through the
  // write and so promoted to the old generation, go back to the system without the full collection
  // (tens of milliseconds of stopped member) that freeing them would otherwise take. Unreleased
  // buffers of the same age stay allocated through the same young collections.
  const mib = 1024 * 1024;
  const slab = new Uint8Array(4 * mib);
  const parts = [
    slab.subarray(0, 2 * mib),
    slab.subarray(2 * mib), // the same buffer twice: released once
    ...Array.from({ length: 60 }, (_, i) => new Uint8Array(mib).fill(i)),
  ];
  let kept: Uint8Array[] | null = Array.from({ length: 16 }, () => new Uint8Array(mib).fill(1));
  collectGarbage();
  collectGarbage(); // both sets survive two full collections: old generation
  const majors: number[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors.push(e.startTime);
    }
  });
  obs.observe({ entryTypes: ["gc"] });
  try {
    const before = process.memoryUsage().arrayBuffers;
    assert.equal(releaseBuffers(parts), 64 * mib, "each buffer counted once");
    assert.ok(
      parts.every((p) => p.length === 0),
      "the views are detached",
    );
    assert.equal(releaseBuffers(parts), 0, "released buffers are not released again");
    const dropped = kept; // unreachable from here on, like the released ones, but not released
    kept = null;
    assert.ok(dropped.length === 16);
    let freed = 0;
    let sink = 0;
    for (let round = 0; round < 200 && freed < 64 * mib; round++) {
      // Young garbage: enough of it runs scavenges, never a full collection in a heap this small.
      for (let i = 0; i < 100_000; i++) sink += [i, i + 1].length;
      await tick();
      freed = before - process.memoryUsage().arrayBuffers;
    }
    assert.ok(sink > 0);
    assert.ok(freed >= 64 * mib, `${freed} bytes freed of 64 MiB released`);
    assert.ok(
      freed < 80 * mib,
      `${freed} bytes freed: the 16 MiB not released stays until a full collection`,
    );
    await tick();
    assert.deepEqual(majors, [], "no full collection ran");
  } finally {
    obs.disconnect();
  }
});

test("releaseBuffers: views of shared and empty buffers are left as they are", () => {
  // Proves the guard: a SharedArrayBuffer cannot be transferred (other threads may hold it), so
  // its views keep their bytes and count nothing; empty and detached buffers count nothing.
  const shared = new Uint8Array(new SharedArrayBuffer(1024)).fill(9);
  const empty = new Uint8Array(0);
  const plain = new Uint8Array(16);
  assert.equal(releaseBuffers([shared, empty, plain]), 16);
  assert.equal(shared.length, 1024);
  assert.equal(shared[1023], 9);
  assert.equal(plain.length, 0, "the ArrayBuffer-backed view is detached");
  assert.equal(releaseBuffers([plain, empty]), 0);
});
