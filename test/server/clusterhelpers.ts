// Shared helpers for the tests that drive a real three-member Synod cluster with real clients.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import {
  type CtlResult,
  etcdctl,
  ProcessCluster,
  type ProcessMember,
  waitFor,
} from "../../src/testing/procs.js";

/** The compiled server, resolved from the working directory (tests run with cwd = repo root). */
export const mainJs = join(process.cwd(), "dist/src/cli/main.js");

/** Milliseconds a cluster has to elect a leader and publish every member's client URL. */
const clusterReadyMs = 20_000;

/** `--initial-cluster` for the given members only. */
export function initialClusterOf(members: readonly ProcessMember[]): string {
  return members.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(",");
}

/**
 * Allocates `spare + 3` members, starts the first three as a new cluster and waits until a
 * leader serves writes and every member has published its client URL. The spare members are
 * allocated (ports, data directories) but not started. The caller destroys the cluster.
 */
export async function startThree(spare = 0): Promise<ProcessCluster> {
  const c = await ProcessCluster.create(3 + spare, mainJs);
  const founders = c.members.slice(0, 3);
  const initial = initialClusterOf(founders);
  try {
    for (const m of founders) c.start(m, "new", initial);
    await waitFor(
      "a leader that commits writes",
      async () => (await etcdctl(c.endpoints(founders), ["put", "/ready", "1"], "1s")).code === 0,
      clusterReadyMs,
    );
    await waitFor(
      "every member published its client URL",
      async () => {
        const list = await etcdctl(c.endpoints(founders), ["member", "list"], "1s");
        return founders.every((m) => list.stdout.includes(`http://127.0.0.1:${m.clientPort}, false`));
      },
      clusterReadyMs,
    );
  } catch (e) {
    const logs = founders.map((m) => `--- ${m.name}\n${m.log.slice(-4000)}`).join("\n");
    await c.destroy();
    throw new Error(`${String(e)}\n${logs}`);
  }
  return c;
}

/** The three founding members. */
export function foundersOf(c: ProcessCluster): [ProcessMember, ProcessMember, ProcessMember] {
  const [a, b, d] = c.members;
  assert.ok(a !== undefined && b !== undefined && d !== undefined);
  return [a, b, d];
}

/** Runs etcdctl with `input` on stdin (for `txn` and values too large for argv). */
export function etcdctlIn(endpoints: string, args: readonly string[], input: string): Promise<CtlResult> {
  return etcdctl(endpoints, args, "5s", input);
}

/** A long-running etcdctl (watch, lock, elect) whose output is collected as it arrives. */
export interface CtlProcess {
  readonly proc: ChildProcess;
  /** Everything written to stdout so far. */
  out: string;
  err: string;
  /** Set once the process has exited. */
  exited: boolean;
  readonly exit: Promise<void>;
}

/** Long-running etcdctl processes started by {@link spawnCtl}, killed by {@link killAllCtl}. */
const running = new Set<CtlProcess>();

/** Starts `etcdctl --endpoints=<endpoints> <args>` in the background; see {@link killAllCtl}. */
export function spawnCtl(endpoints: string, args: readonly string[]): CtlProcess {
  const proc = spawn("etcdctl", [`--endpoints=${endpoints}`, "--dial-timeout=2s", ...args], {
    env: { ...process.env, ETCDCTL_API: "3" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let markExited = (): void => undefined;
  const p: CtlProcess = {
    proc,
    out: "",
    err: "",
    exited: false,
    exit: new Promise<void>((resolve) => {
      markExited = resolve;
    }),
  };
  proc.stdout?.on("data", (b: Buffer) => {
    p.out += b.toString();
  });
  proc.stderr?.on("data", (b: Buffer) => {
    p.err += b.toString();
  });
  proc.once("error", () => undefined);
  proc.once("exit", () => {
    p.exited = true;
    running.delete(p);
    markExited();
  });
  running.add(p);
  return p;
}

/** Sends `signal` to a spawned etcdctl and waits (at most `ms`) for it to exit. */
export async function stopCtl(p: CtlProcess, signal: NodeJS.Signals, ms = 5000): Promise<void> {
  if (p.exited) return;
  p.proc.kill(signal);
  await within(p.exit, ms, `etcdctl ${String(p.proc.pid)} exiting on ${signal}`);
}

/** SIGKILLs every etcdctl started by {@link spawnCtl} that is still running. */
export async function killAllCtl(): Promise<void> {
  for (const p of [...running]) {
    p.proc.kill("SIGKILL");
    await p.exit;
  }
}

/** Waits until `p` has printed `text` (bounded), failing with what it printed otherwise. */
export async function waitForOutput(p: CtlProcess, text: string, ms = 5000): Promise<void> {
  try {
    await waitFor(`output ${JSON.stringify(text)}`, () => Promise.resolve(p.out.includes(text)), ms);
  } catch (e) {
    throw new Error(`${String(e)}; stdout so far ${JSON.stringify(p.out)}, stderr ${JSON.stringify(p.err)}`);
  }
}

/**
 * Parses etcdctl's JSON, keeping integers of 16 or more digits (64-bit ids) as exact strings;
 * JSON.parse would round them to the nearest double.
 */
export function parseExact(text: string): unknown {
  return JSON.parse(text.replace(/([:[,]\s*)(\d{16,})(?=\s*[,\]}])/g, '$1"$2"'));
}

/** The response header etcdctl prints with `-w json`. */
export interface JsonHeader {
  readonly cluster_id: string | number;
  readonly member_id: string | number;
  readonly revision: number;
  readonly raft_term: number;
}

/** One entry of `etcdctl endpoint status -w json`. */
export interface JsonStatus {
  readonly Endpoint: string;
  readonly Status: {
    readonly header: JsonHeader;
    readonly leader: string | number;
    readonly raftTerm: number;
    readonly raftIndex: number;
    readonly raftAppliedIndex: number;
    readonly isLearner?: boolean;
  };
}

/** `endpoint status -w json` of each given member (exact ids as bigint), or null on failure. */
export async function statusOf(endpoints: string): Promise<JsonStatus[] | null> {
  const r = await etcdctl(endpoints, ["endpoint", "status", "-w", "json"], "2s");
  if (r.code !== 0) return null;
  return parseExact(r.stdout) as JsonStatus[];
}

/** The leader's member id (hex) as the given member reports it, or null. */
export async function leaderHex(endpoints: string): Promise<string | null> {
  const s = await statusOf(endpoints);
  const leader = s?.[0]?.Status.leader;
  if (leader === undefined || String(leader) === "0") return null;
  return BigInt(leader).toString(16);
}

/** Member ids (hex) by client port, from `etcdctl member list`. */
export async function memberIds(endpoints: string): Promise<Map<number, string>> {
  const r = await etcdctl(endpoints, ["member", "list"]);
  assert.equal(r.code, 0, r.stderr);
  const ids = new Map<number, string>();
  for (const line of r.stdout.trim().split("\n")) {
    const fields = line.split(", ");
    const port = /:(\d+)$/.exec(fields[4] ?? "")?.[1];
    if (port !== undefined && fields[0] !== undefined) ids.set(Number(port), fields[0]);
  }
  return ids;
}

/** Sleeps `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves as `p` does, or rejects after `ms` naming `what`; the timer never outlives the race. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
