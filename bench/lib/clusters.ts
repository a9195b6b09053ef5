/**
 * Three-member etcd and Synod clusters as real processes on 127.0.0.1 (free ports, data under one
 * folder), started with the same settings, and stopped by pid. Every process started is kept in
 * a registry so that a signal handler or the exit hook can kill whatever is still running.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { EtcdClient } from "../../src/api/etcd/client/mod.js";
import { freePort } from "../../src/testing/procs.js";

/** Settings both clusters share. */
export interface ClusterSettings {
  /** Milliseconds between heartbeats (etcd's --heartbeat-interval). */
  readonly heartbeatMs: number;
  /** Election timeout in milliseconds (etcd's --election-timeout). */
  readonly electionMs: number;
  /** Members (default 3). */
  readonly size: number;
  /** Extra flags for every member. */
  readonly extraArgs?: readonly string[];
}

/** One member process. */
export interface BenchMember {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  readonly proc: ChildProcess;
  /** The last part of its output (for failure reports). */
  log: string;
}

/** The kernel's USER_HZ (the unit of /proc/<pid>/stat times): 100 on Linux. */
const clockTicksPerSecond = 100;

/** Every process started and not yet seen to exit, by pid. */
const live = new Map<number, ChildProcess>();

/** Kills (SIGKILL) every member still running: for exit hooks. Synchronous. */
export function killAllSync(): void {
  for (const [pid, p] of live) {
    if (p.exitCode === null && p.signalCode === null) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  }
  live.clear();
}

/** A running cluster. */
export class BenchCluster {
  readonly kind: "etcd" | "synod";
  readonly members: BenchMember[];

  constructor(kind: "etcd" | "synod", members: BenchMember[]) {
    this.kind = kind;
    this.members = members;
  }

  /** Client endpoints ("127.0.0.1:port"). */
  get endpoints(): string[] {
    return this.members.map((m) => `127.0.0.1:${m.clientPort}`);
  }

  /** Waits until every member answers and they agree on a leader; returns the leader's endpoint. */
  async waitReady(timeoutMs = 30_000): Promise<string> {
    const c = new EtcdClient({ endpoints: this.endpoints, dialTimeoutMs: 500, defaultTimeoutMs: 1000 });
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        for (const m of this.members) {
          if (m.proc.exitCode !== null || m.proc.signalCode !== null) {
            throw new Error(
              `${this.kind} member ${m.name} exited (${m.proc.exitCode ?? m.proc.signalCode}):\n${m.log.slice(-3000)}`,
            );
          }
        }
        try {
          const st = await Promise.all(this.endpoints.map((e) => c.status({ endpoint: e })));
          const leaders = new Set(st.map((s) => s.leader));
          const leader = st[0]?.leader ?? 0n;
          if (leaders.size === 1 && leader !== 0n) {
            await c.put({ key: "bench-ready", value: "1" });
            const i = st.findIndex((s) => s.header.memberId === leader);
            return this.endpoints[i] ?? (this.endpoints[0] as string);
          }
        } catch {
          // Not yet.
        }
        if (Date.now() > deadline) throw new Error(`${this.kind} cluster not ready after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      c.close();
    }
  }

  /** The leader's endpoint now. */
  async leader(): Promise<string> {
    const c = new EtcdClient({ endpoints: this.endpoints });
    try {
      const st = await Promise.all(this.endpoints.map((e) => c.status({ endpoint: e })));
      const i = st.findIndex((s) => s.header.memberId === s.leader);
      return this.endpoints[Math.max(0, i)] as string;
    } finally {
      c.close();
    }
  }

  /** Resident set size of each member, in bytes (from /proc). */
  rss(): number[] {
    return this.members.map((m) => {
      const pid = m.proc.pid;
      if (pid === undefined) return 0;
      try {
        const status = readFileSync(`/proc/${pid}/status`, "utf8");
        const kb = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
        return kb === undefined ? 0 : Number(kb) * 1024;
      } catch {
        return 0;
      }
    });
  }

  /** CPU time (user + system) the members have used so far, in seconds (from /proc; 10 ms resolution). */
  cpuSeconds(): number {
    let ticks = 0;
    for (const m of this.members) {
      const pid = m.proc.pid;
      if (pid === undefined) continue;
      try {
        // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        ticks += Number(rest[11] ?? 0) + Number(rest[12] ?? 0);
      } catch {
        // Exited.
      }
    }
    return ticks / clockTicksPerSecond;
  }

  /** Stops every member: SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    await Promise.all(
      this.members.map(async (m) => {
        const p = m.proc;
        const pid = p.pid;
        if (pid === undefined || p.exitCode !== null || p.signalCode !== null) {
          if (pid !== undefined) live.delete(pid);
          return;
        }
        const exited = new Promise<void>((r) => p.once("exit", () => r()));
        p.kill("SIGTERM");
        const timer = setTimeout(() => p.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
        live.delete(pid);
      }),
    );
  }
}

/** How to start one kind of member. */
export interface Launcher {
  readonly kind: "etcd" | "synod";
  /** The command and its leading arguments (e.g. node, its flags and main.js). */
  readonly command: string;
  readonly prefixArgs: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

/** The etcd launcher (Debian's etcd-server package). */
export function etcdLauncher(): Launcher {
  return { kind: "etcd", command: "etcd", prefixArgs: [] };
}

/** The Synod launcher: this Node binary on `mainJs` with extra Node flags (e.g. --cpu-prof). */
export function synodLauncher(mainJs: string, nodeArgs: readonly string[] = []): Launcher {
  return { kind: "synod", command: process.execPath, prefixArgs: [...nodeArgs, mainJs] };
}

/** Starts a cluster under `root/<kind>` and waits until it has a leader. */
export async function startCluster(
  root: string,
  launcher: Launcher,
  s: ClusterSettings,
): Promise<BenchCluster> {
  const dir = join(root, launcher.kind);
  mkdirSync(dir, { recursive: true });
  const specs: { name: string; clientPort: number; peerPort: number; dataDir: string }[] = [];
  for (let i = 1; i <= s.size; i++) {
    specs.push({
      name: `m${i}`,
      clientPort: await freePort(),
      peerPort: await freePort(),
      dataDir: join(dir, `m${i}`),
    });
  }
  const initial = specs.map((m) => `${m.name}=http://127.0.0.1:${m.peerPort}`).join(",");
  const members = specs.map((m): BenchMember => {
    const args = [
      ...launcher.prefixArgs,
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--listen-client-urls=http://127.0.0.1:${m.clientPort}`,
      `--advertise-client-urls=http://127.0.0.1:${m.clientPort}`,
      `--listen-peer-urls=http://127.0.0.1:${m.peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${m.peerPort}`,
      `--initial-cluster=${initial}`,
      `--initial-cluster-token=bench-${launcher.kind}-${process.pid}`,
      "--initial-cluster-state=new",
      `--heartbeat-interval=${s.heartbeatMs}`,
      `--election-timeout=${s.electionMs}`,
      "--log-level=warn",
      ...(launcher.kind === "etcd" ? ["--logger=zap"] : []),
      ...(s.extraArgs ?? []),
    ];
    const proc = spawn(launcher.command, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...launcher.env },
    });
    const member: BenchMember = { ...m, proc, log: "" };
    const append = (b: Buffer): void => {
      member.log += b.toString();
      if (member.log.length > 200_000) member.log = member.log.slice(-100_000);
    };
    proc.stdout?.on("data", append);
    proc.stderr?.on("data", append);
    proc.on("error", (e) => {
      member.log += `\nspawn failed: ${e.message}`;
    });
    if (proc.pid !== undefined) live.set(proc.pid, proc);
    proc.once("exit", () => {
      if (proc.pid !== undefined) live.delete(proc.pid);
    });
    return member;
  });
  const cluster = new BenchCluster(launcher.kind, members);
  try {
    await cluster.waitReady();
  } catch (e) {
    await cluster.stop(2000);
    throw e;
  }
  return cluster;
}

/** Whether a command is on the PATH. */
function onPath(cmd: string): boolean {
  return (process.env.PATH ?? "").split(":").some((d) => d !== "" && existsSync(join(d, cmd)));
}

/**
 * Makes sure Debian's `etcd` (and `etcdctl`) are installed: `apt-get install -y etcd-server
 * etcd-client` (running `apt-get update` once if the first attempt fails). Needs root.
 */
export function ensureEtcdInstalled(log: (line: string) => void): void {
  if (onPath("etcd") && onPath("etcdctl")) return;
  if (process.getuid?.() !== 0)
    throw new Error("etcd is not installed and this is not root: apt-get install -y etcd-server etcd-client");
  const install = (): void => {
    execFileSync("apt-get", ["install", "-y", "etcd-server", "etcd-client"], {
      stdio: "ignore",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  };
  log("installing etcd-server and etcd-client with apt-get ...");
  try {
    install();
  } catch {
    execFileSync("apt-get", ["update"], { stdio: "ignore" });
    install();
  }
  // The package may start a system etcd on 2379/2380; it is not ours to stop, and our ports are free ones.
  if (!onPath("etcd")) throw new Error("apt-get install etcd-server did not provide an 'etcd' binary");
}
