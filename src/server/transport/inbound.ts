/**
 * One accepted peer connection: the receiving end of another member's outbound stream. It waits
 * for a hello, checks it (protocol version, cluster id, that it is addressed to this member,
 * that the caller was not removed), answers welcome or refuse, then decodes message batches and
 * snapshot transfers and hands each message to the transport. Malformed input closes this
 * connection with a logged reason and never throws.
 */
import type { Socket } from "node:net";
import type { Logger } from "../../lib/logger.js";
import { type Message, MessageType, type NodeId } from "../../raft/types.js";
import {
  decodeFrame,
  type Frame,
  type HelloFrame,
  peerHelloFrameBytesMax,
  peerProtocolVersion,
  RefuseCode,
  writeRefuse,
  writeSnapshotAck,
  writeWelcome,
} from "./codec.js";
import { FrameReader, FrameType, FrameWriter, frameName, type RawFrame } from "./frame.js";
import { type AssemblyOutcome, SnapshotAssembler } from "./snapshot.js";

/** What an inbound connection needs from its transport. */
export interface InboundHost {
  readonly clusterId: bigint;
  readonly memberId: NodeId;
  readonly logger: Logger;
  readonly frameBytesMax: number;
  readonly snapshotBytesMax: number;
  readonly handshakeTimeoutMs: number;
  /** Whether `id` was removed from the cluster (its connections are refused). */
  isRemoved(id: NodeId): boolean;
  /** The handshake of `conn` succeeded. */
  accepted(conn: InboundConnection): void;
  /** `conn` closed (for any reason); called once. */
  closed(conn: InboundConnection): void;
  /** A message arrived. */
  deliver(m: Message): void;
  /** Counts received bytes and messages, and completed snapshots. */
  count(bytes: number, messages: number, snapshots: number): void;
}

/** How long a refused dialer gets to read the refusal before the socket is destroyed. */
const refuseLingerMs = 2000;

/** The receiving side of one peer stream. */
export class InboundConnection {
  readonly #host: InboundHost;
  readonly #socket: Socket;
  readonly #reader = new FrameReader(peerHelloFrameBytesMax);
  readonly #assembler: SnapshotAssembler;
  readonly #remote: string;
  #peer: NodeId = 0;
  #timer: NodeJS.Timeout | null;
  #closed = false;

  constructor(host: InboundHost, socket: Socket) {
    this.#host = host;
    this.#socket = socket;
    this.#assembler = new SnapshotAssembler(host.snapshotBytesMax);
    this.#remote = `${socket.remoteAddress ?? "?"}:${socket.remotePort ?? "?"}`;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    this.#timer = setTimeout(
      () => this.#fail(`no handshake within ${host.handshakeTimeoutMs} ms`),
      host.handshakeTimeoutMs,
    );
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    socket.on("error", (err) => this.#fail(`socket error: ${err.message}`, "debug"));
    socket.on("close", () => this.#onClose());
  }

  /** The member on the other end, once the handshake is done (0 before). */
  get peer(): NodeId {
    return this.#peer;
  }

  /** Closes the connection without further callbacks except {@link InboundHost.closed}. */
  close(): void {
    this.#reader.stop();
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    this.#host.count(chunk.length, 0, 0);
    const failure = this.#reader.push(chunk, (raw) => this.#onFrame(raw));
    if (failure !== null) this.#fail(`malformed stream: ${failure}`);
  }

  #onFrame(raw: RawFrame): void {
    const decoded = decodeFrame(raw.type, raw.payload);
    if (!decoded.ok) {
      this.#fail(decoded.reason);
      return;
    }
    const f = decoded.value;
    if (this.#peer === 0) {
      if (f.type === FrameType.hello) this.#onHello(f);
      else this.#fail(unexpected(f, "hello"));
    } else if (f.type === FrameType.messages) {
      this.#onMessages(f.messages);
    } else if (f.type === FrameType.snapshotBegin) {
      if (this.#fromPeer(f.message))
        this.#onSnapshot(this.#assembler.begin(f.transferId, f.dataBytes, f.message));
    } else if (f.type === FrameType.snapshotChunk) {
      this.#onSnapshot(this.#assembler.chunk(f.transferId, f.offset, f.data));
    } else {
      this.#fail(unexpected(f, "messages or a snapshot"));
    }
  }

  #onHello(h: HelloFrame): void {
    const host = this.#host;
    const refusal = this.#refusal(h);
    if (refusal !== null) {
      this.#refuse(refusal.code, refusal.detail, h.from);
      return;
    }
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#peer = h.from;
    this.#reader.setLimit(host.frameBytesMax);
    const w = new FrameWriter(64);
    writeWelcome(w, host.memberId);
    this.#socket.write(w.take());
    host.logger.debug("peer transport: accepted a stream", { peer: h.from, remote: this.#remote });
    host.accepted(this);
  }

  #refusal(h: HelloFrame): { code: RefuseCode; detail: string } | null {
    const host = this.#host;
    if (h.version !== peerProtocolVersion) {
      return {
        code: RefuseCode.version,
        detail: `protocol version ${h.version} is not supported (member ${host.memberId} speaks version ${peerProtocolVersion})`,
      };
    }
    if (h.clusterId !== host.clusterId) {
      return {
        code: RefuseCode.clusterMismatch,
        detail: `cluster id mismatch: member ${h.from} is in cluster ${hex64(h.clusterId)}, member ${host.memberId} in cluster ${hex64(host.clusterId)}`,
      };
    }
    if (h.to !== host.memberId) {
      return {
        code: RefuseCode.wrongMember,
        detail: `misaddressed: member ${h.from} expected member ${h.to} at this address, but this is member ${host.memberId}`,
      };
    }
    if (h.from === host.memberId) {
      return { code: RefuseCode.wrongMember, detail: `the dialer claims this member's own id ${h.from}` };
    }
    if (host.isRemoved(h.from)) {
      return { code: RefuseCode.removedMember, detail: `member ${h.from} was removed from the cluster` };
    }
    return null;
  }

  #onMessages(messages: readonly Message[]): void {
    for (const m of messages) if (!this.#fromPeer(m)) return;
    this.#host.count(0, messages.length, 0);
    for (const m of messages) {
      if (this.#closed) return;
      this.#host.deliver(m);
    }
  }

  /**
   * Whether `m` comes from this stream's member and is addressed to this member; fails if not.
   * A proposal or ReadIndex request may come from another member: a follower forwards them to
   * its leader keeping the original sender (as etcd's raft does, so that the leader answers a
   * read to the member that asked), and a member that has just lost leadership forwards what it
   * was sent on to the new leader.
   */
  #fromPeer(m: Message): boolean {
    const forwarded = m.type === MessageType.prop || m.type === MessageType.readIndex;
    if ((m.from === this.#peer || forwarded) && m.to === this.#host.memberId) return true;
    this.#fail(
      `${m.type} message from ${m.from} to ${m.to} on the stream from ${this.#peer} to ${this.#host.memberId}`,
    );
    return false;
  }

  #onSnapshot(outcome: AssemblyOutcome): void {
    if (outcome.kind === "error") {
      this.#fail(outcome.reason);
    } else if (outcome.kind === "rejected") {
      this.#host.logger.warn("peer transport: refused a snapshot", {
        peer: this.#peer,
        reason: outcome.reason,
      });
      this.#ack(outcome.transferId, false, outcome.reason);
    } else if (outcome.kind === "done") {
      const snapshot = outcome.message.snapshot;
      this.#host.logger.info("peer transport: received a snapshot", {
        peer: this.#peer,
        index: snapshot?.metadata.index,
        bytes: snapshot?.data.length,
      });
      this.#host.count(0, 1, 1);
      this.#host.deliver(outcome.message);
      if (!this.#closed) this.#ack(outcome.transferId, true, "");
    }
  }

  #ack(transferId: number, ok: boolean, detail: string): void {
    const w = new FrameWriter(64);
    writeSnapshotAck(w, transferId, ok, detail);
    this.#socket.write(w.take());
  }

  /** Sends a refusal, logs it, and closes once the dialer has had a chance to read it. */
  #refuse(code: RefuseCode, detail: string, from: NodeId): void {
    this.#host.logger.warn("peer transport: refused a connection", {
      peer: from,
      remote: this.#remote,
      reason: detail,
    });
    this.#closed = true;
    this.#reader.stop();
    if (this.#timer !== null) clearTimeout(this.#timer);
    const w = new FrameWriter(64 + detail.length * 3);
    writeRefuse(w, code, detail);
    this.#socket.end(w.take());
    this.#timer = setTimeout(() => this.#socket.destroy(), refuseLingerMs);
    this.#timer.unref();
  }

  /** Closes the connection because of `reason`, logged at `level` (warn for protocol errors). */
  #fail(reason: string, level: "warn" | "debug" = "warn"): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#reader.stop();
    this.#host.logger[level]("peer transport: closing an inbound stream", {
      peer: this.#peer === 0 ? undefined : this.#peer,
      remote: this.#remote,
      reason,
    });
    this.#socket.destroy();
  }

  #onClose(): void {
    this.#closed = true;
    this.#reader.stop();
    this.#assembler.abort();
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#host.closed(this);
  }
}

function unexpected(f: Frame, wanted: string): string {
  return `unexpected ${frameName(f.type)} frame (expected ${wanted})`;
}

/** A 64-bit id as etcd prints it: lowercase hex without leading zeros. */
export function hex64(id: bigint): string {
  return id.toString(16);
}
