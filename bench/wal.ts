// `npm run bench:wal`: how fast the WAL makes records durable on this machine's disk.
// 1. The raw fdatasync rate of the disk: 4 KiB appends to a growing file, each followed by
//    fdatasync (and, for comparison, 4 KiB overwrites of a preallocated file).
// 2. WAL throughput for 256-byte entries at batch sizes 1, 10, 100 and 1000 entries per save,
//    one save awaited after another (each save is one write and one fdatasync), with the default
//    64 MiB preallocated segments; plus 64 concurrent savers of one entry each (group commit).
// Targets (issue 3): batch 1 within 90% of the raw append fdatasync rate; batch 1000 at least
// 200,000 records/s. Temporary files go to $BENCH_DIR or the OS temp directory.
import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Entry } from "../src/raft/types.js";
import { Wal } from "../src/wal/wal.js";

const secondsPerCase = Number(process.env.BENCH_SECONDS ?? 3);
const recordBytes = 256;
const root = process.env.BENCH_DIR ?? tmpdir();

function call<T>(f: (cb: (err: NodeJS.ErrnoException | null, v: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => f((err, v) => (err === null ? resolve(v) : reject(err))));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1] ?? 0;
}

/** Syncs/s and median µs of 4 KiB writes each followed by fdatasync. */
async function rawSyncRate(preallocated: boolean): Promise<{ rate: number; medianUs: number }> {
  const dir = fs.mkdtempSync(join(root, "synod-bench-raw-"));
  const path = join(dir, "raw");
  const block = new Uint8Array(4096).fill(7);
  const count = 2000;
  const fd = fs.openSync(path, "w+");
  try {
    if (preallocated) {
      const zeros = new Uint8Array(1 << 20);
      for (let at = 0; at < count * 4096 + (1 << 20); at += zeros.length)
        fs.writeSync(fd, zeros, 0, zeros.length, at);
      fs.fdatasyncSync(fd);
    }
    const lat: number[] = [];
    const warmup = 20;
    let start = 0;
    for (let i = 0; i < warmup + count; i++) {
      if (i === warmup) start = performance.now();
      const t = performance.now();
      await call<number>((cb) => fs.write(fd, block, 0, block.length, i * 4096, cb));
      await call<void>((cb) => fs.fdatasync(fd, (err) => cb(err, undefined)));
      if (i >= warmup) lat.push(performance.now() - t);
    }
    const seconds = (performance.now() - start) / 1000;
    return { rate: count / seconds, medianUs: median(lat) * 1000 };
  } finally {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function batchOf(from: number, n: number): Entry[] {
  const data = new Uint8Array(recordBytes).fill(0x5a);
  return Array.from({ length: n }, (_, i) => ({ index: from + i, term: 1, type: 0 as const, data }));
}

interface WalResult {
  records: number;
  seconds: number;
  saves: number;
  syncs: number;
  medianUs: number;
}

/** Saves `batch` entries per save, `concurrency` saves at a time, for the configured duration. */
async function walThroughput(batch: number, concurrency: number): Promise<WalResult> {
  const dir = fs.mkdtempSync(join(root, "synod-bench-wal-"));
  const wal = await Wal.open(dir);
  try {
    let next = 1;
    let records = 0;
    const lat: number[] = [];
    const syncs0 = wal.stats.syncs;
    const saves0 = wal.stats.requests;
    const start = performance.now();
    const deadline = start + secondsPerCase * 1000;
    const worker = async (): Promise<void> => {
      while (performance.now() < deadline) {
        const es = batchOf(next, batch);
        next += batch;
        const t = performance.now();
        await wal.save({ entries: es, hardState: { term: 1, vote: 0, commit: next - 1 } });
        lat.push(performance.now() - t);
        records += batch;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = (performance.now() - start) / 1000;
    return {
      records,
      seconds,
      saves: wal.stats.requests - saves0,
      syncs: wal.stats.syncs - syncs0,
      medianUs: median(lat) * 1000,
    };
  } finally {
    await wal.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

const raw = await rawSyncRate(false);
const rawPre = await rawSyncRate(true);
console.log(`disk: ${root}, ${secondsPerCase} s per WAL case, ${recordBytes}-byte records`);
console.log(`raw fdatasync, 4 KiB appends (file grows):  ${fmt(raw.rate)}/s, median ${fmt(raw.medianUs)} µs`);
console.log(
  `raw fdatasync, 4 KiB preallocated overwrite: ${fmt(rawPre.rate)}/s, median ${fmt(rawPre.medianUs)} µs`,
);
console.log("");
console.log("| batch | concurrent saves | records/s | MB/s | saves/s | fdatasyncs/s | median save µs |");
console.log("|---:|---:|---:|---:|---:|---:|---:|");
const results = new Map<string, WalResult>();
for (const [batch, concurrency] of [
  [1, 1],
  [10, 1],
  [100, 1],
  [1000, 1],
  [1, 64],
] as const) {
  const r = await walThroughput(batch, concurrency);
  results.set(`${batch}x${concurrency}`, r);
  const rps = r.records / r.seconds;
  console.log(
    `| ${batch} | ${concurrency} | ${fmt(rps)} | ${fmt((rps * recordBytes) / 1e6, 1)} | ${fmt(r.saves / r.seconds)} | ${fmt(r.syncs / r.seconds)} | ${fmt(r.medianUs)} |`,
  );
}
const one = results.get("1x1") as WalResult;
const thousand = results.get("1000x1") as WalResult;
const ratio = one.records / one.seconds / raw.rate;
const big = thousand.records / thousand.seconds;
console.log("");
console.log(
  `target batch 1 >= 90% of raw append fdatasync rate: ${fmt(ratio * 100, 1)}% ${ratio >= 0.9 ? "PASS" : "FAIL"}`,
);
console.log(
  `(batch 1 vs raw preallocated overwrite, the same kind of write: ${fmt((ratio * raw.rate * 100) / rawPre.rate, 1)}%)`,
);
console.log(`target batch 1000 >= 200,000 records/s: ${fmt(big)} ${big >= 200_000 ? "PASS" : "FAIL"}`);
