/**
 * The peer transport: Raft messages between cluster members over TCP.
 *
 * Each member listens on its peer URL and keeps one outbound stream to every peer it knows: its
 * messages to a peer go over its own outbound stream, and the peer's messages to it arrive on the
 * peer's outbound stream, accepted by its listener. Streams are framed and checksummed, begin
 * with a handshake that names the cluster and both members, are batched, bounded and redialed
 * with backoff; snapshots are streamed in chunks. See docs/peer-protocol.md.
 */
import { constants as bufferConstants } from "node:buffer";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import {
  createServer as createTlsServer,
  type PeerCertificate,
  type SecureContext,
  type SecureContextOptions,
  type TLSSocket,
} from "node:tls";
import { ErrorCode, SynodError } from "../../lib/errors.js";
import { type Logger, noopLogger } from "../../lib/logger.js";
import { type Message, MessageType, type NodeId } from "../../raft/types.js";
import {
  isClusterId,
  isMemberId,
  messageProblem,
  peerChunkOverheadBytes,
  peerFrameBytesMax,
} from "./codec.js";
import { InboundConnection, type InboundHost } from "./inbound.js";
import { type OutboundHost, type OutboundLimits, OutboundPeer, type OutboundStats } from "./outbound.js";
import { parsePeerUrl } from "./url.js";

/** Default bound on a peer's send queue: 16 MiB of (estimated) encoded messages. */
export const sendQueueBytesMaxDefault = 16 * 1024 * 1024;
/** Default bound on a peer's send queue: 4096 messages (etcd's stream buffer size). */
export const sendQueueMessagesMaxDefault = 4096;
/** Default size of a snapshot data chunk: 1 MiB. */
export const snapshotChunkBytesDefault = 1024 * 1024;
/** Default largest snapshot accepted from a peer: 4 GiB, or the largest buffer Node can allocate. */
export const snapshotBytesMaxDefault = Math.min(4 * 1024 ** 3, bufferConstants.MAX_LENGTH);
/** Default number of snapshot transfers to one peer in progress or waiting. */
export const snapshotsQueuedMaxDefault = 2;
/** Default time a sender waits for a snapshot's acknowledgement after writing its last chunk. */
export const snapshotAckTimeoutMsDefault = 30_000;
/** Default time to connect to a peer and complete the handshake. */
export const dialTimeoutMsDefault = 2000;
/**
 * Default time a peer may leave a full socket unread before its connection is reset (etcd's
 * ConnWriteTimeout): the socket's buffered bytes are dropped and the peer is redialed.
 */
export const writeStallTimeoutMsDefault = 5000;
/** Default time an accepted connection has to send its hello. */
export const handshakeTimeoutMsDefault = 5000;
/** Default first redial delay (before jitter); it doubles per failed attempt. */
export const backoffMinMsDefault = 50;
/** Default longest redial delay. */
export const backoffMaxMsDefault = 1000;
/** Default bound on accepted connections at once (each peer needs one; the rest is slack). */
export const inboundConnectionsMaxDefault = 64;

/** Most "a TLS handshake failed" lines logged per second; the rest go to debug (fuzzers, scanners). */
export const tlsFailureLogsPerSecondMax = 5;

/**
 * The peer certificates (etcd's `--peer-*` TLS flags), as the transport uses them; implemented by
 * `TlsSource` in `src/server/tls`. Every method returns what is current, so reloaded files apply
 * to the next connection.
 */
export interface PeerTlsProvider {
  /** Accepted connections must present a certificate the trusted CAs signed (`--peer-client-cert-auth`). */
  readonly clientCertAuth: boolean;
  /** Dialed peers' certificates are not checked against a CA (`--peer-auto-tls`, as etcd). */
  readonly insecureSkipVerify: boolean;
  /** The listener's certificate, key, CAs, CRL, ciphers and versions. */
  serverContextOptions(): SecureContextOptions;
  /** The context to dial with (this member's certificate, the CAs that sign peers', the CRL). */
  clientContext(): SecureContext;
  /** Why a verified peer certificate is refused anyway (allowed CN or host name), or null. */
  checkCertificate(cert: PeerCertificate): string | null;
  /** Calls `listener` after the certificate files were reloaded; returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
}

/** How to start a {@link PeerTransport}. Sizes are in bytes, durations in milliseconds. */
export interface PeerTransportOptions {
  /** The cluster's id; connections from other clusters are refused. An unsigned 64-bit value. */
  readonly clusterId: bigint;
  /** This member's id: a positive safe integer. */
  readonly memberId: number;
  /** Where to accept peer connections; port 0 picks a free port (see {@link PeerTransport.address}). */
  readonly listen: { readonly host: string; readonly port: number };
  /**
   * Peer certificates: used to dial `https://` peers, and to serve TLS when `listenTls` is set.
   * Without them an `https://` peer is dialed with Node's default CAs and no client certificate.
   */
  readonly tls?: PeerTlsProvider;
  /** Serve TLS only on the listener (an `https://` listen URL); needs `tls`. Default false. */
  readonly listenTls?: boolean;
  /** Called for every message received from a peer, in the order that peer sent them. */
  onMessage(m: Message): void;
  /** Called when a peer's stream failed or a message to it was dropped (for `RawNode.reportUnreachable`). */
  onUnreachable(peer: number): void;
  /** Called when a snapshot transfer to `peer` ended (for `RawNode.reportSnapshot`). */
  onSnapshotStatus(peer: number, ok: boolean): void;
  /** Where to log; nothing is logged by default. */
  readonly logger?: Logger;
  /** Bytes of queued messages per peer, including the socket's own buffer. Default 16 MiB. */
  readonly sendQueueBytesMax?: number;
  /** Queued messages per peer. Default 4096. */
  readonly sendQueueMessagesMax?: number;
  /** Bytes of snapshot data per chunk frame. Default 1 MiB. */
  readonly snapshotChunkBytes?: number;
  /** Largest snapshot data accepted from a peer. Default 4 GiB (or Node's buffer limit). */
  readonly snapshotBytesMax?: number;
  /** Snapshot transfers per peer in progress or waiting; more are refused. Default 2. */
  readonly snapshotsQueuedMax?: number;
  /** Wait for a snapshot's acknowledgement after its last chunk. Default 30 s. */
  readonly snapshotAckTimeoutMs?: number;
  /** Largest frame payload sent or accepted after the handshake. Default and maximum 16 MiB. */
  readonly frameBytesMax?: number;
  /** Time to connect and complete the handshake. Default 2 s. */
  readonly dialTimeoutMs?: number;
  /** Time a peer may leave a full socket unread before the connection is reset. Default 5 s. */
  readonly writeStallTimeoutMs?: number;
  /** Time an accepted connection has to send its hello. Default 5 s. */
  readonly handshakeTimeoutMs?: number;
  /** First redial delay; doubles per failure. Default 50 ms. */
  readonly backoffMinMs?: number;
  /** Longest redial delay. Default 1 s. */
  readonly backoffMaxMs?: number;
  /** Accepted connections at once. Default 64. */
  readonly inboundConnectionsMax?: number;
  /** Source of backoff jitter, a float in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
}

/** Counters of a transport, for metrics and tests. */
export interface PeerTransportStats {
  /** One entry per known peer, by id. */
  readonly peers: readonly OutboundStats[];
  /** Accepted connections now open (handshake done or pending). */
  readonly inboundConnections: number;
  readonly bytesReceived: number;
  readonly messagesReceived: number;
  readonly snapshotsReceived: number;
  /** Connections closed at once because of `inboundConnectionsMax`. */
  readonly connectionsRejected: number;
}

interface Settings extends OutboundLimits {
  readonly snapshotBytesMax: number;
  readonly handshakeTimeoutMs: number;
  readonly inboundConnectionsMax: number;
}

/**
 * Raft message transport between members. Start it with {@link PeerTransport.start}, tell it
 * about peers with {@link addPeer}, and hand it each Ready's messages with {@link send}.
 * Callbacks are never called from inside a method call; they come from the event loop, and none
 * is called after {@link close}. A callback that throws is a programmer error and is not caught.
 */
export class PeerTransport {
  readonly #opts: PeerTransportOptions;
  readonly #settings: Settings;
  readonly #logger: Logger;
  readonly #server: Server;
  readonly #peers = new Map<NodeId, OutboundPeer>();
  readonly #removed = new Set<NodeId>();
  readonly #inbound = new Set<InboundConnection>();
  /** The accepted stream of each peer that completed a handshake. */
  readonly #streams = new Map<NodeId, InboundConnection>();
  readonly #outboundHost: OutboundHost;
  readonly #inboundHost: InboundHost;
  #closing: Promise<void> | null = null;
  #bytesReceived = 0;
  #messagesReceived = 0;
  #snapshotsReceived = 0;
  #connectionsRejected = 0;
  /** TCP connections open on a TLS listener (handshaking or not), for `inboundConnectionsMax`. */
  #rawOpen = 0;
  #tlsFailureWindow = { second: 0, logged: 0 };
  #unsubscribeTls: (() => void) | null = null;

  private constructor(opts: PeerTransportOptions, settings: Settings, server: Server) {
    this.#opts = opts;
    this.#settings = settings;
    this.#logger = opts.logger ?? noopLogger;
    this.#server = server;
    const random = opts.random ?? Math.random;
    this.#outboundHost = {
      clusterId: opts.clusterId,
      memberId: opts.memberId,
      logger: this.#logger,
      limits: settings,
      tls: opts.tls ?? null,
      random,
      // Deferred, so that no callback runs inside addPeer / updatePeer / send.
      unreachable: (peer) =>
        queueMicrotask(() => {
          if (this.#closing === null) opts.onUnreachable(peer);
        }),
      snapshotStatus: (peer, ok) =>
        queueMicrotask(() => {
          if (this.#closing === null) opts.onSnapshotStatus(peer, ok);
        }),
    };
    this.#inboundHost = this.#makeInboundHost();
  }

  /**
   * Validates `opts`, starts listening, and resolves once the listener is bound. Rejects with a
   * {@link SynodError} (`invalidArgument`) naming a bad option, or with the listen error.
   */
  static async start(opts: PeerTransportOptions): Promise<PeerTransport> {
    const settings = validate(opts);
    const tls = opts.listenTls === true ? opts.tls : undefined;
    if (opts.listenTls === true && tls === undefined) {
      throw invalid("Cannot start the peer transport: 'listenTls' needs 'tls' (the peer certificates)");
    }
    const server =
      tls === undefined
        ? createServer({ noDelay: true })
        : createTlsServer({
            ...tls.serverContextOptions(),
            requestCert: tls.clientCertAuth,
            rejectUnauthorized: tls.clientCertAuth,
            handshakeTimeout: settings.handshakeTimeoutMs,
          });
    const transport = new PeerTransport(opts, settings, server);
    if (tls === undefined) server.on("connection", (socket: Socket) => transport.#accept(socket));
    else transport.#serveTls(tls);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: opts.listen.host, port: opts.listen.port }, () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", (err) =>
      transport.#logger.warn("peer transport: listener error", { reason: err.message }),
    );
    const addr = transport.address;
    transport.#logger.info("peer transport: listening", {
      host: addr.host,
      port: addr.port,
      member: opts.memberId,
      tls: tls !== undefined,
    });
    return transport;
  }

  /** The address the listener is bound to (with the real port when started with port 0). */
  get address(): { host: string; port: number } {
    const a = this.#server.address() as AddressInfo | null;
    return a === null
      ? { host: this.#opts.listen.host, port: this.#opts.listen.port }
      : { host: a.address, port: a.port };
  }

  /**
   * Adds peer `id` at `url` (`http://host:port`, as etcd's peer URLs) and starts dialing it.
   * Adding a known peer updates its URL. Throws a {@link SynodError} (`invalidArgument`) for a bad
   * id or URL.
   */
  addPeer(id: number, url: string): void {
    const address = parsePeerUrl(url);
    if (!isMemberId(id) || id === this.#opts.memberId) {
      throw invalid(
        `Cannot add peer: 'id' must be a positive safe integer other than this member's, got ${id}`,
      );
    }
    if (typeof address === "string") throw invalid(`Cannot add peer ${id}: 'url' ${address}`);
    if (this.#closing !== null) return;
    this.#removed.delete(id);
    const known = this.#peers.get(id);
    if (known !== undefined) {
      known.setUrl(url, address);
      return;
    }
    this.#peers.set(id, new OutboundPeer(this.#outboundHost, id, url, address));
    this.#logger.info("peer transport: added a peer", { peer: id, url });
  }

  /** Forgets peer `id`: closes both streams, drops its queue, and refuses its future connections. */
  removePeer(id: number): void {
    this.#removed.add(id);
    const peer = this.#peers.get(id);
    this.#peers.delete(id);
    peer?.close();
    this.#streams.get(id)?.close();
    if (peer !== undefined) this.#logger.info("peer transport: removed a peer", { peer: id });
  }

  /** Changes the URL of peer `id` and redials it there. Throws like {@link addPeer}. */
  updatePeer(id: number, url: string): void {
    const address = parsePeerUrl(url);
    if (typeof address === "string") throw invalid(`Cannot update peer ${id}: 'url' ${address}`);
    const peer = this.#peers.get(id);
    if (peer === undefined) throw invalid(`Cannot update peer ${id}: it is not a known peer`);
    peer.setUrl(url, address);
  }

  /**
   * Queues `msgs` for their peers; everything sent to one peer before the running code yields
   * (several calls included) leaves in one socket write, queued as a microtask. Never blocks and never throws: messages to unknown peers, local kinds and
   * malformed messages are dropped and logged; when a peer's queue is full the message is dropped
   * and `onUnreachable(peer)` follows; a dropped snap message is reported with
   * `onSnapshotStatus(peer, false)`.
   */
  send(msgs: readonly Message[]): void {
    if (this.#closing !== null) return;
    const unreachable = new Set<NodeId>();
    const snapshotsFailed: NodeId[] = [];
    for (const m of msgs) {
      const peer = this.#peers.get(m.to);
      const problem = messageProblem(m);
      if (problem !== null || m.to === this.#opts.memberId || peer === undefined) {
        this.#drop(m, problem);
        if (m.type === MessageType.snap) snapshotsFailed.push(m.to);
        continue;
      }
      if (m.type === MessageType.snap) {
        if (!peer.enqueueSnapshot(m)) {
          this.#logger.warn("peer transport: too many snapshots pending for a peer", { peer: m.to });
          snapshotsFailed.push(m.to);
        }
      } else if (!peer.enqueue(m)) {
        if (!unreachable.has(m.to)) this.#logger.debug("peer transport: send queue full", { peer: m.to });
        unreachable.add(m.to);
      }
    }
    for (const peer of snapshotsFailed) this.#outboundHost.snapshotStatus(peer, false);
    for (const peer of unreachable) this.#outboundHost.unreachable(peer);
  }

  #drop(m: Message, problem: string | null): void {
    if (problem !== null) {
      this.#logger.warn("peer transport: dropped a message", { to: m.to, reason: problem });
    } else if (m.to === this.#opts.memberId) {
      this.#logger.warn("peer transport: dropped a message addressed to this member", { type: m.type });
    } else {
      this.#logger.debug("peer transport: dropped a message to an unknown peer", { to: m.to, type: m.type });
    }
  }

  /** Stops listening and closes every stream; no callback is called afterwards. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  /** Wires a TLS listener: connection bound, certificate checks, handshake failures, reloads. */
  #serveTls(tls: PeerTlsProvider): void {
    const server = this.#server;
    server.on("connection", (raw: Socket) => {
      this.#rawOpen++;
      raw.once("close", () => this.#rawOpen--);
      if (this.#rawOpen > this.#settings.inboundConnectionsMax) {
        this.#connectionsRejected++;
        raw.destroy();
      }
    });
    server.on("secureConnection", (socket: TLSSocket) => {
      const problem = tls.clientCertAuth ? tls.checkCertificate(socket.getPeerCertificate()) : null;
      if (problem === null) {
        this.#accept(socket);
        return;
      }
      this.#logger.warn("peer transport: refused a TLS connection", {
        remote: remoteOf(socket),
        reason: problem,
      });
      socket.destroy();
    });
    server.on("tlsClientError", (err: Error, socket: TLSSocket) => {
      socket.destroy();
      const second = Math.floor(performance.now() / 1000);
      const w = this.#tlsFailureWindow;
      if (w.second !== second) this.#tlsFailureWindow = { second, logged: 0 };
      const level = this.#tlsFailureWindow.logged++ < tlsFailureLogsPerSecondMax ? "warn" : "debug";
      this.#logger[level]("peer transport: a TLS handshake failed; connection closed", {
        remote: remoteOf(socket),
        reason: err.message,
      });
    });
    this.#unsubscribeTls = tls.onChange(() => {
      (server as ReturnType<typeof createTlsServer>).setSecureContext(tls.serverContextOptions());
      this.#logger.info("peer transport: new connections use the reloaded certificate");
    });
  }

  async #shutdown(): Promise<void> {
    this.#unsubscribeTls?.();
    for (const peer of this.#peers.values()) peer.close();
    this.#peers.clear();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const conn of this.#inbound) conn.close();
    await closed;
    this.#logger.info("peer transport: closed", { member: this.#opts.memberId });
  }

  /** Counters, per peer and for inbound streams. */
  stats(): PeerTransportStats {
    return {
      peers: [...this.#peers.values()].map((p) => p.stats()).sort((a, b) => a.id - b.id),
      inboundConnections: this.#inbound.size,
      bytesReceived: this.#bytesReceived,
      messagesReceived: this.#messagesReceived,
      snapshotsReceived: this.#snapshotsReceived,
      connectionsRejected: this.#connectionsRejected,
    };
  }

  #accept(socket: Socket): void {
    if (this.#closing !== null) {
      socket.destroy();
      return;
    }
    if (this.#inbound.size >= this.#settings.inboundConnectionsMax) {
      this.#connectionsRejected++;
      this.#logger.warn("peer transport: too many connections; closing a new one", {
        remote: remoteOf(socket),
        inboundConnectionsMax: this.#settings.inboundConnectionsMax,
      });
      socket.destroy();
      return;
    }
    this.#inbound.add(new InboundConnection(this.#inboundHost, socket));
  }

  #makeInboundHost(): InboundHost {
    const s = this.#settings;
    const opts = this.#opts;
    return {
      clusterId: opts.clusterId,
      memberId: opts.memberId,
      logger: this.#logger,
      frameBytesMax: s.frameBytesMax,
      snapshotBytesMax: s.snapshotBytesMax,
      handshakeTimeoutMs: s.handshakeTimeoutMs,
      isRemoved: (id) => this.#removed.has(id),
      accepted: (conn) => {
        const previous = this.#streams.get(conn.peer);
        this.#streams.set(conn.peer, conn);
        if (previous !== undefined) {
          this.#logger.info("peer transport: a new stream from a peer replaces its old one", {
            peer: conn.peer,
          });
          previous.close();
        }
        this.#peers.get(conn.peer)?.kick();
      },
      closed: (conn) => {
        this.#inbound.delete(conn);
        if (this.#streams.get(conn.peer) === conn) this.#streams.delete(conn.peer);
      },
      deliver: (m) => {
        if (this.#closing === null) opts.onMessage(m);
      },
      count: (bytes, messages, snapshots) => {
        this.#bytesReceived += bytes;
        this.#messagesReceived += messages;
        this.#snapshotsReceived += snapshots;
      },
    };
  }
}

function invalid(message: string): SynodError {
  return new SynodError(ErrorCode.invalidArgument, message);
}

/** Checks the options and fills in defaults; throws a {@link SynodError} naming the first bad one. */
function validate(o: PeerTransportOptions): Settings {
  if (typeof o.clusterId !== "bigint" || !isClusterId(o.clusterId)) {
    throw invalid(
      `Cannot start the peer transport: 'clusterId' must be an unsigned 64-bit bigint, got ${o.clusterId}`,
    );
  }
  if (!isMemberId(o.memberId)) {
    throw invalid(
      `Cannot start the peer transport: 'memberId' must be a positive safe integer, got ${o.memberId}`,
    );
  }
  const port = o.listen.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw invalid(
      `Cannot start the peer transport: 'listen.port' must be an integer in [0, 65535], got ${port}`,
    );
  }
  const frameBytesMax = int("frameBytesMax", o.frameBytesMax, peerFrameBytesMax, 4096, peerFrameBytesMax);
  const settings: Settings = {
    frameBytesMax,
    sendQueueBytesMax: int("sendQueueBytesMax", o.sendQueueBytesMax, sendQueueBytesMaxDefault, 1, 2 ** 40),
    sendQueueMessagesMax: int(
      "sendQueueMessagesMax",
      o.sendQueueMessagesMax,
      sendQueueMessagesMaxDefault,
      1,
      2 ** 30,
    ),
    snapshotChunkBytes: int(
      "snapshotChunkBytes",
      o.snapshotChunkBytes,
      Math.min(snapshotChunkBytesDefault, frameBytesMax - peerChunkOverheadBytes),
      1,
      frameBytesMax - peerChunkOverheadBytes,
    ),
    snapshotBytesMax: int(
      "snapshotBytesMax",
      o.snapshotBytesMax,
      snapshotBytesMaxDefault,
      0,
      bufferConstants.MAX_LENGTH,
    ),
    snapshotsQueuedMax: int("snapshotsQueuedMax", o.snapshotsQueuedMax, snapshotsQueuedMaxDefault, 1, 1024),
    snapshotAckTimeoutMs: int(
      "snapshotAckTimeoutMs",
      o.snapshotAckTimeoutMs,
      snapshotAckTimeoutMsDefault,
      1,
      2 ** 31 - 1,
    ),
    dialTimeoutMs: int("dialTimeoutMs", o.dialTimeoutMs, dialTimeoutMsDefault, 1, 2 ** 31 - 1),
    writeStallTimeoutMs: int(
      "writeStallTimeoutMs",
      o.writeStallTimeoutMs,
      writeStallTimeoutMsDefault,
      1,
      2 ** 31 - 1,
    ),
    handshakeTimeoutMs: int(
      "handshakeTimeoutMs",
      o.handshakeTimeoutMs,
      handshakeTimeoutMsDefault,
      1,
      2 ** 31 - 1,
    ),
    backoffMinMs: int("backoffMinMs", o.backoffMinMs, backoffMinMsDefault, 1, 2 ** 31 - 1),
    backoffMaxMs: int("backoffMaxMs", o.backoffMaxMs, backoffMaxMsDefault, 1, 2 ** 31 - 1),
    inboundConnectionsMax: int(
      "inboundConnectionsMax",
      o.inboundConnectionsMax,
      inboundConnectionsMaxDefault,
      1,
      65536,
    ),
  };
  if (settings.backoffMaxMs < settings.backoffMinMs) {
    throw invalid(
      `Cannot start the peer transport: 'backoffMaxMs' must be at least 'backoffMinMs' (${settings.backoffMinMs}), got ${settings.backoffMaxMs}`,
    );
  }
  return settings;
}

/** An optional integer option in [min, max], or its default. */
function int(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw invalid(
      `Cannot start the peer transport: '${name}' must be an integer in [${min}, ${max}], got ${value}`,
    );
  }
  return value;
}

/** `address:port` of a connection's peer, or a placeholder once the socket has closed. */
function remoteOf(socket: Socket): string {
  return socket.remoteAddress === undefined
    ? "(already closed)"
    : `${socket.remoteAddress}:${socket.remotePort}`;
}
