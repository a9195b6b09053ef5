// Benchmark of the MVCC state machine at one million keys (32-byte keys, 100-byte values):
// put/s, point range/s, 1000-key range/s, watch events delivered/s to 10,000 watchers, snapshot
// write and restore time, and heap + RSS after loading. Run with `npm run bench:mvcc`
// (node --expose-gc). Targets (issue 4): >= 300,000 puts/s, >= 1,000,000 point reads/s on one core,
// 1M keys in <= 400 MB RSS, restore of a 1M-key snapshot < 5 s.
import { performance } from "node:perf_hooks";
import { decodeSnapshot, encodeCommand, encodeSnapshot, MvccStore } from "../src/mvcc/mod.js";

const keyCount = Number(process.env.MVCC_BENCH_KEYS ?? 1_000_000);
const keyBytes = 32;
const valueBytes = 100;
const watcherCount = 10_000;

const gc = (globalThis as { gc?: () => void }).gc;
function collect(): void {
  gc?.();
  gc?.();
}

/** Writes `n` as 12 decimal digits into the tail of a 32-byte key starting with "bench/key/". */
const prefix = new TextEncoder().encode("bench/key/");
function writeKey(into: Uint8Array, n: number): Uint8Array {
  into.set(prefix);
  into.fill(0x30, prefix.length);
  for (let at = keyBytes - 1; n > 0; at--) {
    into[at] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  return into;
}

/** A deterministic permutation of [0, n) (xorshift-driven Fisher–Yates). */
function permutation(n: number, seed: number): Int32Array {
  const p = new Int32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  let x = seed >>> 0 || 1;
  for (let i = n - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const j = x % (i + 1);
    const t = p[i] as number;
    p[i] = p[j] as number;
    p[j] = t;
  }
  return p;
}

function rate(count: number, ms: number): string {
  return `${Math.round((count * 1000) / ms).toLocaleString("en-US")}/s`;
}

function mb(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

function line(label: string, value: string, note = ""): void {
  console.log(`${label.padEnd(44)} ${value.padStart(18)}  ${note}`);
}

function loadStore(): { store: MvccStore; ms: number } {
  const store = new MvccStore();
  const order = permutation(keyCount, 42);
  const value = new Uint8Array(valueBytes);
  for (let i = 0; i < valueBytes; i++) value[i] = (i * 31) & 0xff;
  const t0 = performance.now();
  for (let i = 0; i < keyCount; i++) {
    const r = store.put({ key: writeKey(new Uint8Array(keyBytes), order[i] as number), value });
    if (!r.ok) throw new Error(r.error.detail);
  }
  return { store, ms: performance.now() - t0 };
}

function benchPutsViaLog(): void {
  // The server path: decode each committed entry and apply it (one command per entry).
  const n = Math.min(keyCount, 200_000);
  const store = new MvccStore();
  const value = new Uint8Array(valueBytes);
  const entries: Uint8Array[] = [];
  const order = permutation(n, 7);
  for (let i = 0; i < n; i++) {
    const key = writeKey(new Uint8Array(keyBytes), order[i] as number);
    entries.push(encodeCommand({ requestId: i, command: { type: "put", request: { key, value } } }));
  }
  const t0 = performance.now();
  for (let i = 0; i < n; i++) store.applyEntry(i + 1, entries[i] as Uint8Array);
  line(`put via applyEntry (decode + apply, ${n.toLocaleString("en-US")})`, rate(n, performance.now() - t0));
}

function benchPointReads(store: MvccStore): void {
  const key = new Uint8Array(keyBytes);
  const reads = keyCount;
  let x = 12345;
  let found = 0;
  const t0 = performance.now();
  for (let i = 0; i < reads; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const r = store.range({ key: writeKey(key, x % keyCount) });
    if (r.ok) found += r.value.count;
  }
  const ms = performance.now() - t0;
  if (found !== reads) throw new Error(`point reads found ${found} of ${reads}`);
  line("point range (random key)", rate(reads, ms), "target >= 1,000,000/s");
}

function benchRangeReads(store: MvccStore): void {
  const start = new Uint8Array(keyBytes);
  const end = new Uint8Array(keyBytes);
  let x = 777;
  let ranges = 0;
  let kvs = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 2000) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const first = x % (keyCount - 1000);
    const r = store.range({ key: writeKey(start, first), rangeEnd: writeKey(end, first + 1000) });
    if (!r.ok || r.value.kvs.length !== 1000) throw new Error("range returned the wrong number of keys");
    kvs += r.value.kvs.length;
    ranges++;
  }
  const ms = performance.now() - t0;
  line("1000-key range", rate(ranges, ms), `${rate(kvs, ms)} key-values`);
}

function benchWatch(store: MvccStore): void {
  const value = new Uint8Array(valueBytes);
  // 10,000 watchers, one per key, spread over 100 streams; every put notifies exactly one watcher.
  {
    const streams = Array.from({ length: 100 }, () => store.watchHub.newStream());
    for (let i = 0; i < watcherCount; i++) {
      (streams[i % 100] as (typeof streams)[number]).watch({ key: writeKey(new Uint8Array(keyBytes), i) });
    }
    for (const s of streams) s.take();
    const puts = 200_000;
    let delivered = 0;
    const key = new Uint8Array(keyBytes);
    const t0 = performance.now();
    for (let i = 0; i < puts; i++) {
      store.put({ key: writeKey(key, i % watcherCount), value });
      if (i % 1000 === 999) for (const s of streams) for (const r of s.take()) delivered += r.events.length;
    }
    for (const s of streams) for (const r of s.take()) delivered += r.events.length;
    const ms = performance.now() - t0;
    if (delivered !== puts) throw new Error(`delivered ${delivered} of ${puts} events`);
    line(
      "watch: 10k single-key watchers, 1 each/put",
      rate(delivered, ms),
      `events (${rate(puts, ms)} puts)`,
    );
    for (const s of streams) s.close();
  }
  // 10,000 watchers on one prefix; every put fans out to all of them.
  {
    const streams = Array.from({ length: 100 }, () => store.watchHub.newStream());
    const from = writeKey(new Uint8Array(keyBytes), 0);
    const to = writeKey(new Uint8Array(keyBytes), keyCount);
    for (let i = 0; i < watcherCount; i++) {
      (streams[i % 100] as (typeof streams)[number]).watch({ key: from, rangeEnd: to });
    }
    for (const s of streams) s.take();
    const puts = 500;
    let delivered = 0;
    const key = new Uint8Array(keyBytes);
    const t0 = performance.now();
    for (let i = 0; i < puts; i++) {
      store.put({ key: writeKey(key, i), value });
      if (i % 50 === 49) for (const s of streams) for (const r of s.take()) delivered += r.events.length;
    }
    for (const s of streams) for (const r of s.take()) delivered += r.events.length;
    const ms = performance.now() - t0;
    if (delivered !== puts * watcherCount)
      throw new Error(`delivered ${delivered} of ${puts * watcherCount}`);
    line(
      "watch: 10k watchers on one prefix (fan-out)",
      rate(delivered, ms),
      `events (${rate(puts, ms)} puts)`,
    );
    for (const s of streams) s.close();
  }
}

function benchSnapshot(store: MvccStore): void {
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  const t0 = performance.now();
  for (const c of encodeSnapshot(store)) {
    chunks.push(c);
    bytes += c.length;
  }
  const writeMs = performance.now() - t0;
  line(
    "snapshot write (encode to chunks)",
    `${(writeMs / 1000).toFixed(2)} s`,
    `${mb(bytes)} in ${chunks.length} chunks`,
  );
  collect();
  const t1 = performance.now();
  const restored = decodeSnapshot(chunks);
  const restoreMs = performance.now() - t1;
  if (typeof restored === "string") throw new Error(restored);
  line("snapshot restore (decode + rebuild index)", `${(restoreMs / 1000).toFixed(2)} s`, "target < 5 s");
  const a = store.hashKv();
  const b = restored.hashKv();
  if (!a.ok || !b.ok || a.value.hash !== b.value.hash) throw new Error("restored hash differs");
  line("restored hash matches", "yes");
}

function main(): void {
  console.log(
    `mvcc benchmark: ${keyCount.toLocaleString("en-US")} keys, ${keyBytes}-byte keys, ${valueBytes}-byte values, node ${process.version}`,
  );
  collect();
  const base = process.memoryUsage();
  const { store, ms } = loadStore();
  line(
    `put (random order, ${keyCount.toLocaleString("en-US")} keys)`,
    rate(keyCount, ms),
    "target >= 300,000/s",
  );
  collect();
  const mem = process.memoryUsage();
  line("heap used after loading", mb(mem.heapUsed), `(+${mb(mem.heapUsed - base.heapUsed)} over empty)`);
  line("external + array buffers after loading", mb(mem.external), "(values and record columns)");
  line("RSS after loading", mb(mem.rss), "target <= 400 MiB");
  benchPointReads(store);
  benchRangeReads(store);
  benchSnapshot(store);
  benchWatch(store);
  benchPutsViaLog();
}

main();
