/**
 * The chaos harness's cluster runner: 3 or 5 real `synod` processes on 127.0.0.1, each with its
 * own client port, real peer port, fault proxy ({@link PeerProxy}) in front of that peer port,
 * data directory and log file under the run folder. The harness starts, stops (SIGTERM), kills
 * (SIGKILL), pauses (SIGSTOP), resumes (SIGCONT) and restarts members, removes and re-adds them
 * through the etcd API, and slows their disks.
 *
 * Every process started is tracked by pid; {@link ChaosCluster.destroy} kills them all, and so do
 * the exit/signal hooks installed by {@link installCleanup}, so no member outlives the harness
 * (except if the harness itself is SIGKILLed: Node cannot ask the kernel for a parent-death signal).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { memberIdOf } from "../../server/ids.js";
import { freePort } from "../procs.js";
import { AdminClient } from "./admin.js";
import { FaultNetwork, PeerProxy } from "./proxy.js";

/** Life-cycle state of a member as the harness sees it. */
export type MemberState = "running" | "paused" | "stopped" | "removed";

/** One member of a {@link ChaosCluster}. */
export interface ChaosMember {
  readonly name: string;
  readonly clientPort: number;
  /** The port the member listens on for peers (`--listen-peer-urls`). */
  readonly peerPort: number;
  /** The port of its fault proxy, which it advertises to peers. */
  readonly proxyPort: number;
  /** Its member id (derived from the advertised peer URL and the cluster token). */
  readonly id: number;
  readonly dataDir: string;
  readonly logFile: string;
  /** The file the member's slow-disk hook reads (milliseconds of delay per fdatasync). */
  readonly fsyncDelayFile: string;
  proc: ChildProcess | null;
  state: MemberState;
  /** How many times its data directory was wiped (removed and re-added). */
  incarnation: number;
  /** Starts so far (for the log file's markers). */
  starts: number;
}

/** Options of {@link ChaosCluster.create}. */
export interface ChaosClusterOptions {
  /** Number of members, 3 or 5. */
  readonly nodes: number;
  /** The run folder: data directories and logs go under it. */
  readonly dir: string;
  /** Raft heartbeat in ms (default 100). */
  readonly heartbeatMs?: number;
  /** Election timeout in ms (default 1000). */
  readonly electionMs?: number;
  /** `--snapshot-count` (default 2000, so snapshots and snapshot transfers happen in a run). */
  readonly snapshotCount?: number;
  /**
   * `--auto-compaction-retention` in periodic mode (a duration such as "20s"; default "20s"; "0" =
   * off): the leader compacts through the log, so watchers that resume far back meet compacted
   * revisions. (Revision mode compacts only every 5 minutes, as etcd.)
   */
  readonly compactionRetention?: string;
  /** The value of `SYNOD_TEST_BUG` for every member (a deliberately broken mode), if any. */
  readonly bug?: string;
  /** The compiled `synod` entry point (default: `dist/src/cli/main.js` of this build). */
  readonly mainJs?: string;
  /** Called for every life-cycle event (for the run's event log). */
  readonly onEvent?: (kind: string, detail: string) => void;
}

/** Every pid started by any cluster in this process and not seen exiting. */
const livePids = new Set<number>();
let cleanupInstalled = false;

/** Pids of member processes started and not seen exiting (any cluster of this process). */
export function liveMemberPids(): number[] {
  return [...livePids];
}

/** Kills every member process still alive (synchronously: usable from exit hooks). */
export function killAllMembers(): void {
  for (const pid of livePids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  livePids.clear();
}

/**
 * Installs process hooks that kill every member on exit, on SIGINT/SIGTERM/SIGHUP (then exit
 * with 130/143/129) and on an uncaught exception. Idempotent.
 */
export function installCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on("exit", killAllMembers);
  const codes: Record<string, number> = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 };
  for (const [signal, code] of Object.entries(codes)) {
    process.once(signal as NodeJS.Signals, () => {
      killAllMembers();
      process.exit(code);
    });
  }
  process.on("uncaughtException", (e) => {
    killAllMembers();
    process.stderr.write(`chaos: uncaught exception: ${e.stack ?? String(e)}\n`);
    process.exit(2);
  });
}

/** The compiled synod entry point next to this file in the same build. */
export function defaultMainJs(): string {
  return fileURLToPath(new URL("../../cli/main.js", import.meta.url));
}

/** A cluster of real synod processes behind fault proxies; see the file comment. */
export class ChaosCluster {
  readonly members: ChaosMember[] = [];
  readonly network = new FaultNetwork();
  readonly dir: string;
  readonly token: string;
  readonly heartbeatMs: number;
  readonly electionMs: number;
  readonly options: ChaosClusterOptions;
  readonly mainJs: string;
  readonly admin: AdminClient;
  #destroyed = false;

  private constructor(options: ChaosClusterOptions) {
    this.options = options;
    this.dir = options.dir;
    this.token = `chaos-${process.pid}-${Date.now()}`;
    this.heartbeatMs = options.heartbeatMs ?? 100;
    this.electionMs = options.electionMs ?? 1000;
    this.mainJs = options.mainJs ?? defaultMainJs();
    this.admin = new AdminClient(this);
  }

  /** Allocates ports, directories and proxies for `options.nodes` members (none started). */
  static async create(options: ChaosClusterOptions): Promise<ChaosCluster> {
    const c = new ChaosCluster(options);
    mkdirSync(c.dir, { recursive: true });
    mkdirSync(join(c.dir, "logs"), { recursive: true });
    for (let i = 1; i <= options.nodes; i++) {
      const name = `n${i}`;
      const proxyPort = await freePort();
      const m: ChaosMember = {
        name,
        clientPort: await freePort(),
        peerPort: await freePort(),
        proxyPort,
        id: memberIdOf([peerUrl(proxyPort)], c.token),
        dataDir: join(c.dir, "data", name),
        logFile: join(c.dir, "logs", `${name}.log`),
        fsyncDelayFile: join(c.dir, "data", `${name}.fsync-delay-ms`),
        proc: null,
        state: "stopped",
        incarnation: 0,
        starts: 0,
      };
      mkdirSync(join(c.dir, "data"), { recursive: true });
      writeFileSync(m.fsyncDelayFile, "0\n");
      const proxy = new PeerProxy(name, proxyPort, m.peerPort);
      await proxy.listen();
      c.network.add(name, m.id, proxy);
      c.members.push(m);
    }
    return c;
  }

  member(name: string): ChaosMember {
    const m = this.members.find((x) => x.name === name);
    if (m === undefined) throw new Error(`chaos: no member '${name}'`);
    return m;
  }

  /** Members that are part of the cluster's configuration (not removed). */
  inCluster(): ChaosMember[] {
    return this.members.filter((m) => m.state !== "removed");
  }

  /** Members whose process runs and is not paused. */
  live(): ChaosMember[] {
    return this.members.filter((m) => m.state === "running");
  }

  /** `--initial-cluster` for `members` (default: every member in the configuration). */
  initialCluster(members: readonly ChaosMember[] = this.inCluster()): string {
    return members.map((m) => `${m.name}=${peerUrl(m.proxyPort)}`).join(",");
  }

  /** The client endpoint `host:port` of `m`. */
  endpoint(m: ChaosMember): string {
    return `127.0.0.1:${m.clientPort}`;
  }

  /** Starts every member as a new cluster and waits until one of them reports a leader. */
  async startAll(): Promise<void> {
    for (const m of this.members) this.start(m, "new");
    const deadline = Date.now() + 30_000;
    while ((await this.admin.leader()) === null) {
      if (Date.now() > deadline) throw new Error("chaos: no leader 30 s after starting the cluster");
      const dead = this.members.find((m) => m.proc === null);
      if (dead !== undefined) {
        const tail = readFileSync(dead.logFile, "utf8").split("\n").slice(-15).join("\n");
        throw new Error(`chaos: ${dead.name} exited while the cluster started; its log ends:\n${tail}`);
      }
      await sleep(100);
    }
  }

  /**
   * Starts member `m`'s process (`existing` to join a running cluster, with `initialCluster`
   * naming the current configuration plus `m`).
   */
  start(m: ChaosMember, state: "new" | "existing" = "new", initialCluster = this.initialCluster()): void {
    if (this.#destroyed) throw new Error("chaos: cluster destroyed");
    if (m.proc !== null) throw new Error(`chaos: ${m.name} is already running`);
    m.starts++;
    const fd = openSync(m.logFile, "a");
    writeFileSync(fd, `--- chaos: start #${m.starts} (${state}) at ${new Date().toISOString()}\n`);
    const env: NodeJS.ProcessEnv = { ...process.env, SYNOD_TEST_FSYNC_DELAY_FILE: m.fsyncDelayFile };
    if (this.options.bug !== undefined) env.SYNOD_TEST_BUG = this.options.bug;
    const compaction = this.options.compactionRetention ?? "20s";
    const args = [
      this.mainJs,
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--listen-client-urls=http://127.0.0.1:${m.clientPort}`,
      `--advertise-client-urls=http://127.0.0.1:${m.clientPort}`,
      `--listen-peer-urls=http://127.0.0.1:${m.peerPort}`,
      `--initial-advertise-peer-urls=${peerUrl(m.proxyPort)}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-token=${this.token}`,
      `--initial-cluster-state=${state}`,
      `--heartbeat-interval=${this.heartbeatMs}`,
      `--election-timeout=${this.electionMs}`,
      `--snapshot-count=${this.options.snapshotCount ?? 2000}`,
      ...(compaction !== "0"
        ? ["--auto-compaction-mode=periodic", `--auto-compaction-retention=${compaction}`]
        : []),
    ];
    const proc = spawn(process.execPath, args, { stdio: ["ignore", fd, fd], env });
    closeSync(fd);
    const pid = proc.pid;
    if (pid !== undefined) livePids.add(pid);
    m.proc = proc;
    m.state = "running";
    proc.once("exit", (code, signal) => {
      if (pid !== undefined) livePids.delete(pid);
      if (m.proc === proc) {
        // An exit the harness did not cause (a crash): record it, the nemeses will restart it.
        m.proc = null;
        if (m.state !== "removed") m.state = "stopped";
        this.#event("exit", `${m.name} exited on its own (${signal ?? code})`);
      }
    });
    this.#event("start", `${m.name} pid ${pid ?? "?"} (${state})`);
  }

  /** SIGKILLs `m` and waits for it to exit. */
  async kill(m: ChaosMember): Promise<void> {
    await this.#terminate(m, "SIGKILL");
  }

  /** SIGTERMs `m` (graceful stop; SIGKILL after `graceMs`) and waits for it to exit. */
  async stop(m: ChaosMember, graceMs = 5000): Promise<void> {
    await this.#terminate(m, "SIGTERM", graceMs);
  }

  /** SIGSTOPs `m`. */
  pause(m: ChaosMember): void {
    if (m.proc === null || m.state !== "running") return;
    m.proc.kill("SIGSTOP");
    m.state = "paused";
  }

  /** SIGCONTs `m`. */
  resume(m: ChaosMember): void {
    if (m.proc === null || m.state !== "paused") return;
    m.proc.kill("SIGCONT");
    m.state = "running";
  }

  /** Kills `m` (SIGKILL unless told otherwise) and starts it again on the same data directory. */
  async restart(m: ChaosMember, signal: "SIGKILL" | "SIGTERM" = "SIGKILL"): Promise<void> {
    await this.#terminate(m, signal);
    this.start(m, "existing");
  }

  /** Sets `m`'s per-fdatasync delay (0 = a normal disk). */
  setFsyncDelay(m: ChaosMember, ms: number): void {
    writeFileSync(m.fsyncDelayFile, `${ms}\n`);
  }

  /**
   * Moves `m`'s data directory aside (kept under the run folder for post-mortems), as if the
   * disk was replaced. The member must not be running.
   */
  wipe(m: ChaosMember): void {
    if (m.proc !== null) throw new Error(`chaos: wipe of running member ${m.name}`);
    m.incarnation++;
    if (existsSync(m.dataDir)) renameSync(m.dataDir, `${m.dataDir}.wiped-${m.incarnation}`);
  }

  /** Kills every process, closes the proxies. Idempotent. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const m of this.members) {
      if (m.proc !== null) await this.#terminate(m, "SIGKILL");
    }
    await this.network.close();
  }

  async #terminate(m: ChaosMember, signal: NodeJS.Signals, graceMs = 5000): Promise<void> {
    const proc = m.proc;
    if (proc === null) return;
    m.proc = null;
    if (m.state !== "removed") m.state = "stopped";
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    // A paused process must run again to act on SIGTERM.
    if (signal !== "SIGKILL") proc.kill("SIGCONT");
    proc.kill(signal);
    const escalate = signal === "SIGKILL" ? null : setTimeout(() => proc.kill("SIGKILL"), graceMs);
    await exited;
    if (escalate !== null) clearTimeout(escalate);
  }

  #event(kind: string, detail: string): void {
    this.options.onEvent?.(kind, detail);
  }
}

/** The peer URL advertised for a proxy port. */
export function peerUrl(port: number): string {
  return `http://127.0.0.1:${port}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
