import net from "node:net";

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

/** Where a sniffed connection goes. */
export interface ConnectionRouter {
  http2(socket: net.Socket): void;
  http1(socket: net.Socket): void;
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
    const timer = setTimeout(() => socket.destroy(), sniffTimeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.off("data", onData);
      this.#sockets.delete(socket);
    };
    const onData = (chunk: Buffer): void => {
      const joined = new Uint8Array(head.length + chunk.length);
      joined.set(head);
      joined.set(chunk, head.length);
      head = joined;
      const kind = sniffProtocol(head);
      if (kind === "unknown") return;
      cleanup();
      socket.pause();
      socket.unshift(Buffer.from(head.buffer, head.byteOffset, head.length));
      // node:http2 reads the unshifted bytes itself and then consumes the socket's handle
      // directly, so the socket must stay paused; node:http reads through the stream and needs it
      // flowing again.
      if (kind === "http2") router.http2(socket);
      else {
        router.http1(socket);
        socket.resume();
      }
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
    socket.once("close", cleanup);
  }
}
