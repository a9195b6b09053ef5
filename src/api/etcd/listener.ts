import http2 from "node:http2";
import net from "node:net";
import { Duplex } from "node:stream";
import {
  AuthorityRewriter,
  goawayFrame,
  H2ConnectionError,
  Http2Probe,
  type ProbeStep,
} from "./grpc/authority.js";
import { http2Settings } from "./grpc/server.js";

/** The HTTP/2 client connection preface (RFC 9113 §3.4). */
export const http2Preface: Uint8Array = new TextEncoder().encode("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** Milliseconds a new connection has to send enough bytes to tell HTTP/2 from HTTP/1.1. */
export const sniffTimeoutMs = 10_000;

/**
 * How a connection looks from its first bytes: `http2` once the whole preface has arrived,
 * `http1` as soon as a byte differs from it, `unknown` while a prefix of it has arrived.
 */
export function sniffProtocol(head: Uint8Array): "http2" | "http1" | "unknown" {
  const n = Math.min(head.length, http2Preface.length);
  for (let i = 0; i < n; i++) if (head[i] !== http2Preface[i]) return "http1";
  return head.length >= http2Preface.length ? "http2" : "unknown";
}

const http2SettingsPayload: Uint8Array = http2.getPackedSettings(http2Settings);
const http2TableSize = http2Settings.headerTableSize ?? 4096;

/** Where a sniffed connection goes. */
export interface ConnectionRouter {
  /** An HTTP/2 connection: the socket itself, or an {@link AuthorityRewritingStream} over it. */
  http2(socket: Duplex): void;
  http1(socket: net.Socket): void;
}

/** Milliseconds the HTTP/2 probe waits for a Go client's first request before deciding anyway. */
export const probeTimeoutMs = 2_000;

/**
 * An HTTP/2 connection whose client bytes pass through an {@link AuthorityRewriter} on the way to
 * node:http2 (see `grpc/authority.ts`); what node:http2 writes goes to the socket unchanged.
 */
export class AuthorityRewritingStream extends Duplex {
  readonly #socket: net.Socket;
  readonly #rewriter: AuthorityRewriter;

  constructor(socket: net.Socket, rewriter: AuthorityRewriter, first: Uint8Array) {
    super({ allowHalfOpen: false });
    this.#socket = socket;
    this.#rewriter = rewriter;
    socket.on("data", (chunk: Buffer) => this.#feed(chunk));
    socket.on("end", () => this.push(null));
    socket.on("error", (e) => this.destroy(e));
    socket.on("close", () => this.destroy());
    this.#feed(first);
    socket.resume();
  }

  /** How many `:authority` values were rewritten on this connection. */
  get rewrites(): number {
    return this.#rewriter.rewrites;
  }

  #feed(chunk: Uint8Array): void {
    let parts: Uint8Array[];
    try {
      parts = this.#rewriter.push(chunk);
    } catch (e) {
      const code = e instanceof H2ConnectionError ? e.code : 0x2;
      this.#socket.end(goawayFrame(code));
      this.#socket.destroySoon();
      return;
    }
    let more = true;
    for (const p of parts) more = this.push(p);
    if (!more) this.#socket.pause();
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#socket.write(chunk, callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    this.#socket.cork();
    for (let i = 0; i < chunks.length - 1; i++) this.#socket.write((chunks[i] as { chunk: Buffer }).chunk);
    this.#socket.write((chunks[chunks.length - 1] as { chunk: Buffer }).chunk, callback);
    this.#socket.uncork();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#socket.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#socket.destroy();
    callback(error);
  }
}

/**
 * A TCP listener that serves gRPC (HTTP/2 with prior knowledge) and HTTP/1.1 on the same port, as
 * etcd does: it reads the first bytes of each connection, puts them back (`unshift`) and hands the
 * socket to the HTTP/2 or HTTP/1.1 server. Bytes are only buffered until the protocol is known
 * (at most the 24-byte preface).
 */
export class SharedPortListener {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();

  constructor(router: ConnectionRouter) {
    this.#server = net.createServer({ noDelay: true }, (socket) => this.#accept(socket, router));
  }

  /** Listens on `host:port` (port 0 picks a free port); resolves with the bound port. */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error): void => reject(e);
      this.#server.once("error", onError);
      this.#server.listen(port, host, () => {
        this.#server.off("error", onError);
        const addr = this.#server.address();
        resolve(typeof addr === "object" && addr !== null ? addr.port : port);
      });
    });
  }

  /** Stops accepting; sockets not yet sniffed are destroyed. Handed-off sockets belong to their server. */
  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #accept(socket: net.Socket, router: ConnectionRouter): void {
    this.#sockets.add(socket);
    let head = new Uint8Array(0);
    let probe: Http2Probe | null = null;
    let timer = setTimeout(() => socket.destroy(), sniffTimeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off("data", onData);
      this.#sockets.delete(socket);
    };
    const handOver = (bytes: Uint8Array, kind: "http1" | "http2"): void => {
      cleanup();
      socket.pause();
      socket.unshift(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
      // node:http2 reads the unshifted bytes itself and then consumes the socket's handle
      // directly, so the socket must stay paused; node:http reads through the stream and needs it
      // flowing again.
      if (kind === "http2") router.http2(socket);
      else {
        router.http1(socket);
        socket.resume();
      }
    };
    const apply = (step: ProbeStep): void => {
      if (step.kind === "wait") {
        if (step.send !== null) socket.write(step.send);
        return;
      }
      if (step.kind === "native") {
        handOver(step.bytes, "http2");
        return;
      }
      cleanup();
      socket.pause();
      const rewriter = new AuthorityRewriter(http2TableSize, step.stripAck);
      router.http2(new AuthorityRewritingStream(socket, rewriter, step.bytes));
    };
    const onData = (chunk: Buffer): void => {
      if (probe !== null) {
        apply(probe.push(chunk));
        return;
      }
      const joined = new Uint8Array(head.length + chunk.length);
      joined.set(head);
      joined.set(chunk, head.length);
      head = joined;
      const kind = sniffProtocol(head);
      if (kind === "unknown") return;
      if (kind === "http1") {
        handOver(head, "http1");
        return;
      }
      probe = new Http2Probe(http2SettingsPayload, http2TableSize);
      clearTimeout(timer);
      const p = probe;
      timer = setTimeout(() => apply(p.timeout()), probeTimeoutMs);
      apply(probe.push(head));
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
    socket.once("close", cleanup);
  }
}
