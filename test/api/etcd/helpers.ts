import http2 from "node:http2";
import { frameMessage } from "../../../src/api/etcd/grpc/frames.js";
import { LocalBackend, type LocalBackendOptions } from "../../../src/api/etcd/local.js";
import { EtcdApiServer, type EtcdApiServerOptions } from "../../../src/api/etcd/server.js";
import { type CtlResult, etcdctl as runEtcdctl } from "../../../src/testing/procs.js";

/** An in-process API server on 127.0.0.1 (port 0) over a fresh LocalBackend. */
export interface TestServer {
  readonly server: EtcdApiServer;
  readonly backend: LocalBackend;
  readonly port: number;
  readonly endpoint: string;
  close(): Promise<void>;
}

export async function startServer(
  backendOptions: LocalBackendOptions = {},
  serverOptions: Partial<EtcdApiServerOptions> = {},
): Promise<TestServer> {
  const backend = new LocalBackend(backendOptions);
  const server = new EtcdApiServer({
    backend,
    onInternalError: (where, e) => {
      throw new Error(`internal error in ${where}: ${String(e)}`);
    },
    ...serverOptions,
  });
  const port = await server.listen(0);
  return {
    server,
    backend,
    port,
    endpoint: `127.0.0.1:${port}`,
    close: async () => {
      await server.close();
      backend.close();
    },
  };
}

/**
 * Runs Debian's etcdctl (v3 API) against `endpoint`, asynchronously (the server runs in this
 * process); see `src/testing/procs.ts`.
 */
export function etcdctl(endpoint: string, args: readonly string[], input?: string): Promise<CtlResult> {
  return runEtcdctl(endpoint, args, "5s", input);
}

/** One raw gRPC call's outcome. */
export interface RawCall {
  readonly httpStatus: number;
  readonly grpcStatus: number;
  readonly grpcMessage: string;
  readonly messages: Uint8Array[];
}

/**
 * Sends `body` (already framed, or a message to frame) to `path` over a fresh HTTP/2 connection
 * and collects the response messages and status (from trailers or a trailers-only response).
 */
export function rawGrpc(
  port: number,
  path: string,
  body: Uint8Array,
  opts: { framed?: boolean; headers?: Record<string, string> } = {},
): Promise<RawCall> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on("error", reject);
    const req = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      ...opts.headers,
    });
    let httpStatus = 0;
    let status = -1;
    let message = "";
    const chunks: Buffer[] = [];
    const take = (h: http2.IncomingHttpHeaders): void => {
      if (h["grpc-status"] !== undefined) status = Number(h["grpc-status"]);
      if (h["grpc-message"] !== undefined) message = decodeURIComponent(String(h["grpc-message"]));
    };
    req.on("response", (h) => {
      httpStatus = Number(h[":status"]);
      take(h);
    });
    req.on("trailers", take);
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("error", reject);
    req.on("close", () => {
      session.close();
      const all = Buffer.concat(chunks);
      const messages: Uint8Array[] = [];
      for (let at = 0; at + 5 <= all.length; ) {
        const n = all.readUInt32BE(at + 1);
        messages.push(new Uint8Array(all.subarray(at + 5, at + 5 + n)));
        at += 5 + n;
      }
      resolve({ httpStatus, grpcStatus: status, grpcMessage: message, messages });
    });
    req.end(opts.framed === true ? body : frameMessage(body));
  });
}

/** UTF-8 bytes. */
export function b(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Waits until `check` returns true (polling), or fails after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
