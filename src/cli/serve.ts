import { RaftBackend } from "../api/etcd/raftbackend.js";
import { EtcdApiServer } from "../api/etcd/server.js";
import type { Logger } from "../lib/logger.js";
import { ConfChangeType, type NodeId } from "../raft/types.js";
import type { ServerConfig } from "../server/config.js";
import type { MemberInfo } from "../server/envelope.js";
import { clusterIdOf, hexId, memberIdOf } from "../server/ids.js";
import { Member } from "../server/member.js";
import { PeerTransport } from "../server/transport/mod.js";

/** Delay between attempts to publish this member's name and client URLs. */
const publishRetryMs = 200;

/** A running Synod member: peer transport, Raft member, etcd API listeners. */
export interface RunningServer {
  readonly member: Member;
  readonly memberId: NodeId;
  readonly clusterId: bigint;
  /** Client API ports actually bound, in `listenClientUrls` order. */
  readonly clientPorts: readonly number[];
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

/** Starts a member as configured; resolves once its client and peer ports are listening. */
export async function startServer(config: ServerConfig, logger: Logger): Promise<RunningServer> {
  const infos = initialMembers(config);
  const selfPeerUrls = config.initialAdvertisePeerUrls.map((u) => u.href);
  const memberId = memberIdOf(selfPeerUrls, config.initialClusterToken);
  const clusterId = clusterIdOf(config.initialClusterToken);
  const log = (component: string): Logger => ({
    debug: (m, f) => logger.debug(m, { component, ...f }),
    info: (m, f) => logger.info(m, { component, ...f }),
    warn: (m, f) => logger.warn(m, { component, ...f }),
  });
  let member: Member | null = null;
  const peerListen = config.listenPeerUrls[0];
  if (peerListen === undefined) throw new Error("no --listen-peer-urls");
  const transport = await PeerTransport.start({
    clusterId,
    memberId,
    listen: { host: peerListen.host, port: peerListen.port },
    onMessage: (m) => member?.receive(m),
    onUnreachable: (peer) => member?.reportUnreachable(peer),
    onSnapshotStatus: (peer, ok) => member?.reportSnapshotStatus(peer, ok),
    logger: log("transport"),
  });
  member = await Member.start({
    id: memberId,
    dataDir: config.dataDir,
    initialCluster: infos,
    initialClusterState: config.initialClusterState,
    heartbeatMs: config.heartbeatIntervalMs,
    electionMs: config.electionTimeoutMs,
    snapshotCount: config.snapshotCount,
    mvcc: {
      limits: {
        quotaBytes: config.quotaBackendBytes,
        requestBytesMax: config.maxRequestBytes,
        txnOpsMax: config.maxTxnOps,
        leaseTtlMinSeconds: Math.ceil(
          (Math.floor((3 * config.electionTicks) / 2) * config.heartbeatIntervalMs) / 1000,
        ),
      },
      logger: log("mvcc"),
    },
    transport,
    logger: log("raft"),
  });
  const running = member;
  const backend = new RaftBackend(running, {
    clusterId,
    clusterToken: config.initialClusterToken,
    logger: log("api"),
  });
  const apis: EtcdApiServer[] = [];
  const clientPorts: number[] = [];
  try {
    for (const url of config.listenClientUrls) {
      const api = new EtcdApiServer({
        backend,
        requestBytesMax: config.maxRequestBytes,
        onInternalError: (where, error) =>
          logger.warn("api: internal error", { where, error: String(error) }),
      });
      apis.push(api);
      clientPorts.push(await api.listen(url.port, url.host));
    }
  } catch (e) {
    for (const api of apis) await api.close().catch(() => undefined);
    backend.close();
    await running.stop();
    await transport.close();
    throw e;
  }
  const publisher = publish(running, config, log("server"));
  logger.info("server: serving", {
    name: config.name,
    member: hexId(memberId),
    cluster: hexId(clusterId),
    client: config.listenClientUrls.map((u) => u.href),
    peer: peerListen.href,
  });
  return {
    member: running,
    memberId,
    clusterId,
    clientPorts,
    peerPort: transport.address.port,
    async stop() {
      publisher.cancel();
      for (const api of apis) await api.close();
      backend.close();
      await running.stop();
      await transport.close();
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
  const attempt = (): void => {
    if (cancelled || published()) return;
    const self = member.members().find((m) => m.id === member.id);
    if (self === undefined || member.leaderId === 0) {
      timer = setTimeout(attempt, publishRetryMs);
      return;
    }
    const type = self.isLearner ? ConfChangeType.addLearner : ConfChangeType.addNode;
    member
      .changeMembership([{ type, nodeId: member.id }], [{ ...self, name: config.name, clientUrls }])
      .then(() => logger.info("server: published name and client URLs", { name: config.name }))
      .catch((e) => {
        logger.debug("server: publish will be retried", { error: String(e) });
        if (!cancelled) timer = setTimeout(attempt, publishRetryMs);
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
