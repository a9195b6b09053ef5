import http from "node:http";
import type { Socket } from "node:net";
import { AuthGate } from "../api/etcd/auth/gate.js";
import { RaftBackend } from "../api/etcd/raftbackend.js";
import { EtcdApiServer } from "../api/etcd/server.js";
import { etcdServerVersion } from "../api/etcd/version.js";
import { assert } from "../lib/assert.js";
import type { Logger } from "../lib/logger.js";
import { ConfChangeType, type NodeId } from "../raft/types.js";
import { AlarmMonitor } from "../server/alarms.js";
import { AutoCompactor } from "../server/compactor.js";
import type { ServerConfig } from "../server/config.js";
import type { MemberInfo } from "../server/envelope.js";
import { clusterIdOf, hexId, memberIdOf } from "../server/ids.js";
import { Member, type MemberOptions, type MemberTransport } from "../server/member.js";
import { MemberMetrics, PeerRttTracker } from "../server/metrics.js";
import { PeerTransport } from "../server/transport/mod.js";
import { forwardTlsOf, type MemberTls, openMemberTls } from "./servetls.js";

/** Delay between attempts to publish this member's name and client URLs. */
const publishRetryMs = 200;
/**
 * How long one publish attempt may go unanswered before the next is made. A follower's proposal
 * is forwarded to the leader, which drops it without a reply while another membership change is
 * pending (as at every cluster start, when all members publish at once); waiting for the request
 * timeout (7 s by default) would leave the member unpublished that long.
 */
const publishAttemptMs = 1000;

/** A running Synod member: peer transport, Raft member, etcd API listeners. */
export interface RunningServer {
  readonly member: Member;
  readonly memberId: NodeId;
  readonly clusterId: bigint;
  /** Client API ports actually bound, in `listenClientUrls` order. */
  readonly clientPorts: readonly number[];
  /** Metrics ports actually bound, in `listenMetricsUrls` order. */
  readonly metricsPorts: readonly number[];
  readonly peerPort: number;
  /** Graceful stop: stop accepting, end streams, finish the write in flight, close the WAL. */
  stop(): Promise<void>;
}

/**
 * The member infos of the initial cluster, with ids derived from peer URLs and the token. Client
 * URLs are unknown until each member publishes them, so every member bootstraps the same state.
 */
export function initialMembers(config: ServerConfig): MemberInfo[] {
  return config.initialCluster.map((m) => {
    const peerUrls = m.peerUrls.map((u) => u.href);
    return {
      id: memberIdOf(peerUrls, config.initialClusterToken),
      name: m.name,
      peerUrls,
      clientUrls: [],
      isLearner: false,
    };
  });
}

/** A logger that adds `component` to every line. */
function componentLogger(logger: Logger, component: string): Logger {
  return {
    debug: (m, f) => logger.debug(m, { component, ...f }),
    info: (m, f) => logger.info(m, { component, ...f }),
    warn: (m, f) => logger.warn(m, { component, ...f }),
  };
}

/** The member's settings from the configuration (etcd's minimum lease TTL included). */
function memberOptions(
  config: ServerConfig,
  memberId: NodeId,
  transport: MemberTransport,
  logger: Logger,
): MemberOptions {
  return {
    id: memberId,
    dataDir: config.dataDir,
    initialCluster: initialMembers(config),
    initialClusterState: config.initialClusterState,
    heartbeatMs: config.heartbeatIntervalMs,
    electionMs: config.electionTimeoutMs,
    snapshotCount: config.snapshotCount,
    staggerSnapshots: true,
    mvcc: {
      limits: {
        quotaBytes: config.quotaBackendBytes,
        requestBytesMax: config.maxRequestBytes,
        txnOpsMax: config.maxTxnOps,
        leaseTtlMinSeconds: Math.ceil(
          (Math.floor((3 * config.electionTicks) / 2) * config.heartbeatIntervalMs) / 1000,
        ),
      },
      logger: componentLogger(logger, "mvcc"),
    },
    transport,
    logger: componentLogger(logger, "raft"),
  };
}

/** The client API servers (one per client URL) and metrics listeners of a member. */
class Listeners {
  /** The member's auth gate: one token table and brute-force limiter for all its client URLs. */
  #auth: AuthGate | null = null;
  readonly apis: EtcdApiServer[] = [];
  readonly clientPorts: number[] = [];
  readonly metricsServers: MetricsListener[] = [];
  readonly metricsPorts: number[] = [];

  async start(
    config: ServerConfig,
    backend: RaftBackend,
    metrics: MemberMetrics,
    logger: Logger,
    tls: MemberTls,
  ): Promise<void> {
    const auth = new AuthGate(backend, {
      tokenTtlSeconds: config.authTokenTtlSeconds,
      bcryptCost: config.bcryptCost,
    });
    this.#auth = auth;
    for (const url of config.listenClientUrls) {
      const secure = url.scheme === "https" ? tls.client : null;
      // The configuration refuses an https:// URL without a certificate; never serve it in the clear.
      assert(url.scheme === "http" || secure !== null, `no client certificate for ${url.href}`);
      const api = new EtcdApiServer({
        backend,
        auth,
        requestBytesMax: config.maxRequestBytes,
        metricsText: () => metrics.text(),
        onInternalError: (where, error) =>
          logger.warn("api: internal error", { where, error: String(error) }),
        ...(secure === null ? {} : { tls: secure, logger: componentLogger(logger, "api") }),
      });
      this.apis.push(api);
      this.clientPorts.push(await api.listen(url.port, url.host));
    }
    const first = this.apis[0];
    for (const url of config.listenMetricsUrls) {
      if (first === undefined) break;
      const m = new MetricsListener(first);
      this.metricsServers.push(m);
      this.metricsPorts.push(await m.listen(url.port, url.host));
    }
  }

  async close(): Promise<void> {
    for (const m of this.metricsServers) await m.close();
    for (const api of this.apis) await api.close().catch(() => undefined);
    this.#auth?.close();
  }
}

/** Starts a member as configured; resolves once its client and peer ports are listening. */
export async function startServer(config: ServerConfig, logger: Logger): Promise<RunningServer> {
  const memberId = memberIdOf(
    config.initialAdvertisePeerUrls.map((u) => u.href),
    config.initialClusterToken,
  );
  const clusterId = clusterIdOf(config.initialClusterToken);
  const peerListen = config.listenPeerUrls[0];
  if (peerListen === undefined) throw new Error("no --listen-peer-urls");
  const tls = await openMemberTls(config, componentLogger(logger, "tls"));
  const rtt = new PeerRttTracker();
  let member: Member | null = null;
  const transport = await PeerTransport.start({
    clusterId,
    memberId,
    listen: { host: peerListen.host, port: peerListen.port },
    ...(tls.peer === null ? {} : { tls: tls.peer }),
    listenTls: peerListen.scheme === "https",
    onMessage: (m) => {
      rtt.received(m);
      member?.receive(m);
    },
    onUnreachable: (peer) => member?.reportUnreachable(peer),
    onSnapshotStatus: (peer, ok) => member?.reportSnapshotStatus(peer, ok),
    logger: componentLogger(logger, "transport"),
  }).catch((e) => {
    tls.close();
    throw e;
  });
  const options = memberOptions(config, memberId, observed(transport, rtt), logger);
  const running = await Member.start(options).catch(async (e) => {
    await transport.close();
    tls.close();
    throw e;
  });
  member = running;
  const backend = new RaftBackend(running, {
    clusterId,
    clusterToken: config.initialClusterToken,
    logger: componentLogger(logger, "api"),
    ...(tls.client === null ? {} : { forwardTls: forwardTlsOf(tls.client) }),
  });
  const metrics = new MemberMetrics(running, config, {
    logger: componentLogger(logger, "server"),
    serverVersion: etcdServerVersion,
    rtt,
  });
  const alarms = new AlarmMonitor(running, {
    quotaBytes: config.quotaBackendBytes,
    corruptCheckMs: config.corruptCheckTimeMs,
    logger: componentLogger(logger, "alarms"),
  });
  const listeners = new Listeners();
  const compactor =
    config.autoCompactionRetentionMs > 0 || config.autoCompactionRetentionRevisions > 0
      ? new AutoCompactor(running, {
          mode: config.autoCompactionMode,
          retentionMs: config.autoCompactionRetentionMs,
          retentionRevisions: config.autoCompactionRetentionRevisions,
          logger: componentLogger(logger, "compactor"),
          nowMs: () => performance.now(),
        })
      : null;
  const shutdown = async (): Promise<void> => {
    compactor?.close();
    alarms.close();
    metrics.close();
    await listeners.close();
    backend.close();
    await running.stop();
    await transport.close();
    tls.close();
  };
  try {
    await listeners.start(config, backend, metrics, logger, tls);
  } catch (e) {
    await shutdown();
    throw e;
  }
  const publisher = publish(running, config, componentLogger(logger, "server"));
  logger.info("server: serving", {
    name: config.name,
    member: hexId(memberId),
    cluster: hexId(clusterId),
    client: config.listenClientUrls.map((u) => u.href),
    peer: peerListen.href,
    metrics: config.listenMetricsUrls.map((u) => u.href),
  });
  return {
    member: running,
    memberId,
    clusterId,
    clientPorts: listeners.clientPorts,
    metricsPorts: listeners.metricsPorts,
    peerPort: transport.address.port,
    async stop() {
      publisher.cancel();
      await shutdown();
      logger.info("server: stopped", { member: hexId(memberId) });
    },
  };
}

/**
 * Records this member's name and client URLs in the replicated membership (as etcd's member
 * "publish"), retrying until it is applied: other members need them for member lists and for
 * forwarding lease requests to the leader.
 */
function publish(member: Member, config: ServerConfig, logger: Logger): { cancel(): void } {
  let cancelled = false;
  let timer: NodeJS.Timeout | null = null;
  const clientUrls = config.advertiseClientUrls.map((u) => u.href);
  const published = (): boolean => {
    const self = member.members().find((m) => m.id === member.id);
    return self !== undefined && self.name === config.name && sameList(self.clientUrls, clientUrls);
  };
  // One pending timer at most, so attempts never multiply.
  const schedule = (ms: number): void => {
    if (timer !== null) clearTimeout(timer);
    timer = cancelled ? null : setTimeout(attempt, ms);
  };
  const attempt = (): void => {
    if (cancelled || published()) return;
    const self = member.members().find((m) => m.id === member.id);
    if (self === undefined || member.leaderId === 0) {
      schedule(publishRetryMs);
      return;
    }
    const type = self.isLearner ? ConfChangeType.addLearner : ConfChangeType.addNode;
    schedule(publishAttemptMs);
    member
      .changeMembership([{ type, nodeId: member.id }], [{ ...self, name: config.name, clientUrls }])
      .then(() => logger.info("server: published name and client URLs", { name: config.name }))
      .catch((e) => {
        logger.debug("server: publish will be retried", { error: String(e) });
        schedule(publishRetryMs);
      });
  };
  attempt();
  return {
    cancel() {
      cancelled = true;
      if (timer !== null) clearTimeout(timer);
    },
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * A `--listen-metrics-urls` listener: plain HTTP/1.1 answering only `GET /metrics` and
 * `GET /health`, with the same handlers (and so the same bodies) as the client port's gateway.
 */
class MetricsListener {
  readonly #server: http.Server;
  readonly #sockets = new Set<Socket>();

  constructor(api: EtcdApiServer) {
    this.#server = http.createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (path !== "/metrics" && path !== "/health" && path !== "/readyz" && path !== "/livez") {
        res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
        res.end("404 page not found\n");
      } else if (req.method !== "GET") {
        res.writeHead(405, { allow: "GET", "content-type": "text/plain; charset=utf-8" });
        res.end("Method Not Allowed\n");
      } else api.gateway.handle(req, res);
    });
    this.#server.on("connection", (socket: Socket) => {
      this.#sockets.add(socket);
      socket.once("close", () => this.#sockets.delete(socket));
    });
  }

  /** Listens on `host:port` (0 = any free port) and resolves with the bound port. */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, host, () => {
        this.#server.off("error", reject);
        const addr = this.#server.address();
        resolve(typeof addr === "object" && addr !== null ? addr.port : port);
      });
    });
  }

  /** Stops accepting and closes every connection. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#server.listening) {
        resolve();
        return;
      }
      this.#server.close(() => resolve());
      for (const socket of this.#sockets) socket.destroy();
    });
  }
}

/** `transport` with the Raft messages it sends shown to `rtt` (heartbeat round trips). */
function observed(transport: PeerTransport, rtt: PeerRttTracker): MemberTransport {
  return {
    send: (msgs) => {
      rtt.sent(msgs);
      transport.send(msgs);
    },
    addPeer: (id, url) => transport.addPeer(id, url),
    removePeer: (id) => transport.removePeer(id),
  };
}
