import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Every port {@link freePort} has handed out in this process. */
const issuedPorts = new Set<number>();

/**
 * A port that was free a moment ago on 127.0.0.1 (bound to port 0, then released), never one this
 * process was handed before: the kernel may give a just-released port to the next bind to port 0,
 * and two listeners of one cluster must not be told the same port.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await boundAndReleased();
    if (!issuedPorts.has(port)) {
      issuedPorts.add(port);
      return port;
    }
  }
}

function boundAndReleased(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** One member of a {@link ProcessCluster}. */
export interface ProcessMember {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  proc: ChildProcess | null;
  log: string;
}

/**
 * Real `synod` processes (the compiled `dist/src/cli/main.js`) on 127.0.0.1 with free ports and
 * their own data directories, for integration tests with real clients. Every process started is
 * tracked by pid and killed by {@link destroy}, which tests call in `finally`.
 */
export class ProcessCluster {
  readonly members: ProcessMember[] = [];
  readonly root: string;
  readonly token: string;
  readonly mainJs: string;
  readonly extraArgs: readonly string[];
  /** `https` when the members serve clients over TLS (the TLS flags go in `extraArgs`). */
  readonly clientScheme: "http" | "https";
  /** `https` when the members talk to each other over TLS. */
  readonly peerScheme: "http" | "https";

  private constructor(
    root: string,
    mainJs: string,
    extraArgs: readonly string[],
    schemes: { readonly client?: "http" | "https"; readonly peer?: "http" | "https" },
  ) {
    this.root = root;
    this.token = `test-${process.pid}-${Date.now()}`;
    this.mainJs = mainJs;
    this.extraArgs = extraArgs;
    this.clientScheme = schemes.client ?? "http";
    this.peerScheme = schemes.peer ?? "http";
  }

  /**
   * Allocates `n` members (ports and directories) without starting them. `schemes` chooses
   * `https://` client and peer URLs (default `http://`); the certificate flags go in `extraArgs`.
   */
  static async create(
    n: number,
    mainJs: string,
    extraArgs: readonly string[] = [],
    schemes: { readonly client?: "http" | "https"; readonly peer?: "http" | "https" } = {},
  ): Promise<ProcessCluster> {
    const c = new ProcessCluster(mkdtempSync(join(tmpdir(), "synod-procs-")), mainJs, extraArgs, schemes);
    for (let i = 1; i <= n; i++) {
      c.members.push({
        name: `m${i}`,
        clientPort: await freePort(),
        peerPort: await freePort(),
        dataDir: join(c.root, `m${i}`),
        proc: null,
        log: "",
      });
    }
    return c;
  }

  get initialCluster(): string {
    return this.members.map((m) => `${m.name}=${this.peerScheme}://127.0.0.1:${m.peerPort}`).join(",");
  }

  /** Comma-separated client endpoints of the members (or of the given ones). */
  endpoints(members: readonly ProcessMember[] = this.members): string {
    return members.map((m) => `127.0.0.1:${m.clientPort}`).join(",");
  }

  /**
   * Starts member `m` (state `new` unless given); its output is kept in `m.log`. `memberArgs` come
   * last, so they override `extraArgs` for this member (a repeated flag takes its last value).
   */
  start(
    m: ProcessMember,
    state: "new" | "existing" = "new",
    initialCluster = this.initialCluster,
    memberArgs: readonly string[] = [],
  ): void {
    const client = `${this.clientScheme}://127.0.0.1:${m.clientPort}`;
    const peer = `${this.peerScheme}://127.0.0.1:${m.peerPort}`;
    const proc = spawn(
      process.execPath,
      [
        this.mainJs,
        `--name=${m.name}`,
        `--data-dir=${m.dataDir}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=${initialCluster}`,
        `--initial-cluster-token=${this.token}`,
        `--initial-cluster-state=${state}`,
        ...this.extraArgs,
        ...memberArgs,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    m.proc = proc;
    const append = (b: Buffer): void => {
      m.log += b.toString();
      if (m.log.length > 1_000_000) m.log = m.log.slice(-500_000);
    };
    proc.stdout?.on("data", append);
    proc.stderr?.on("data", append);
  }

  /**
   * Kills member `m` with `signal` and waits for it to exit; a process that has not exited
   * `graceMs` after a gentler signal is killed with SIGKILL.
   */
  async kill(m: ProcessMember, signal: NodeJS.Signals = "SIGKILL", graceMs = 10_000): Promise<void> {
    const proc = m.proc;
    if (proc === null) return;
    m.proc = null;
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill(signal);
    const escalate = signal === "SIGKILL" ? null : setTimeout(() => proc.kill("SIGKILL"), graceMs);
    await exited;
    if (escalate !== null) clearTimeout(escalate);
  }

  /** Kills every process started and removes the data directories. */
  async destroy(): Promise<void> {
    for (const m of this.members) await this.kill(m);
    rmSync(this.root, { recursive: true, force: true });
  }
}

/** The result of one etcdctl run. */
export interface CtlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs Debian's etcdctl (v3 API) against `endpoints`, with `input` on its stdin if given; rejects
 * if etcdctl is not installed (tests fail, never skip, without it).
 */
export function etcdctl(
  endpoints: string,
  args: readonly string[],
  commandTimeout = "5s",
  input?: string,
): Promise<CtlResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      "etcdctl",
      [`--endpoints=${endpoints}`, "--dial-timeout=2s", `--command-timeout=${commandTimeout}`, ...args],
      { env: { ...process.env, ETCDCTL_API: "3" }, timeout: 30_000, maxBuffer: 8 << 20 },
      (error, stdout, stderr) => {
        if (error !== null && (error as NodeJS.ErrnoException).code === "ENOENT") {
          reject(new Error("etcdctl is not installed (apt-get install -y etcd-client)"));
          return;
        }
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Polls `f` every 50 ms until it returns true, failing after `ms`. */
export async function waitFor(what: string, f: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await f()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
