/**
 * The member's `/metrics` (Prometheus text format 0.0.4) and its slow-operation warnings.
 *
 * etcd's metric names, HELP texts, types and buckets are used where Synod measures the same thing,
 * so etcd dashboards and alerts work unchanged; Synod's own measurements are `synod_*`. Timings
 * come from diagnostics channels (`synod:wal:fsync`, `synod:member:apply`,
 * `synod:member:snapshot`) and from the Raft messages the member sends and receives (heartbeat
 * round trips); gauges are read from the member when scraped. docs/operations.md explains each.
 *
 * Warnings with figures (etcd's wording): `slow fdatasync` when one WAL sync takes more than
 * {@link slowFsyncMs}; `apply request took too long` when applying one batch of committed entries
 * takes more than `--experimental-warning-apply-duration`.
 */
import { type IntervalHistogram, monitorEventLoopDelay } from "node:perf_hooks";
import type { Logger } from "../lib/logger.js";
import { AlarmType } from "../mvcc/mod.js";
import { type Message, MessageType, type NodeId } from "../raft/types.js";
import { type WalFsyncEvent, walFsyncChannel } from "../wal/mod.js";
import type { ServerConfig } from "./config.js";
import { type ApplyEvent, applyChannel, type SnapshotSaveEvent, snapshotSaveChannel } from "./diagnostics.js";
import { hexId } from "./ids.js";
import type { Member } from "./member.js";

/** A WAL sync slower than this is logged as `slow fdatasync` (etcd: 1 s). */
export const slowFsyncMs = 1000;
/** Window over which event-loop delay percentiles are reported, in ms. */
const eventLoopWindowMs = 10_000;
/** Resolution of the event-loop delay sampler, in ms. */
const eventLoopResolutionMs = 10;
/** Heartbeat rounds remembered per peer while waiting for their responses. */
const roundsTrackedMax = 64;

/** Prometheus exponential buckets: `count` upper bounds from `start`, each `factor` times the last. */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start * factor ** i);
}

/** A Prometheus histogram (cumulative buckets, sum, count) of values in seconds. */
export class Histogram {
  readonly buckets: readonly number[];
  readonly #counts: number[];
  #sum = 0;
  #count = 0;

  constructor(buckets: readonly number[]) {
    this.buckets = buckets;
    this.#counts = buckets.map(() => 0);
  }

  observe(seconds: number): void {
    this.#sum += seconds;
    this.#count++;
    for (let i = 0; i < this.buckets.length; i++) {
      if (seconds <= (this.buckets[i] as number)) {
        this.#counts[i] = (this.#counts[i] as number) + 1;
        break;
      }
    }
  }

  get count(): number {
    return this.#count;
  }

  get sum(): number {
    return this.#sum;
  }

  /** Sample lines under `name` with extra `labels` (`a="b"` form, may be empty). */
  lines(name: string, labels = ""): string[] {
    const sep = labels === "" ? "" : ",";
    const out: string[] = [];
    let cumulative = 0;
    for (let i = 0; i < this.buckets.length; i++) {
      cumulative += this.#counts[i] as number;
      out.push(`${name}_bucket{${labels}${sep}le="${formatLe(this.buckets[i] as number)}"} ${cumulative}`);
    }
    out.push(`${name}_bucket{${labels}${sep}le="+Inf"} ${this.#count}`);
    const braces = labels === "" ? "" : `{${labels}}`;
    out.push(`${name}_sum${braces} ${this.#sum}`, `${name}_count${braces} ${this.#count}`);
    return out;
  }
}

function formatLe(v: number): string {
  return String(Number(v.toPrecision(12)));
}

/**
 * Round-trip times to peers, measured by the leader from its heartbeats: the time from sending
 * heartbeat round r to a peer until that peer's response echoing r (etcd measures the same path
 * with a prober; followers send no heartbeats, so only the leader reports).
 */
export class PeerRttTracker {
  readonly #sentAt = new Map<NodeId, Map<number, number>>();
  readonly histograms = new Map<NodeId, Histogram>();
  readonly #now: () => number;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** Observes messages this member sends. */
  sent(msgs: readonly Message[]): void {
    for (const m of msgs) {
      if (m.type !== MessageType.heartbeat) continue;
      let rounds = this.#sentAt.get(m.to);
      if (rounds === undefined) {
        rounds = new Map();
        this.#sentAt.set(m.to, rounds);
      }
      if (!rounds.has(m.round)) rounds.set(m.round, this.#now());
      if (rounds.size > roundsTrackedMax) {
        const oldest = rounds.keys().next().value;
        if (oldest !== undefined) rounds.delete(oldest);
      }
    }
  }

  /** Observes a message this member receives. */
  received(m: Message): void {
    if (m.type !== MessageType.heartbeatResp) return;
    const rounds = this.#sentAt.get(m.from);
    const at = rounds?.get(m.round);
    if (rounds === undefined || at === undefined) return;
    rounds.delete(m.round);
    let h = this.histograms.get(m.from);
    if (h === undefined) {
      h = new Histogram(exponentialBuckets(0.0001, 2, 16));
      this.histograms.set(m.from, h);
    }
    h.observe((this.#now() - at) / 1000);
  }
}

type MetricType = "gauge" | "counter" | "histogram";

/** Settings of {@link MemberMetrics} besides the configuration. */
export interface MemberMetricsOptions {
  /** Where slow-operation warnings go; none when absent. */
  readonly logger?: Logger;
  /** The etcd version the member reports (`etcd_server_version`). */
  readonly serverVersion: string;
  /** The tracker fed with the member's Raft traffic (see {@link PeerRttTracker}); a new one if absent. */
  readonly rtt?: PeerRttTracker;
}

/**
 * The member's metrics: subscribes to the diagnostics channels on construction and unsubscribes
 * on {@link close}. Leader changes are counted as etcd counts them (each move to a known leader
 * other than the last one seen, including the first), by sampling the member every heartbeat.
 */
export class MemberMetrics {
  readonly rtt: PeerRttTracker;
  readonly #member: Member;
  readonly #config: ServerConfig;
  readonly #logger: Logger | null;
  readonly #serverVersion: string;
  readonly #serverId: string;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #fsync = new Histogram(exponentialBuckets(0.001, 2, 14));
  readonly #backendCommit = new Histogram(exponentialBuckets(0.001, 2, 14));
  readonly #apply = new Histogram(exponentialBuckets(0.0001, 2, 16));
  readonly #loopDelay: IntervalHistogram;
  /** Percentiles of the last completed window; null until the first window ends. */
  #loopWindow: { p50: number; p99: number; max: number } | null = null;
  #slowApplies = 0;
  #slowFsyncs = 0;
  #lastLeader: NodeId = 0;
  #leaderChanges = 0;
  readonly #onFsync = (m: unknown): void => this.#fsynced(m as WalFsyncEvent);
  readonly #onApply = (m: unknown): void => this.#applied(m as ApplyEvent);
  readonly #onSnapshot = (m: unknown): void => this.#snapshotSaved(m as SnapshotSaveEvent);

  constructor(member: Member, config: ServerConfig, options: MemberMetricsOptions) {
    this.#member = member;
    this.#config = config;
    this.#logger = options.logger ?? null;
    this.#serverVersion = options.serverVersion;
    this.rtt = options.rtt ?? new PeerRttTracker();
    this.#serverId = hexId(member.id);
    this.#sample();
    const sampler = setInterval(() => this.#sample(), config.heartbeatIntervalMs);
    this.#loopDelay = monitorEventLoopDelay({ resolution: eventLoopResolutionMs });
    this.#loopDelay.enable();
    const window = setInterval(() => this.#rollLoopWindow(), eventLoopWindowMs);
    for (const t of [sampler, window]) {
      t.unref();
      this.#timers.push(t);
    }
    walFsyncChannel.subscribe(this.#onFsync);
    applyChannel.subscribe(this.#onApply);
    snapshotSaveChannel.subscribe(this.#onSnapshot);
  }

  close(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#loopDelay.disable();
    walFsyncChannel.unsubscribe(this.#onFsync);
    applyChannel.unsubscribe(this.#onApply);
    snapshotSaveChannel.unsubscribe(this.#onSnapshot);
  }

  #sample(): void {
    const leader = this.#member.leaderId;
    if (leader !== 0 && leader !== this.#lastLeader) this.#leaderChanges++;
    this.#lastLeader = leader;
  }

  #rollLoopWindow(): void {
    this.#loopWindow = this.#loopNow();
    this.#loopDelay.reset();
  }

  #loopNow(): { p50: number; p99: number; max: number } {
    const h = this.#loopDelay;
    if (h.count === 0) return { p50: 0, p99: 0, max: 0 };
    return { p50: h.percentile(50) / 1e9, p99: h.percentile(99) / 1e9, max: h.max / 1e9 };
  }

  #fsynced(e: WalFsyncEvent): void {
    this.#fsync.observe(e.durationMs / 1000);
    if (e.durationMs > slowFsyncMs) {
      this.#slowFsyncs++;
      this.#logger?.warn("slow fdatasync", {
        took: `${Math.round(e.durationMs)}ms`,
        "expected-duration": `${slowFsyncMs}ms`,
      });
    }
  }

  #applied(e: ApplyEvent): void {
    if (e.member !== this.#member.id) return;
    this.#apply.observe(e.durationMs / 1000);
    const limit = this.#config.warningApplyDurationMs;
    if (limit > 0 && e.durationMs > limit) {
      this.#slowApplies++;
      this.#logger?.warn("apply request took too long", {
        took: `${Math.round(e.durationMs)}ms`,
        "expected-duration": `${limit}ms`,
        entries: e.entries,
        index: e.index,
      });
    }
  }

  #snapshotSaved(e: SnapshotSaveEvent): void {
    if (e.member === this.#member.id) this.#backendCommit.observe(e.durationMs / 1000);
  }

  /** The Prometheus text of this member now. */
  text(): string {
    this.#sample();
    const m = this.#member;
    const store = m.store;
    const bytes = store.accountedBytes;
    const out: string[] = [];
    const head = (name: string, type: MetricType, help: string): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    };
    const metric = (name: string, type: MetricType, help: string, value: number, labels = ""): void => {
      head(name, type, help);
      out.push(`${name}${labels} ${value}`);
    };
    const histogram = (name: string, help: string, h: Histogram): void => {
      head(name, "histogram", help);
      out.push(...h.lines(name));
    };
    metric(
      "etcd_debugging_mvcc_compact_revision",
      "gauge",
      "The revision of the last compaction in store.",
      store.compactRevision,
    );
    metric(
      "etcd_debugging_mvcc_current_revision",
      "gauge",
      "The current revision of store.",
      store.currentRevision,
    );
    metric(
      "etcd_debugging_mvcc_slow_watcher_total",
      "gauge",
      "Total number of unsynced slow watchers.",
      store.watchHub.unsyncedCount,
    );
    metric(
      "etcd_debugging_mvcc_watch_stream_total",
      "gauge",
      "Total number of watch streams.",
      store.watchHub.streamCount,
    );
    metric(
      "etcd_debugging_mvcc_watcher_total",
      "gauge",
      "Total number of watchers.",
      store.watchHub.watcherCount,
    );
    histogram(
      "etcd_disk_backend_commit_duration_seconds",
      "The latency distributions of commit called by backend.",
      this.#backendCommit,
    );
    histogram(
      "etcd_disk_wal_fsync_duration_seconds",
      "The latency distributions of fsync called by WAL.",
      this.#fsync,
    );
    metric(
      "etcd_mvcc_db_total_size_in_bytes",
      "gauge",
      "Total size of the underlying database physically allocated in bytes.",
      bytes,
    );
    metric(
      "etcd_mvcc_db_total_size_in_use_in_bytes",
      "gauge",
      "Total size of the underlying database logically in use in bytes.",
      bytes,
    );
    head("etcd_network_peer_round_trip_time_seconds", "histogram", "Round-Trip-Time histogram between peers");
    for (const [peer, h] of [...this.rtt.histograms].sort((a, b) => a[0] - b[0])) {
      out.push(...h.lines("etcd_network_peer_round_trip_time_seconds", `To="${hexId(peer)}"`));
    }
    metric(
      "etcd_server_has_leader",
      "gauge",
      "Whether or not a leader exists. 1 is existence, 0 is not.",
      m.leaderId !== 0 ? 1 : 0,
    );
    metric(
      "etcd_server_id",
      "gauge",
      "Server or member ID in hexadecimal format. 1 for 'server_id' label with current ID.",
      1,
      `{server_id="${this.#serverId}"}`,
    );
    metric(
      "etcd_server_is_leader",
      "gauge",
      "Whether or not this member is a leader. 1 if is, 0 otherwise.",
      m.isLeader ? 1 : 0,
    );
    metric(
      "etcd_server_leader_changes_seen_total",
      "counter",
      "The number of leader changes seen.",
      this.#leaderChanges,
    );
    metric(
      "etcd_server_proposals_applied_total",
      "gauge",
      "The total number of consensus proposals applied.",
      m.appliedIndex,
    );
    metric(
      "etcd_server_proposals_committed_total",
      "gauge",
      "The total number of consensus proposals committed.",
      m.commitIndex,
    );
    metric(
      "etcd_server_proposals_pending",
      "gauge",
      "The current number of pending proposals to commit.",
      m.proposalsPending,
    );
    metric(
      "etcd_server_quota_backend_bytes",
      "gauge",
      "Current backend storage quota size in bytes.",
      this.#config.quotaBackendBytes,
    );
    metric(
      "etcd_server_slow_apply_total",
      "counter",
      "The total number of slow apply requests (likely overloaded from slow disk).",
      this.#slowApplies,
    );
    metric(
      "etcd_server_version",
      "gauge",
      "Which version is running. 1 for 'server_version' label with current version.",
      1,
      `{server_version="${this.#serverVersion}"}`,
    );
    const mem = process.memoryUsage();
    metric("nodejs_external_memory_bytes", "gauge", "Node.js external memory size in bytes.", mem.external);
    metric(
      "nodejs_heap_size_total_bytes",
      "gauge",
      "Process heap size from Node.js in bytes.",
      mem.heapTotal,
    );
    metric(
      "nodejs_heap_size_used_bytes",
      "gauge",
      "Process heap size used from Node.js in bytes.",
      mem.heapUsed,
    );
    metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", mem.rss);
    head(
      "synod_server_alarm_active",
      "gauge",
      "Whether an alarm of this type is raised in the cluster (1) or not (0).",
    );
    for (const [alarm, name] of [
      [AlarmType.noSpace, "NOSPACE"],
      [AlarmType.corrupt, "CORRUPT"],
    ] as const) {
      const on = store.alarms.some((a) => a.alarm === alarm) ? 1 : 0;
      out.push(`synod_server_alarm_active{alarm="${name}"} ${on}`);
    }
    histogram(
      "synod_server_apply_duration_seconds",
      "Time to apply one batch of committed entries to the state machine.",
      this.#apply,
    );
    metric(
      "synod_process_array_buffers_bytes",
      "gauge",
      "Memory of ArrayBuffers (the store's value arena and history pages, network buffers) in bytes.",
      mem.arrayBuffers,
    );
    metric(
      "synod_disk_wal_slow_fsync_total",
      "counter",
      `WAL syncs slower than ${slowFsyncMs / 1000} s.`,
      this.#slowFsyncs,
    );
    head(
      "synod_event_loop_delay_seconds",
      "gauge",
      "Event-loop delay over the last 10 s window (p50, p99, max).",
    );
    const loop = this.#loopWindow ?? this.#loopNow();
    out.push(
      `synod_event_loop_delay_seconds{quantile="0.5"} ${loop.p50}`,
      `synod_event_loop_delay_seconds{quantile="0.99"} ${loop.p99}`,
      `synod_event_loop_delay_seconds{quantile="1"} ${loop.max}`,
    );
    return `${out.join("\n")}\n`;
  }
}
