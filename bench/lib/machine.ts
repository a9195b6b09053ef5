/**
 * The machine's own limits, to read results against: the raw fdatasync rate of the disk the
 * data directories are on, and the TCP round trip over loopback between two processes.
 */
import { spawn } from "node:child_process";
import { closeSync, fdatasyncSync, openSync, rmSync, writeSync } from "node:fs";
import { connect } from "node:net";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { Recorder } from "./stats.js";

/** Raw fdatasync figures: appends of `bytes` each followed by fdatasync, for `ms`. */
export interface FsyncFigures {
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly bytes: number;
}

/** Appends `bytes` and fdatasyncs in a loop in `dir` for `ms` milliseconds. */
export function measureFdatasync(dir: string, ms = 2000, bytes = 4096): FsyncFigures {
  const path = join(dir, "fdatasync-probe");
  const fd = openSync(path, "w");
  const block = new Uint8Array(bytes).fill(0x61);
  const rec = new Recorder();
  try {
    const end = performance.now() + ms;
    const start = performance.now();
    while (performance.now() < end) {
      const t0 = performance.now();
      writeSync(fd, block);
      fdatasyncSync(fd);
      rec.push(performance.now() - t0);
    }
    const s = rec.summary();
    return { perSecond: rec.count / ((performance.now() - start) / 1000), p50Ms: s.p50, p99Ms: s.p99, bytes };
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
}

/** Loopback round trip: 1-byte ping-pong with an echo server in another process. */
export interface RttFigures {
  readonly p50Us: number;
  readonly p99Us: number;
  readonly count: number;
}

const echoServer = `
const net = require("node:net");
const s = net.createServer((c) => { c.setNoDelay(true); c.on("data", (d) => c.write(d)); });
s.listen(0, "127.0.0.1", () => process.stdout.write(String(s.address().port) + "\\n"));
`;

/** Measures loopback TCP round trips for `ms` milliseconds. */
export async function measureLoopbackRtt(ms = 1000): Promise<RttFigures> {
  const child = spawn(process.execPath, ["-e", echoServer], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout?.once("data", (b: Buffer) => resolve(Number(b.toString().trim())));
      child.once("exit", () => reject(new Error("echo server exited")));
    });
    const sock = connect(port, "127.0.0.1");
    sock.setNoDelay(true);
    await new Promise<void>((r) => sock.once("connect", () => r()));
    const rec = new Recorder();
    const end = performance.now() + ms;
    const one = Buffer.from([1]);
    await new Promise<void>((resolve) => {
      let t0 = performance.now();
      sock.on("data", () => {
        const now = performance.now();
        rec.push((now - t0) * 1000);
        if (now >= end) {
          resolve();
          return;
        }
        t0 = performance.now();
        sock.write(one);
      });
      sock.write(one);
    });
    sock.destroy();
    const s = rec.summary();
    return { p50Us: s.p50, p99Us: s.p99, count: rec.count };
  } finally {
    child.kill("SIGKILL");
  }
}

/** One line describing the machine: CPU model and count, memory, Node version. */
export function machineDescription(): string {
  const c = cpus();
  const model = c[0]?.model.trim() ?? "unknown CPU";
  return `${c.length} x ${model}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ${process.platform} ${process.arch}`;
}
