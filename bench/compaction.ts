// `npm run bench:compaction`: is memory really released by compaction? One million updates
// (COMPACTION_BENCH_UPDATES) of 100-byte values spread over 10,000 keys (COMPACTION_BENCH_KEYS),
// then a compaction at the current revision; resident memory (RSS) and its parts are reported
// before the load, after it, after the compaction, and after a second round of the same load
// (does the freed memory get reused rather than grown?).
//
// 1. In process: the MVCC state machine alone (node --expose-gc, so every figure is after a full
//    collection): RSS, V8 heap, and ArrayBuffer memory (the value arena and history pages, at
//    their allocated sizes: the unwritten tail of a 32 MiB chunk or page counts but is not resident).
// 2. A real single-member synod process driven over gRPC with 256 puts in flight: its RSS from
//    /metrics (process_resident_memory_bytes), the lowest of a few samples after each phase. The
//    member itself runs a full collection once compactions (or snapshots) have dropped 64 MiB.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { EtcdClient } from "../src/api/etcd/client/mod.js";
import { MvccStore } from "../src/mvcc/mod.js";
import { ProcessCluster } from "../src/testing/procs.js";

const updates = Number(process.env.COMPACTION_BENCH_UPDATES ?? 1_000_000);
const keyCount = Number(process.env.COMPACTION_BENCH_KEYS ?? 10_000);
const valueBytes = 100;
const inFlight = 256;
const part = process.env.COMPACTION_BENCH_PART ?? "both";

const gc = (globalThis as { gc?: () => void }).gc;
const mib = (b: number): string => `${(b / (1024 * 1024)).toFixed(1)} MiB`;
const enc = new TextEncoder();
const keyOf = (i: number): Uint8Array =>
  enc.encode(`/bench/compaction/${String(i % keyCount).padStart(8, "0")}`);

function line(label: string, ...cells: string[]): void {
  console.log(`${label.padEnd(36)} ${cells.map((c) => c.padStart(12)).join(" ")}`);
}

async function inProcess(): Promise<void> {
  console.log(
    `\n1. MVCC store in process: ${updates.toLocaleString("en-US")} updates over ${keyCount.toLocaleString("en-US")} keys, ${valueBytes}-byte values${gc === undefined ? " (run with --expose-gc for exact figures)" : ""}`,
  );
  line("", "RSS", "V8 heap", "ArrayBuffers", "records");
  const store = new MvccStore({ limits: { quotaBytes: 8 * 1024 ** 3 } });
  const value = new Uint8Array(valueBytes).fill(0x61);
  const sample = async (label: string): Promise<void> => {
    // V8 frees ArrayBuffer memory on a background thread after a collection: let it finish.
    for (let i = 0; i < 3; i++) {
      gc?.();
      await new Promise((r) => setTimeout(r, 200));
    }
    const m = process.memoryUsage();
    line(
      label,
      mib(m.rss),
      mib(m.heapUsed),
      mib(m.arrayBuffers),
      store.kv.history.size.toLocaleString("en-US"),
    );
  };
  await sample("before the load");
  const load = (): number => {
    const t = performance.now();
    for (let i = 0; i < updates; i++) {
      const r = store.put({ key: keyOf(i), value });
      if (!r.ok) throw new Error(`put ${i}: ${r.error.message}`);
    }
    return performance.now() - t;
  };
  const loadMs = load();
  await sample(`after ${updates.toLocaleString("en-US")} updates`);
  const t = performance.now();
  const c = store.compact(store.currentRevision);
  if (!c.ok) throw new Error(c.error.message);
  const compactMs = performance.now() - t;
  await sample("after compaction");
  load();
  await sample("after the same load again");
  const c2 = store.compact(store.currentRevision);
  if (!c2.ok) throw new Error(c2.error.message);
  await sample("after compacting again");
  console.log(
    `load ${Math.round(loadMs)} ms (${Math.round((updates * 1000) / loadMs).toLocaleString("en-US")} puts/s), compaction ${Math.round(compactMs)} ms`,
  );
}

interface ProcessMemory {
  readonly rss: number;
  readonly heapUsed: number;
  readonly arrayBuffers: number;
}

async function memoryOf(port: number): Promise<ProcessMemory> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const read = (name: string): number =>
    Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1] ?? Number.NaN);
  return {
    rss: read("process_resident_memory_bytes"),
    heapUsed: read("nodejs_heap_size_used_bytes"),
    arrayBuffers: read("synod_process_array_buffers_bytes"),
  };
}

/** The sample with the lowest RSS over `samples` scrapes one second apart (garbage is collected lazily). */
async function settledMemory(port: number, samples = 5): Promise<ProcessMemory> {
  let low: ProcessMemory | null = null;
  for (let i = 0; i < samples; i++) {
    const m = await memoryOf(port);
    if (low === null || m.rss < low.rss) low = m;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return low as ProcessMemory;
}

async function realProcess(): Promise<void> {
  console.log(`\n2. A synod process over gRPC: the same load with ${inFlight} puts in flight`);
  const c = await ProcessCluster.create(1, join(process.cwd(), "dist/src/cli/main.js"), [
    "--quota-backend-bytes=8589934592",
  ]);
  const m = c.members[0];
  if (m === undefined) throw new Error("no member");
  try {
    c.start(m, "new", `${m.name}=http://127.0.0.1:${m.peerPort}`);
    const client = new EtcdClient({ endpoints: [`127.0.0.1:${m.clientPort}`], defaultTimeoutMs: 30_000 });
    try {
      for (let i = 0; ; i++) {
        try {
          await client.put({ key: "/ready", value: "1" });
          break;
        } catch (e) {
          if (i > 100) throw e;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      line("", "RSS", "V8 heap", "ArrayBuffers", "revision");
      const sample = async (label: string): Promise<void> => {
        const mem = await settledMemory(m.clientPort);
        const rev = (await client.status()).header.revision;
        line(label, mib(mem.rss), mib(mem.heapUsed), mib(mem.arrayBuffers), rev.toLocaleString("en-US"));
      };
      await sample("before the load");
      const value = new Uint8Array(valueBytes).fill(0x61);
      const load = async (): Promise<number> => {
        const t = performance.now();
        let next = 0;
        await Promise.all(
          Array.from({ length: inFlight }, async () => {
            while (next < updates) await client.put({ key: keyOf(next++), value });
          }),
        );
        return performance.now() - t;
      };
      const loadMs = await load();
      await sample(`after ${updates.toLocaleString("en-US")} updates`);
      const rev = (await client.status()).header.revision;
      const t = performance.now();
      await client.compact(rev, true);
      const compactMs = performance.now() - t;
      await sample("after compaction");
      await load();
      await sample("after the same load again");
      await client.compact((await client.status()).header.revision, true);
      await sample("after compacting again");
      console.log(
        `load ${Math.round(loadMs)} ms (${Math.round((updates * 1000) / loadMs).toLocaleString("en-US")} puts/s), compaction ${Math.round(compactMs)} ms`,
      );
    } catch (e) {
      console.error(m.log.slice(-3000));
      throw e;
    } finally {
      client.close();
    }
  } finally {
    await c.destroy();
    rmSync(c.root, { recursive: true, force: true });
  }
}

if (part === "both" || part === "store") await inProcess();
if (part === "both" || part === "process") await realProcess();
