/**
 * This member's stream to one peer: a TCP connection it dials, keeps, and redials with
 * exponential backoff. Messages wait in a bounded queue and go out batched (everything queued by
 * one run of code, before it yields, in one socket write), only when the socket has drained, so a slow or dead
 * peer costs at most the queue's limits. Snapshot data is streamed in chunks between batches and
 * acknowledged by the receiver. See docs/peer-protocol.md.
 */
import { connect, isIP, type Socket } from "node:net";
import { createSecureContext, type SecureContext, type TLSSocket, connect as tlsConnect } from "node:tls";
import type { Logger } from "../../lib/logger.js";
import type { Message, NodeId } from "../../raft/types.js";
import { backoffDelayMs } from "./backoff.js";
import {
  decodeFrame,
  messageWireBytes,
  peerControlFrameBytesMax,
  peerProtocolVersion,
  writeHello,
  writeMessages,
  writeSnapshotBegin,
  writeSnapshotChunk,
} from "./codec.js";
import { FrameReader, FrameType, FrameWriter, frameName, type RawFrame } from "./frame.js";
import type { PeerTlsProvider } from "./transport.js";
import type { PeerAddress } from "./url.js";

/** The limits and timings of outbound streams (validated by the transport). */
export interface OutboundLimits {
  readonly sendQueueBytesMax: number;
  readonly sendQueueMessagesMax: number;
  readonly snapshotChunkBytes: number;
  readonly snapshotsQueuedMax: number;
  readonly snapshotAckTimeoutMs: number;
  readonly frameBytesMax: number;
  readonly dialTimeoutMs: number;
  readonly writeStallTimeoutMs: number;
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
}

/** What an outbound stream needs from its transport. */
export interface OutboundHost {
  readonly clusterId: bigint;
  readonly memberId: NodeId;
  readonly logger: Logger;
  readonly limits: OutboundLimits;
  /** Certificates for dialing `https://` peers; null dials them with Node's defaults. */
  readonly tls: PeerTlsProvider | null;
  /** A uniformly distributed float in [0, 1), for backoff jitter. */
  random(): number;
  /** The stream failed or dropped messages. */
  unreachable(peer: NodeId): void;
  /** A snapshot transfer ended. */
  snapshotStatus(peer: NodeId, ok: boolean): void;
}

/** Where a stream stands: dialing (connect and handshake), ready, waiting to redial, closed. */
export type OutboundState = "connecting" | "ready" | "backoff" | "closed";

/** Counters of one outbound stream. */
export interface OutboundStats {
  readonly id: NodeId;
  readonly url: string;
  readonly state: OutboundState;
  /** Messages waiting in the queue, and their estimated bytes. */
  readonly queuedMessages: number;
  readonly queuedBytes: number;
  /** Bytes handed to the socket and not yet sent to the kernel. */
  readonly socketBufferedBytes: number;
  readonly messagesSent: number;
  readonly messagesDropped: number;
  readonly bytesSent: number;
  /** Socket writes; a batch of messages is one write. */
  readonly writes: number;
  readonly dials: number;
  readonly connects: number;
  readonly snapshotsSent: number;
  readonly snapshotsFailed: number;
  /** Snapshot transfers in progress or waiting. */
  readonly snapshotsPending: number;
  readonly snapshotChunksSent: number;
}

interface Transfer {
  readonly id: number;
  readonly message: Message;
  readonly data: Uint8Array;
  begun: boolean;
  /** Data bytes handed to the socket. */
  sent: number;
}

type Counters = { -readonly [K in keyof OutboundStats]: OutboundStats[K] };

/** The stream to one peer. */
export class OutboundPeer {
  readonly id: NodeId;
  readonly #host: OutboundHost;
  #url: string;
  #address: PeerAddress;
  #state: OutboundState = "connecting";
  #socket: Socket | null = null;
  #reader: FrameReader | null = null;
  /** The dial timeout while connecting, the redial timer while backing off. */
  #timer: NodeJS.Timeout | null = null;
  #ackTimer: NodeJS.Timeout | null = null;
  /** Runs while the socket waits for a drain. */
  #stallTimer: NodeJS.Timeout | null = null;
  /** A flush is queued (as a microtask: see {@link #scheduleFlush}). */
  #flushQueued = false;
  #attempt = 0;
  #lastProblem = "";
  #queue: Message[] = [];
  #queuedBytes = 0;
  #transfers: Transfer[] = [];
  #nextTransferId = 1;
  readonly #c: Counters;

  /** Creates the stream and starts dialing `address` at once. */
  constructor(host: OutboundHost, id: NodeId, url: string, address: PeerAddress) {
    this.#host = host;
    this.id = id;
    this.#url = url;
    this.#address = address;
    this.#c = {
      id,
      url,
      state: "connecting",
      queuedMessages: 0,
      queuedBytes: 0,
      socketBufferedBytes: 0,
      messagesSent: 0,
      messagesDropped: 0,
      bytesSent: 0,
      writes: 0,
      dials: 0,
      connects: 0,
      snapshotsSent: 0,
      snapshotsFailed: 0,
      snapshotsPending: 0,
      snapshotChunksSent: 0,
    };
    this.#dial();
  }

  /** The peer URL this stream dials. */
  get url(): string {
    return this.#url;
  }

  /**
   * Queues `m` (not a snap) for the next batch. Returns false, dropping it, when the queue is at
   * its message or byte limit (bytes include what the socket still buffers) or the stream is closed.
   */
  enqueue(m: Message): boolean {
    const limits = this.#host.limits;
    const size = messageWireBytes(m);
    const buffered = this.#queuedBytes + (this.#socket?.writableLength ?? 0);
    if (
      this.#state === "closed" ||
      this.#queue.length >= limits.sendQueueMessagesMax ||
      buffered + size > limits.sendQueueBytesMax
    ) {
      this.#c.messagesDropped++;
      return false;
    }
    this.#queue.push(m);
    this.#queuedBytes += size;
    this.#scheduleFlush();
    return true;
  }

  /** Queues a snap message's transfer. Returns false, dropping it, when too many are pending. */
  enqueueSnapshot(m: Message): boolean {
    if (this.#state === "closed" || m.snapshot === null) return false;
    if (this.#transfers.length >= this.#host.limits.snapshotsQueuedMax) {
      this.#c.snapshotsFailed++;
      return false;
    }
    this.#transfers.push({
      id: this.#nextTransferId++,
      message: m,
      data: m.snapshot.data,
      begun: false,
      sent: 0,
    });
    this.#scheduleFlush();
    return true;
  }

  /** Points the stream at a new URL; an open connection is closed and the new address dialed now. */
  setUrl(url: string, address: PeerAddress): void {
    if (this.#state === "closed" || url === this.#url) return;
    this.#url = url;
    this.#address = address;
    this.#c.url = url;
    if (this.#socket !== null) this.#lost(this.#socket, `the peer's URL changed to ${url}`);
    if (this.#state === "backoff") this.#redialNow();
  }

  /** Redials at once if waiting to redial (the peer just dialed us, so it is probably up). */
  kick(): void {
    if (this.#state === "backoff") this.#redialNow();
  }

  /** Closes the stream for good: no more callbacks; queued messages and snapshots are dropped. */
  close(): void {
    this.#state = "closed";
    this.#clearTimers();
    this.#flushQueued = false;
    this.#reader?.stop();
    this.#socket?.destroy();
    this.#socket = null;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#transfers = [];
  }

  /** A snapshot of the counters. */
  stats(): OutboundStats {
    return {
      ...this.#c,
      state: this.#state,
      queuedMessages: this.#queue.length,
      queuedBytes: this.#queuedBytes,
      socketBufferedBytes: this.#socket?.writableLength ?? 0,
      snapshotsPending: this.#transfers.length,
    };
  }

  #dial(): void {
    const limits = this.#host.limits;
    this.#state = "connecting";
    this.#c.dials++;
    const socket = this.#address.secure
      ? this.#dialTls()
      : connect({ host: this.#address.host, port: this.#address.port });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    const reader = new FrameReader(peerControlFrameBytesMax);
    this.#socket = socket;
    this.#reader = reader;
    this.#timer = setTimeout(
      () => this.#lost(socket, `no connection and handshake within ${limits.dialTimeoutMs} ms`),
      limits.dialTimeoutMs,
    );
    // Over TLS the hello waits for the handshake, and for this member's checks of the peer's certificate.
    socket.on(this.#address.secure ? "secureConnect" : "connect", () => {
      const refused = this.#address.secure ? this.#certificateProblem(socket as TLSSocket) : null;
      if (refused !== null) {
        this.#lost(socket, `refused the peer's TLS certificate: ${refused}`);
        return;
      }
      const w = new FrameWriter(64);
      writeHello(w, this.#host.clusterId, this.#host.memberId, this.id);
      socket.write(w.take());
    });
    socket.on("data", (chunk: Buffer) => {
      if (socket !== this.#socket) return;
      const failure = reader.push(chunk, (raw) => this.#onFrame(socket, raw));
      if (failure !== null) this.#lost(socket, `malformed data from the peer: ${failure}`);
    });
    socket.on("drain", () => {
      if (socket !== this.#socket) return;
      if (this.#stallTimer !== null) clearTimeout(this.#stallTimer);
      this.#stallTimer = null;
      this.#write(socket);
    });
    socket.on("error", (err: NodeJS.ErrnoException) =>
      this.#lost(socket, err.code === undefined ? err.message : `${err.message} (${err.code})`),
    );
    socket.on("close", () => this.#lost(socket, "the connection closed"));
  }

  /** A TLS connection to the peer, checked against the trusted CAs unless auto-TLS says not to. */
  #dialTls(): TLSSocket {
    const tls = this.#host.tls;
    const host = this.#address.host;
    return tlsConnect({
      host,
      port: this.#address.port,
      secureContext: tls?.clientContext() ?? defaultSecureContext(),
      rejectUnauthorized: !(tls?.insecureSkipVerify ?? false),
      // SNI carries host names only (RFC 6066); the certificate is still checked against `host`.
      ...(isIP(host) === 0 ? { servername: host } : {}),
    });
  }

  #certificateProblem(socket: TLSSocket): string | null {
    return this.#host.tls?.checkCertificate(socket.getPeerCertificate()) ?? null;
  }

  #onFrame(socket: Socket, raw: RawFrame): void {
    if (socket !== this.#socket) return;
    const decoded = decodeFrame(raw.type, raw.payload);
    const f = decoded.ok ? decoded.value : null;
    const ready = this.#state === "ready";
    if (f === null) this.#lost(socket, decoded.ok ? "" : decoded.reason);
    else if (f.type === FrameType.welcome && !ready) this.#onWelcome(socket, f.memberId, f.version);
    else if (f.type === FrameType.refuse) this.#lost(socket, `refused by the peer: ${f.detail}`);
    else if (f.type === FrameType.snapshotAck && ready) this.#onAck(socket, f.transferId, f.ok, f.detail);
    else this.#lost(socket, `unexpected ${frameName(f.type)} frame from the peer`);
  }

  #onWelcome(socket: Socket, memberId: NodeId, version: number): void {
    if (memberId !== this.id) {
      this.#lost(
        socket,
        `misaddressed: dialed member ${this.id} at ${this.#url}, member ${memberId} answered`,
      );
    } else if (version !== peerProtocolVersion) {
      this.#lost(socket, `the peer answered in protocol version ${version}`);
    } else {
      this.#onReady(socket);
    }
  }

  #onReady(socket: Socket): void {
    this.#clearTimers();
    this.#state = "ready";
    this.#c.connects++;
    const fields = { peer: this.id, url: this.#url, attempts: this.#attempt + 1 };
    this.#host.logger.info("peer transport: connected", fields);
    this.#attempt = 0;
    this.#lastProblem = "";
    this.#write(socket);
  }

  #onAck(socket: Socket, transferId: number, ok: boolean, detail: string): void {
    const t = this.#transfers[0];
    if (t === undefined || t.id !== transferId || !t.begun || (ok && t.sent < t.data.length)) {
      this.#lost(socket, `acknowledgement of snapshot transfer ${transferId}, which is not awaiting one`);
      return;
    }
    if (this.#ackTimer !== null) clearTimeout(this.#ackTimer);
    this.#ackTimer = null;
    this.#transfers.shift();
    const fields = { peer: this.id, index: t.message.snapshot?.metadata.index, bytes: t.data.length };
    if (ok) {
      this.#c.snapshotsSent++;
      this.#host.logger.info("peer transport: snapshot delivered", fields);
    } else {
      this.#c.snapshotsFailed++;
      this.#host.logger.warn("peer transport: the peer refused a snapshot", { ...fields, reason: detail });
    }
    this.#write(socket);
    this.#host.snapshotStatus(this.id, ok);
  }

  #scheduleFlush(): void {
    if (this.#flushQueued || this.#state !== "ready") return;
    // A microtask, not setImmediate: everything queued by the code running now (a Ready's messages,
    // one pass of the driver) still leaves in one write, but at once, not after every other I/O
    // callback of this event-loop turn (the followers start their own writes that much sooner).
    this.#flushQueued = true;
    queueMicrotask(() => {
      if (!this.#flushQueued) return;
      this.#flushQueued = false;
      const socket = this.#socket;
      if (socket !== null && this.#state === "ready") this.#write(socket);
    });
  }

  /** Writes what is waiting, messages first, until the socket asks to wait for a drain. */
  #write(socket: Socket): void {
    if (this.#state !== "ready" || socket.writableNeedDrain) return;
    if (this.#queue.length > 0) this.#writeQueue(socket);
    while (socket === this.#socket && !socket.writableNeedDrain && this.#writeSnapshotStep(socket)) {}
    // The socket is full: if the peer reads nothing for writeStallTimeoutMs, give up on it.
    if (socket === this.#socket && socket.writableNeedDrain && this.#stallTimer === null) {
      const ms = this.#host.limits.writeStallTimeoutMs;
      this.#stallTimer = setTimeout(() => this.#lost(socket, `the peer read nothing for ${ms} ms`), ms);
    }
  }

  #writeQueue(socket: Socket): void {
    const msgs = this.#queue;
    const queued = this.#queuedBytes;
    this.#queue = [];
    this.#queuedBytes = 0;
    // Sized to what is queued (plus frame headers): a fixed 64 KiB per flush per peer made
    // garbage fast enough to drive the leader into frequent full collections.
    const w = new FrameWriter(Math.min(this.#host.limits.frameBytesMax, queued + 64 * msgs.length + 64));
    const { frames, tooLarge } = writeMessages(w, msgs, this.#host.limits.frameBytesMax);
    if (frames > 0) {
      const bytes = w.take();
      socket.write(bytes);
      this.#c.writes++;
      this.#c.bytesSent += bytes.length;
      this.#c.messagesSent += msgs.length - tooLarge.length;
    }
    if (tooLarge.length === 0) return;
    this.#c.messagesDropped += tooLarge.length;
    this.#host.logger.warn("peer transport: dropped messages larger than a frame", {
      peer: this.id,
      count: tooLarge.length,
      frameBytesMax: this.#host.limits.frameBytesMax,
    });
    this.#host.unreachable(this.id);
  }

  /** Writes the next piece of the current snapshot transfer; false when there is nothing to write. */
  #writeSnapshotStep(socket: Socket): boolean {
    const t = this.#transfers[0];
    if (t === undefined) return false;
    const limits = this.#host.limits;
    const w = new FrameWriter(Math.min(t.data.length - t.sent, limits.snapshotChunkBytes) + 64);
    if (!t.begun) {
      if (!writeSnapshotBegin(w, t.id, t.message, limits.frameBytesMax)) {
        this.#host.logger.warn("peer transport: dropped a snapshot whose metadata exceeds a frame", {
          peer: this.id,
        });
        this.#transfers.shift();
        this.#c.snapshotsFailed++;
        this.#host.snapshotStatus(this.id, false);
        return true;
      }
      t.begun = true;
      this.#host.logger.info("peer transport: sending a snapshot", {
        peer: this.id,
        index: t.message.snapshot?.metadata.index,
        bytes: t.data.length,
      });
    } else if (t.sent < t.data.length) {
      const n = Math.min(limits.snapshotChunkBytes, t.data.length - t.sent);
      writeSnapshotChunk(w, t.id, t.sent, t.data.subarray(t.sent, t.sent + n));
      t.sent += n;
      this.#c.snapshotChunksSent++;
    } else {
      // Everything is written: wait for the receiver's acknowledgement.
      this.#ackTimer ??= setTimeout(
        () =>
          this.#lost(
            socket,
            `no acknowledgement of snapshot transfer ${t.id} within ${limits.snapshotAckTimeoutMs} ms`,
          ),
        limits.snapshotAckTimeoutMs,
      );
      return false;
    }
    const bytes = w.take();
    socket.write(bytes);
    this.#c.writes++;
    this.#c.bytesSent += bytes.length;
    return true;
  }

  /** The connection `socket` failed: fail the transfers, report the peer unreachable, redial later. */
  #lost(socket: Socket, reason: string): void {
    if (socket !== this.#socket) return;
    const wasReady = this.#state === "ready";
    this.#socket = null;
    this.#reader?.stop();
    this.#reader = null;
    socket.destroy();
    this.#clearTimers();
    const fields = { peer: this.id, url: this.#url, reason };
    if (wasReady) this.#host.logger.warn("peer transport: lost the stream to a peer", fields);
    else if (reason !== this.#lastProblem)
      this.#host.logger.warn("peer transport: cannot reach a peer", fields);
    else
      this.#host.logger.debug("peer transport: cannot reach a peer", { ...fields, attempt: this.#attempt });
    this.#lastProblem = reason;
    const failed = this.#transfers;
    this.#transfers = [];
    this.#c.snapshotsFailed += failed.length;
    const limits = this.#host.limits;
    const delay = backoffDelayMs(
      this.#attempt,
      limits.backoffMinMs,
      limits.backoffMaxMs,
      this.#host.random(),
    );
    this.#attempt++;
    this.#state = "backoff";
    this.#timer = setTimeout(() => this.#dial(), delay);
    // Callbacks last: one may close this stream (e.g. the driver removes the peer).
    for (let i = 0; i < failed.length && !this.#isClosed(); i++) this.#host.snapshotStatus(this.id, false);
    if (!this.#isClosed()) this.#host.unreachable(this.id);
  }

  #isClosed(): boolean {
    return this.#state === "closed";
  }

  #redialNow(): void {
    this.#clearTimers();
    this.#dial();
  }

  #clearTimers(): void {
    for (const t of [this.#timer, this.#ackTimer, this.#stallTimer]) if (t !== null) clearTimeout(t);
    this.#timer = null;
    this.#ackTimer = null;
    this.#stallTimer = null;
  }
}

let defaultContext: SecureContext | null = null;

/** Node's default client context (its bundled CAs), for dialing https:// peers without peer TLS settings. */
function defaultSecureContext(): SecureContext {
  defaultContext ??= createSecureContext();
  return defaultContext;
}
