/**
 * The chaos nemeses: seeded, switchable fault schedules against a {@link ChaosCluster}.
 *
 * - `kill`: SIGKILL a member (the leader half of the time; one kill in five is a graceful
 *   SIGTERM stop instead), keep it down, restart it.
 * - `pause`: SIGSTOP a member (the leader half of the time) for longer than the election timeout,
 *   then SIGCONT.
 * - `partition`: majority/minority, isolate the leader, bridge, ring (partial connectivity) or a
 *   one-way cut around the leader, through the peer proxies, dropping or stalling (half-open)
 *   links; then heal.
 * - `member`: remove a member through the etcd API, kill it, wipe its data directory, add it back
 *   (same peer URL) and start it with `--initial-cluster-state existing`. It runs concurrently
 *   with the other faults, so membership changes meet kills, pauses and partitions.
 * - `disk`: slow every fdatasync of a member (the leader half of the time) by tens to hundreds of
 *   milliseconds for a while (the server's test-only SYNOD_TEST_FSYNC_DELAY_FILE hook).
 * - `clock`: accepted and logged as not applicable: no code path of the server whose behaviour
 *   matters for safety or liveness reads wall time (timers, ticks, leases and compaction use the
 *   monotonic clock; see docs/chaos.md).
 *
 * Every choice comes from one {@link SeededRng}; every fault is logged as `{time, kind, detail}`.
 * Each kind runs at least once early in the run (the first faults go round-robin over the enabled
 * kinds), then kinds are drawn at random.
 */
import { SeededRng } from "../../lib/rng.js";
import type { EventLog } from "./events.js";
import { type BlockMode, bridgeLinks, type DirectedLink, partitionLinks, ringLinks } from "./proxy.js";
import { type ChaosCluster, type ChaosMember, peerUrl, sleep } from "./runner.js";

/** The nemesis kinds `--nemesis` accepts (`all` = every one but `clock`). */
export const nemesisKinds = ["kill", "pause", "partition", "member", "disk", "clock"] as const;
export type NemesisKind = (typeof nemesisKinds)[number];

/** Parses `--nemesis` (comma-separated kinds, `all`, or `none`). */
export function parseNemeses(text: string): NemesisKind[] | string {
  const out = new Set<NemesisKind>();
  for (const part of text.split(",").map((s) => s.trim())) {
    if (part === "" || part === "none") continue;
    if (part === "all") {
      for (const k of nemesisKinds) if (k !== "clock") out.add(k);
      continue;
    }
    const k = nemesisKinds.find((x) => x === part);
    if (k === undefined)
      return `unknown nemesis '${part}' (expected ${nemesisKinds.join(", ")}, all or none)`;
    out.add(k);
  }
  return [...out];
}

/** The partition shapes the `partition` nemesis draws from. */
export const partitionShapes = ["majority", "isolate-leader", "bridge", "ring", "one-way"] as const;
export type PartitionShape = (typeof partitionShapes)[number];

/** Options of a {@link Nemesis}. */
export interface NemesisOptions {
  readonly kinds: readonly NemesisKind[];
  readonly seed: number;
  readonly events: EventLog;
  /** Scale of fault durations (default: the cluster's election timeout). */
  readonly unitMs?: number;
  /** Partition shapes to draw from (default: all of {@link partitionShapes}). */
  readonly shapes?: readonly PartitionShape[];
}

/** Faults injected, by kind (and partition shape). */
export type FaultCounts = Record<string, number>;

/** Time a membership change may take before the nemesis gives up on it (and retries later). */
const memberChangeMs = 20_000;

/** The fault scheduler; see the file comment. */
export class Nemesis {
  readonly counts: FaultCounts = {};
  readonly #cluster: ChaosCluster;
  readonly #rng: SeededRng;
  /** The membership lane's own source, so its draws do not shift the main lane's. */
  readonly #memberRng: SeededRng;
  readonly #kinds: readonly NemesisKind[];
  readonly #events: EventLog;
  readonly #unit: number;
  readonly #shapes: readonly PartitionShape[];
  /** Members some fault is working on now. */
  readonly #busy = new Set<string>();
  #stopped = false;
  #memberTask: Promise<void> | null = null;
  #main: Promise<void> | null = null;
  /** Wakes the sleeps in progress (cut short by {@link stop}). */
  readonly #sleepers = new Set<() => void>();

  constructor(cluster: ChaosCluster, options: NemesisOptions) {
    this.#cluster = cluster;
    this.#rng = new SeededRng(options.seed);
    this.#memberRng = new SeededRng(options.seed ^ 0x5bd1e995);
    this.#kinds = options.kinds;
    this.#events = options.events;
    this.#unit = options.unitMs ?? cluster.electionMs;
    this.#shapes = options.shapes ?? partitionShapes;
  }

  /** Starts the schedule in the background. */
  start(): void {
    this.#main = this.#run();
  }

  /** Stops scheduling, waits for the faults in progress to end (each undoes itself). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const wake of [...this.#sleepers]) wake();
    await this.#main;
    await this.#memberTask;
  }

  /** Undoes every fault: heals the network, normal disks, resumes, restarts, re-adds. */
  async healAll(): Promise<void> {
    const c = this.#cluster;
    c.network.heal();
    for (const m of c.members) {
      c.setFsyncDelay(m, 0);
      if (m.state === "paused") c.resume(m);
    }
    for (const m of c.members) {
      if (m.state === "stopped") c.start(m, "existing");
    }
    for (const m of c.members) if (m.state === "removed") await this.#readd(m, 60_000);
    this.#events.add("heal", "network healed, disks normal, every member running");
  }

  async #run(): Promise<void> {
    const kinds = this.#kinds;
    if (kinds.includes("clock"))
      this.#events.add("clock", "not applicable: the server reads no wall time that matters");
    const active = kinds.filter((k) => k !== "clock");
    if (active.length === 0) return;
    let round = 0;
    while (!this.#stopped) {
      await this.#pause(this.#between(0.5, 2));
      if (this.#stopped) break;
      const kind = round < active.length ? active[round] : this.#pick(active);
      round++;
      if (kind === undefined || kind === "clock") continue;
      if (kind === "member") {
        // Runs beside the other faults; one membership change at a time.
        if (this.#memberTask === null) {
          this.#memberTask = this.#memberChange().finally(() => {
            this.#memberTask = null;
          });
        }
        continue;
      }
      try {
        await this.#fault(kind);
      } catch (e) {
        this.#events.add("nemesis-error", `${kind}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }

  async #fault(kind: Exclude<NemesisKind, "member" | "clock">): Promise<void> {
    switch (kind) {
      case "kill":
        return this.#kill();
      case "pause":
        return this.#pauseFault();
      case "partition":
        return this.#partition();
      case "disk":
        return this.#disk();
    }
  }

  // ------------------------------------------------------------------ faults

  async #kill(): Promise<void> {
    const m = await this.#victim();
    if (m === null) return;
    this.#busy.add(m.name);
    try {
      const role = (await this.#isLeader(m)) ? "leader" : "follower";
      // Mostly crashes; one in five is a graceful stop (SIGTERM: in-flight requests finish).
      const graceful = this.#rng.float() < 0.2;
      if (graceful) await this.#cluster.stop(m);
      else await this.#cluster.kill(m);
      this.#count("kill");
      this.#events.add("kill", `${graceful ? "SIGTERM" : "SIGKILL"} ${m.name} (${role})`);
      await this.#pause(this.#between(0.3, 3));
      if (m.state === "stopped") {
        this.#cluster.start(m, "existing");
        this.#events.add("restart", `${m.name}`);
      }
    } finally {
      this.#busy.delete(m.name);
    }
  }

  async #pauseFault(): Promise<void> {
    const m = await this.#victim();
    if (m === null) return;
    this.#busy.add(m.name);
    try {
      const role = (await this.#isLeader(m)) ? "leader" : "follower";
      const ms = this.#between(1.5, 4);
      this.#cluster.pause(m);
      this.#count("pause");
      this.#events.add("pause", `SIGSTOP ${m.name} (${role}) for ${Math.round(ms)} ms`);
      await this.#pause(ms);
      this.#cluster.resume(m);
      this.#events.add("resume", `SIGCONT ${m.name}`);
    } finally {
      this.#busy.delete(m.name);
    }
  }

  async #disk(): Promise<void> {
    const m = await this.#victim();
    if (m === null) return;
    this.#busy.add(m.name);
    try {
      const delay = 20 + this.#rng.intBelow(380);
      const ms = this.#between(2, 5);
      this.#cluster.setFsyncDelay(m, delay);
      this.#count("disk");
      this.#events.add("disk", `${m.name}: +${delay} ms per fdatasync for ${Math.round(ms)} ms`);
      await this.#pause(ms);
      this.#cluster.setFsyncDelay(m, 0);
      this.#events.add("disk-heal", `${m.name}`);
    } finally {
      this.#busy.delete(m.name);
    }
  }

  async #partition(): Promise<void> {
    const names = this.#cluster.inCluster().map((m) => m.name);
    if (names.length < 3) return;
    const mode: BlockMode = this.#rng.float() < 0.5 ? "drop" : "stall";
    const leader = (await this.#cluster.admin.leader())?.name ?? null;
    const shape = this.#shapes[this.#rng.intBelow(this.#shapes.length)] ?? "majority";
    const shuffled = this.#shuffle(names);
    let links: DirectedLink[];
    let detail: string;
    switch (shape) {
      case "majority": {
        const minority = shuffled.slice(0, Math.floor((names.length - 1) / 2));
        const majority = shuffled.slice(minority.length);
        links = partitionLinks([minority, majority]);
        detail = `[${minority.join(",")}] | [${majority.join(",")}]`;
        break;
      }
      case "isolate-leader": {
        const l = leader ?? shuffled[0] ?? "";
        const rest = names.filter((n) => n !== l);
        links = partitionLinks([[l], rest]);
        detail = `leader ${l} | [${rest.join(",")}]`;
        break;
      }
      case "bridge": {
        const bridge = shuffled[0] ?? "";
        const half = Math.floor((names.length - 1) / 2);
        const left = shuffled.slice(1, 1 + half);
        const right = shuffled.slice(1 + half);
        links = bridgeLinks(left, right);
        detail = `[${left.join(",")}] <${bridge}> [${right.join(",")}]`;
        break;
      }
      case "ring": {
        links =
          names.length > 3 ? ringLinks(shuffled) : bridgeLinks([shuffled[0] ?? ""], [shuffled[2] ?? ""]);
        detail = `ring ${shuffled.join("-")}`;
        break;
      }
      case "one-way": {
        // The leader hears no one (its heartbeats still go out) or no one hears it.
        const l = leader ?? shuffled[0] ?? "";
        const rest = names.filter((n) => n !== l);
        const inbound = this.#rng.float() < 0.5;
        links = rest.map((n) => (inbound ? { from: n, to: l } : { from: l, to: n }));
        detail = inbound ? `nobody reaches ${l}` : `${l} reaches nobody`;
        break;
      }
    }
    const ms = this.#between(2, 6);
    this.#cluster.network.block(links, mode);
    this.#count("partition");
    this.#count(`partition:${shape}`);
    this.#events.add("partition", `${shape} (${mode}) ${detail} for ${Math.round(ms)} ms`);
    await this.#pause(ms);
    this.#cluster.network.heal();
    this.#events.add("partition-heal", shape);
  }

  async #memberChange(): Promise<void> {
    const c = this.#cluster;
    if (c.inCluster().length < c.members.length) return;
    const candidates = c.inCluster().filter((m) => !this.#busy.has(m.name));
    const victim = candidates[this.#memberRng.intBelow(Math.max(1, candidates.length))];
    if (victim === undefined) return;
    this.#busy.add(victim.name);
    try {
      const removed = await this.#remove(victim);
      if (!removed) return;
      await c.kill(victim);
      victim.state = "removed";
      c.wipe(victim);
      this.#events.add("member-wipe", `${victim.name}: killed, data directory wiped`);
      await this.#pause((0.5 + 1.5 * this.#memberRng.float()) * this.#unit);
      await this.#readd(victim, memberChangeMs * 3);
    } finally {
      this.#busy.delete(victim.name);
    }
  }

  /** Removes `m` through the API (retrying through live members); whether it left the configuration. */
  async #remove(m: ChaosMember): Promise<boolean> {
    const c = this.#cluster;
    const deadline = Date.now() + memberChangeMs;
    this.#events.add("member-remove", `${m.name} (id ${m.id.toString(16)})`);
    while (Date.now() < deadline) {
      const via = this.#via(m);
      if (via !== null) {
        const r = await c.admin.memberRemove(via, m.id);
        if (!(r instanceof Error)) {
          this.#count("member-remove");
          this.#events.add("member-removed", `${m.name} via ${via.name}`);
          return true;
        }
        if (r.message.includes("not found")) return true;
        const ids = await c.admin.memberIds(via);
        if (!(ids instanceof Error) && !ids.includes(m.id)) {
          this.#count("member-remove");
          this.#events.add("member-removed", `${m.name} (seen in the member list via ${via.name})`);
          return true;
        }
      }
      await sleep(500);
    }
    this.#events.add("member-remove-failed", `${m.name}: still a member after ${memberChangeMs} ms`);
    return false;
  }

  /** Adds removed member `m` back (same peer URL) and starts it empty, joining the cluster. */
  async #readd(m: ChaosMember, budgetMs: number): Promise<void> {
    const c = this.#cluster;
    const deadline = Date.now() + budgetMs;
    for (;;) {
      const via = this.#via(m);
      if (via !== null) {
        const r = await c.admin.memberAdd(via, peerUrl(m.proxyPort));
        const exists = r instanceof Error && r.message.includes("already exist");
        let added = !(r instanceof Error) || exists;
        if (!added) {
          const ids = await c.admin.memberIds(via);
          added = !(ids instanceof Error) && ids.includes(m.id);
        }
        if (added) {
          const others = c.inCluster();
          c.start(m, "existing", c.initialCluster([...others, m]));
          this.#count("member-add");
          this.#events.add("member-add", `${m.name} re-added via ${via.name}, started empty (existing)`);
          return;
        }
      }
      if (Date.now() > deadline) {
        this.#events.add("member-add-failed", `${m.name}: not re-added within ${budgetMs} ms`);
        return;
      }
      await sleep(500);
    }
  }

  // ------------------------------------------------------------------ helpers

  /** A running member other than `m` to send membership requests to (the leader if known). */
  #via(m: ChaosMember): ChaosMember | null {
    const live = this.#cluster.live().filter((x) => x !== m);
    return live[this.#memberRng.intBelow(Math.max(1, live.length))] ?? null;
  }

  /** A running, not busy member: the leader half of the time (if it qualifies). */
  async #victim(): Promise<ChaosMember | null> {
    const free = this.#cluster.live().filter((m) => !this.#busy.has(m.name));
    if (free.length === 0) return null;
    if (this.#rng.float() < 0.5) {
      const l = await this.#cluster.admin.leader();
      if (l !== null && free.includes(l)) return l;
    }
    return free[this.#rng.intBelow(free.length)] ?? null;
  }

  async #isLeader(m: ChaosMember): Promise<boolean> {
    return (await this.#cluster.admin.leader()) === m;
  }

  #pick(kinds: readonly NemesisKind[]): NemesisKind | undefined {
    return kinds[this.#rng.intBelow(kinds.length)];
  }

  #shuffle<T>(xs: readonly T[]): T[] {
    const out = [...xs];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.#rng.intBelow(i + 1);
      const a = out[i] as T;
      out[i] = out[j] as T;
      out[j] = a;
    }
    return out;
  }

  /** A duration in [lo, hi) election timeouts. */
  #between(lo: number, hi: number): number {
    return (lo + this.#rng.float() * (hi - lo)) * this.#unit;
  }

  #count(kind: string): void {
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
  }

  /** Sleeps `ms`, cut short by {@link stop}. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.#stopped) {
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(t);
        this.#sleepers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.#sleepers.add(done);
    });
  }
}
