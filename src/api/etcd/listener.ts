import net from "node:net";
import tls from "node:tls";
import { type Logger, noopLogger } from "../../lib/logger.js";
import { http2Preface } from "./grpc/h2.js";
import { setConnectionIdentity } from "./tlsidentity.js";

export { http2Preface };

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
  /** An HTTP/2 connection and the bytes read from it so far (the preface and maybe more). */
  http2(socket: net.Socket, head: Uint8Array): void;
  http1(socket: net.Socket): void;
}

/** Milliseconds a TLS client has to complete its handshake on an `https://` client URL. */
export const tlsHandshakeTimeoutMs = 10_000;
/** Most "a TLS handshake failed" lines logged per second; the rest go to debug (fuzzers, scanners). */
export const tlsFailureLogsPerSecondMax = 5;

/**
 * The client certificates of an `https://` client URL (etcd's `--cert-file`, `--key-file`,
 * `--trusted-ca-file`, `--client-cert-auth`, `--client-crl-file`), as the listener uses them;
 * implemented by `TlsSource` in `src/server/tls`. Methods return what is current, so reloaded
 * files apply to the next connection.
 */
export interface ListenerTls {
  /** Clients must present a certificate signed by the trusted CAs (`--client-cert-auth`). */
  readonly clientCertAuth: boolean;
  /** The certificate, key, CAs, CRL, ciphers and versions to serve with. */
  serverContextOptions(): tls.SecureContextOptions;
  /** Why a verified client certificate is refused anyway (allowed host name), or null. */
  checkCertificate(cert: tls.PeerCertificate): string | null;
  /** Calls `listener` after the certificate files were reloaded; returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
}

/**
 * The ALPN protocol for a TLS client that offered `offered`: `http/1.1` whenever offered, else
 * `h2`; undefined (the handshake fails with no_application_protocol) when neither is. gRPC
 * clients (Go, C-core, grpc-js, Java) offer only `h2`; general HTTP clients (curl, browsers)
 * offer both and then speak HTTP/1.1, which is what the JSON gateway, `/health` and `/metrics`
 * are served on (node:http2 here serves only gRPC).
 */
export function chooseAlpn(offered: readonly string[]): string | undefined {
  if (offered.includes("http/1.1")) return "http/1.1";
  return offered.includes("h2") ? "h2" : undefined;
}

/** Options of a {@link SharedPortListener}. */
export interface SharedPortListenerOptions {
  /** Serve TLS (an `https://` client URL) with these certificates; plain TCP without. */
  readonly tls?: ListenerTls;
  /** Where TLS refusals and handshake failures are logged; nothing by default. */
  readonly logger?: Logger;
}

/**
 * A TCP listener that serves gRPC (HTTP/2 with prior knowledge) and HTTP/1.1 on the same port, as
 * etcd does: it reads the first bytes of each connection and hands the socket to the HTTP/2 server
 * with the bytes read, or puts them back (`unshift`) for the HTTP/1.1 server. Bytes are only
 * buffered until the protocol is known (at most the 24-byte preface).
 *
 * With TLS the same happens on the decrypted bytes after the handshake, whose ALPN choice is
 * {@link chooseAlpn}'s: a connection on `http/1.1` goes to the HTTP/1.1 server at once; one on
 * `h2`, or without ALPN, is sniffed as above.
 * With client certificate auth the certificate's CN is recorded as the connection's identity.
 */
export class SharedPortListener {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #logger: Logger;
  /** TLS connections still in their handshake, by remote address, so close() can end them. */
  readonly #handshaking = new Map<string, net.Socket>();
  #unsubscribeTls: (() => void) | null = null;
  #tlsFailures = { second: 0, logged: 0 };

  constructor(router: ConnectionRouter, options: SharedPortListenerOptions = {}) {
    this.#logger = options.logger ?? noopLogger;
    const secure = options.tls;
    if (secure === undefined) {
      this.#server = net.createServer({ noDelay: true }, (socket) => this.#accept(socket, router));
      return;
    }
    const server = tls.createServer({
      ...secure.serverContextOptions(),
      ALPNCallback: ({ protocols }) => chooseAlpn(protocols),
      requestCert: secure.clientCertAuth,
      rejectUnauthorized: secure.clientCertAuth,
      handshakeTimeout: tlsHandshakeTimeoutMs,
    });
    this.#server = server;
    server.on("connection", (raw: net.Socket) => {
      raw.setNoDelay(true);
      const key = `${raw.remoteAddress}:${raw.remotePort}`;
      this.#handshaking.set(key, raw);
      raw.once("close", () => {
        if (this.#handshaking.get(key) === raw) this.#handshaking.delete(key);
      });
    });
    server.on("secureConnection", (socket: tls.TLSSocket) => {
      this.#handshaking.delete(`${socket.remoteAddress}:${socket.remotePort}`);
      this.#acceptTls(socket, router, secure);
    });
    server.on("tlsClientError", (err: Error, socket: tls.TLSSocket) => {
      socket.destroy();
      this.#logTlsFailure(remoteOf(socket), err.message);
    });
    this.#unsubscribeTls = secure.onChange(() => server.setSecureContext(secure.serverContextOptions()));
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

  /**
   * Stops accepting; sockets not yet sniffed (or still in their TLS handshake) are destroyed.
   * Handed-off sockets belong to their server.
   */
  close(): Promise<void> {
    this.#unsubscribeTls?.();
    for (const s of this.#sockets) s.destroy();
    for (const s of this.#handshaking.values()) s.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  /** A TLS connection after its handshake: checked, its identity recorded, then routed. */
  #acceptTls(socket: tls.TLSSocket, router: ConnectionRouter, secure: ListenerTls): void {
    if (secure.clientCertAuth) {
      const cert = socket.getPeerCertificate();
      const problem = secure.checkCertificate(cert);
      if (problem !== null) {
        this.#logger.warn("api: refused a client certificate", {
          remote: remoteOf(socket),
          reason: problem,
        });
        socket.destroy();
        return;
      }
      const cn: unknown = cert.subject?.CN;
      setConnectionIdentity(socket, { commonName: typeof cn === "string" ? cn : "" });
    }
    socket.on("error", () => socket.destroy());
    if (socket.alpnProtocol === "http/1.1") {
      router.http1(socket);
      return;
    }
    this.#accept(socket, router);
  }

  #logTlsFailure(remote: string, reason: string): void {
    const second = Math.floor(performance.now() / 1000);
    if (this.#tlsFailures.second !== second) this.#tlsFailures = { second, logged: 0 };
    const level = this.#tlsFailures.logged++ < tlsFailureLogsPerSecondMax ? "warn" : "debug";
    this.#logger[level]("api: a TLS handshake failed; connection closed", { remote, reason });
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
      if (kind === "http2") {
        // The HTTP/2 server reads the socket itself from here on, starting with these bytes.
        router.http2(socket, head);
        return;
      }
      // node:http reads through the stream: the bytes go back first.
      socket.pause();
      socket.unshift(Buffer.from(head.buffer, head.byteOffset, head.length));
      router.http1(socket);
      socket.resume();
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
    socket.once("close", cleanup);
  }
}

/** `address:port` of a connection's peer, or a placeholder once the socket has closed. */
function remoteOf(socket: net.Socket): string {
  return socket.remoteAddress === undefined
    ? "(already closed)"
    : `${socket.remoteAddress}:${socket.remotePort}`;
}
