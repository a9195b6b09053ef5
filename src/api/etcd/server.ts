import http from "node:http";
import type { Socket } from "node:net";
import type { Logger } from "../../lib/logger.js";
import { limits } from "../../mvcc/mod.js";
import { AuthGate } from "./auth/gate.js";
import type { EtcdBackend } from "./backend.js";
import { noLeaderError } from "./errors.js";
import { Gateway } from "./gateway.js";
import {
  type CallContext,
  GrpcServer,
  type MethodDef,
  type StreamCall,
  unaryDrainMs,
} from "./grpc/server.js";
import { type ListenerTls, SharedPortListener } from "./listener.js";
import { authMethods } from "./services/auth.js";
import { ServiceContext } from "./services/context.js";
import { electionMethods } from "./services/election.js";
import { kvMethods } from "./services/kv.js";
import { leaseMethods } from "./services/lease.js";
import { lockMethods } from "./services/lock.js";
import { clusterMethods, healthMethods, maintenanceMethods } from "./services/maintenance.js";
import { watchMethods } from "./services/watch.js";
import { grpcOverheadBytes, unknownMethodMessage } from "./unimplemented.js";

/** Options of an {@link EtcdApiServer}. */
export interface EtcdApiServerOptions {
  readonly backend: EtcdBackend;
  /** etcd `--max-request-bytes` (default 1.5 MiB). */
  readonly requestBytesMax?: number;
  /** Prometheus text for `GET /metrics`; default: a minimal process section. */
  readonly metricsText?: () => string;
  /** Called for unexpected handler exceptions (the call fails with INTERNAL). */
  readonly onInternalError?: (where: string, error: unknown) => void;
  /** Serve TLS (an `https://` client URL) with these certificates; plain TCP without. */
  readonly tls?: ListenerTls;
  /** Where the listener logs TLS refusals and handshake failures; nothing by default. */
  readonly logger?: Logger;
  /**
   * The member's auth gate (token table, brute-force limiter, password cost), shared by every
   * client listener of the member; by default this server makes its own, with etcd's defaults.
   */
  readonly auth?: AuthGate;
}

/** Every implemented method by gRPC path. */
export function etcdMethods(sc: ServiceContext): Record<string, MethodDef> {
  return {
    ...kvMethods(sc),
    ...watchMethods(sc),
    ...leaseMethods(sc),
    ...maintenanceMethods(sc),
    ...clusterMethods(sc),
    ...healthMethods(sc),
    ...lockMethods(sc),
    ...electionMethods(sc),
    ...authMethods(sc),
  };
}

/** Fails a call carrying `hasleader: true` metadata while the member knows no leader (as etcd). */
function withLeaderCheck(def: MethodDef, backend: EtcdBackend): MethodDef {
  const check = (ctx: CallContext): void => {
    if (ctx.metadata.hasleader === "true" && !backend.hasLeader()) throw noLeaderError();
  };
  switch (def.kind) {
    case "unary":
      return {
        ...def,
        handle: async (req: unknown, ctx: CallContext) => {
          check(ctx);
          return def.handle(req, ctx);
        },
      };
    case "serverStream":
      return {
        ...def,
        handle: async (req: unknown, ctx: CallContext, send: (res: object) => Promise<void>) => {
          check(ctx);
          return def.handle(req, ctx, send);
        },
      };
    case "bidi":
      return {
        ...def,
        handle: async (call: StreamCall<unknown, object>, ctx: CallContext) => {
          check(ctx);
          return def.handle(call, ctx);
        },
      };
  }
}

/**
 * The etcd v3 API on one port: gRPC (HTTP/2, prior knowledge) and HTTP/1.1 (the `/v3/*` JSON
 * gateway, `/version`, `/health`, `/metrics`) share it, as on an etcd client URL.
 */
export class EtcdApiServer {
  readonly grpc: GrpcServer;
  readonly gateway: Gateway;
  readonly #http1: http.Server;
  readonly #listener: SharedPortListener;
  readonly #http1Sockets = new Set<Socket>();
  /** The auth gate this server made itself (none when the member's was given). */
  readonly #ownAuth: AuthGate | null;
  #port = 0;

  constructor(options: EtcdApiServerOptions) {
    const requestBytesMax = options.requestBytesMax ?? limits.requestBytesMax;
    const auth = options.auth ?? new AuthGate(options.backend);
    this.#ownAuth = options.auth === undefined ? auth : null;
    const sc = new ServiceContext(options.backend, requestBytesMax, auth);
    this.grpc = new GrpcServer({
      receiveMessageBytesMax: requestBytesMax + grpcOverheadBytes,
      unknownMethodMessage,
      ...(options.onInternalError === undefined ? {} : { onInternalError: options.onInternalError }),
    });
    for (const [path, def] of Object.entries(etcdMethods(sc))) {
      this.grpc.register(path, withLeaderCheck(def, options.backend));
    }
    this.gateway = new Gateway(this.grpc, sc, options.metricsText);
    this.#http1 = http.createServer((req, res) => this.gateway.handle(req, res));
    this.#listener = new SharedPortListener(
      {
        http2: (socket: Socket, head: Uint8Array) => this.grpc.handleConnection(socket, head),
        http1: (socket: Socket) => {
          // node:http tracks connections only for servers that listen themselves, so track here.
          this.#http1Sockets.add(socket);
          socket.once("close", () => this.#http1Sockets.delete(socket));
          this.#http1.emit("connection", socket);
        },
      },
      {
        ...(options.tls === undefined ? {} : { tls: options.tls }),
        ...(options.logger === undefined ? {} : { logger: options.logger }),
      },
    );
  }

  /** The bound port (after {@link listen}). */
  get port(): number {
    return this.#port;
  }

  /** Listens on `host:port` (0 = any free port) and resolves with the bound port. */
  async listen(port: number, host = "127.0.0.1"): Promise<number> {
    this.#port = await this.#listener.listen(port, host);
    return this.#port;
  }

  /**
   * Graceful close: stops accepting, refuses new calls, ends streams with UNAVAILABLE, lets unary
   * calls in flight (gRPC and JSON) finish for up to `unaryDrainMs`, then closes every connection.
   */
  async close(): Promise<void> {
    const listening = this.#listener.close();
    this.gateway.close();
    await Promise.all([this.grpc.close(), this.gateway.drain(unaryDrainMs)]);
    for (const socket of this.#http1Sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#http1.close(() => resolve()));
    await listening;
    this.#ownAuth?.close();
  }
}
