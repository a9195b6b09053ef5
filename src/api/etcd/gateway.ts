/**
 * The HTTP/1.1 side of a client port: etcd's `/v3/*` JSON gateway (each path calls the same handler
 * as its gRPC method, bodies in the proto3 JSON mapping of `proto/json.ts`; streams as one
 * `{"result": …}` object per line), and the plain endpoints `GET /version`, `GET /health` and
 * `GET /metrics`.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { FrameParser } from "./grpc/frames.js";
import type { CallContext, GrpcServer, MethodDef, StreamCall } from "./grpc/server.js";
import { GrpcError, GrpcStatus, httpStatusOf } from "./grpc/status.js";
import { serveProbe } from "./probes.js";
import { decodeMessage, encodedSize } from "./proto/codec.js";
import { fromJson, toJson } from "./proto/json.js";
import type { ServiceContext } from "./services/context.js";
import { identityFields } from "./tlsidentity.js";
import { grpcOverheadBytes, unknownMethodMessage } from "./unimplemented.js";
import { etcdClusterVersion, etcdServerVersion } from "./version.js";

/** Gateway paths → gRPC method paths (etcd's `google.api.http` bindings). */
export const gatewayRoutes: Readonly<Record<string, string>> = {
  "/v3/kv/range": "/etcdserverpb.KV/Range",
  "/v3/kv/put": "/etcdserverpb.KV/Put",
  "/v3/kv/deleterange": "/etcdserverpb.KV/DeleteRange",
  "/v3/kv/txn": "/etcdserverpb.KV/Txn",
  "/v3/kv/compaction": "/etcdserverpb.KV/Compact",
  "/v3/watch": "/etcdserverpb.Watch/Watch",
  "/v3/lease/grant": "/etcdserverpb.Lease/LeaseGrant",
  "/v3/lease/revoke": "/etcdserverpb.Lease/LeaseRevoke",
  "/v3/kv/lease/revoke": "/etcdserverpb.Lease/LeaseRevoke",
  "/v3/lease/keepalive": "/etcdserverpb.Lease/LeaseKeepAlive",
  "/v3/lease/timetolive": "/etcdserverpb.Lease/LeaseTimeToLive",
  "/v3/kv/lease/timetolive": "/etcdserverpb.Lease/LeaseTimeToLive",
  "/v3/lease/leases": "/etcdserverpb.Lease/LeaseLeases",
  "/v3/kv/lease/leases": "/etcdserverpb.Lease/LeaseLeases",
  "/v3/cluster/member/add": "/etcdserverpb.Cluster/MemberAdd",
  "/v3/cluster/member/remove": "/etcdserverpb.Cluster/MemberRemove",
  "/v3/cluster/member/update": "/etcdserverpb.Cluster/MemberUpdate",
  "/v3/cluster/member/list": "/etcdserverpb.Cluster/MemberList",
  "/v3/cluster/member/promote": "/etcdserverpb.Cluster/MemberPromote",
  "/v3/maintenance/alarm": "/etcdserverpb.Maintenance/Alarm",
  "/v3/maintenance/status": "/etcdserverpb.Maintenance/Status",
  "/v3/maintenance/defragment": "/etcdserverpb.Maintenance/Defragment",
  "/v3/maintenance/hash": "/etcdserverpb.Maintenance/Hash",
  "/v3/maintenance/hashkv": "/etcdserverpb.Maintenance/HashKV",
  "/v3/maintenance/snapshot": "/etcdserverpb.Maintenance/Snapshot",
  "/v3/maintenance/transfer-leadership": "/etcdserverpb.Maintenance/MoveLeader",
  "/v3/maintenance/downgrade": "/etcdserverpb.Maintenance/Downgrade",
  ...Object.fromEntries(
    [
      ["enable", "AuthEnable"],
      ["disable", "AuthDisable"],
      ["status", "AuthStatus"],
      ["authenticate", "Authenticate"],
      ["user/add", "UserAdd"],
      ["user/get", "UserGet"],
      ["user/list", "UserList"],
      ["user/delete", "UserDelete"],
      ["user/changepw", "UserChangePassword"],
      ["user/grant", "UserGrantRole"],
      ["user/revoke", "UserRevokeRole"],
      ["role/add", "RoleAdd"],
      ["role/get", "RoleGet"],
      ["role/list", "RoleList"],
      ["role/delete", "RoleDelete"],
      ["role/grant", "RoleGrantPermission"],
      ["role/revoke", "RoleRevokePermission"],
    ].map(([p, m]) => [`/v3/auth/${p}`, `/etcdserverpb.Auth/${m}`]),
  ),
  "/v3/lock/lock": "/v3lockpb.Lock/Lock",
  "/v3/lock/unlock": "/v3lockpb.Lock/Unlock",
  ...Object.fromEntries(
    ["campaign", "proclaim", "leader", "observe", "resign"].map((p) => [
      `/v3/election/${p}`,
      `/v3electionpb.Election/${p[0]?.toUpperCase()}${p.slice(1)}`,
    ]),
  ),
};

/** The default `/metrics` text: what `etcdctl check datascale` and basic monitoring read. */
export function defaultMetricsText(sc: ServiceContext): string {
  const rss = process.memoryUsage().rss;
  const h = sc.backend.header();
  return [
    "# HELP process_resident_memory_bytes Resident memory size in bytes.",
    "# TYPE process_resident_memory_bytes gauge",
    `process_resident_memory_bytes ${rss}`,
    "# HELP etcd_server_has_leader Whether or not a leader exists. 1 is existence, 0 is not.",
    "# TYPE etcd_server_has_leader gauge",
    `etcd_server_has_leader ${sc.backend.hasLeader() ? 1 : 0}`,
    "# HELP etcd_mvcc_current_revision The current revision of the store.",
    "# TYPE etcd_mvcc_current_revision gauge",
    `etcd_mvcc_current_revision ${h.revision}`,
    "",
  ].join("\n");
}

/** Splits a byte stream of concatenated JSON values (grpc-gateway's streaming request body). */
export class JsonValueSplitter {
  #text = "";
  #depth = 0;
  #inString = false;
  #escape = false;
  #start = -1;
  #scan = 0;

  /** Adds text; returns the complete top-level values seen so far (as text). */
  push(chunk: string): string[] {
    this.#text += chunk;
    const out: string[] = [];
    const t = this.#text;
    let i = this.#scan;
    for (; i < t.length; i++) {
      const c = t[i];
      if (this.#inString) {
        if (this.#escape) this.#escape = false;
        else if (c === "\\") this.#escape = true;
        else if (c === '"') this.#inString = false;
        continue;
      }
      if (c === '"') this.#inString = true;
      else if (c === "{" || c === "[") {
        if (this.#depth === 0) this.#start = i;
        this.#depth++;
      } else if (c === "}" || c === "]") {
        this.#depth--;
        if (this.#depth === 0 && this.#start !== -1) {
          out.push(t.slice(this.#start, i + 1));
          this.#start = -1;
        }
      }
    }
    if (this.#depth === 0) {
      this.#text = "";
      this.#scan = 0;
    } else {
      this.#text = t.slice(this.#start);
      this.#scan = this.#text.length;
      this.#start = 0;
    }
    return out;
  }

  /** Whether a value is partly received. */
  get pending(): boolean {
    return this.#depth > 0;
  }
}

/** The gateway; one per API server. */
export class Gateway {
  readonly #grpc: GrpcServer;
  readonly #sc: ServiceContext;
  readonly #metricsText: () => string;
  readonly #open = new Set<ServerResponse>();
  /** Unary requests being served (a graceful close waits for them). */
  #unaryInFlight = 0;
  #closing = false;

  constructor(grpc: GrpcServer, sc: ServiceContext, metricsText?: () => string) {
    this.#grpc = grpc;
    this.#sc = sc;
    this.#metricsText = metricsText ?? (() => defaultMetricsText(sc));
  }

  /** Refuses new requests (UNAVAILABLE) and ends every open streaming response. */
  close(): void {
    this.#closing = true;
    for (const res of this.#open) res.destroy();
    this.#open.clear();
  }

  /** Resolves once no unary request is in flight, or after `ms`. */
  async drain(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (this.#unaryInFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }

  /** Serves one HTTP/1.1 request. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    if (this.#closing) {
      writeError(res, new GrpcError(GrpcStatus.unavailable, "etcdserver: server stopped"));
      return;
    }
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    this.#route(req, res, path).catch((e: unknown) => {
      if (!res.headersSent) writeError(res, e instanceof GrpcError ? e : internal(e));
      else res.destroy();
    });
  }

  async #route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    switch (path) {
      case "/version":
        return writeJson(res, 200, { etcdserver: etcdServerVersion, etcdcluster: etcdClusterVersion });
      case "/health":
        return this.#health(res);
      case "/readyz":
      case "/livez":
        return serveProbe(this.#sc.backend, path, req, res);
      case "/metrics":
        res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
        res.end(this.#metricsText());
        return;
    }
    const grpcPath = gatewayRoutes[path];
    if (grpcPath === undefined) {
      writeJson(res, 404, { error: "Not Found", code: GrpcStatus.notFound, message: "Not Found" });
      return;
    }
    if (req.method !== "POST") {
      res.writeHead(405, { allow: "POST", "content-type": "application/json" });
      res.end(
        JSON.stringify({
          error: "Method Not Allowed",
          code: GrpcStatus.unimplemented,
          message: "Method Not Allowed",
        }),
      );
      return;
    }
    const def = this.#grpc.method(grpcPath);
    if (def === undefined) {
      throw new GrpcError(GrpcStatus.unimplemented, unknownMethodMessage(grpcPath));
    }
    if (def.kind === "bidi") return this.#bidi(req, res, def);
    const body = await readBody(req, this.#sc.requestBytesMax + grpcOverheadBytes);
    const request = parseRequest(def, body);
    const abort = abortOnClose(req, res);
    const ctx: CallContext = {
      signal: abort.signal,
      metadata: metadataOf(req),
      requestBytes: encodedSize(def.requestDesc, request as object),
      ...identityFields(req.socket),
      ...(req.socket.remoteAddress === undefined ? {} : { remoteAddress: req.socket.remoteAddress }),
    };
    if (def.kind === "unary") {
      this.#unaryInFlight++;
      try {
        const response = await def.handle(request, ctx);
        writeJson(res, 200, toJson(def.responseDesc, response));
      } finally {
        this.#unaryInFlight--;
      }
      return;
    }
    const stream = this.#startStream(res);
    try {
      await def.handle(request, ctx, (r) => stream.send(toJson(def.responseDesc, r)));
      stream.end();
    } catch (e) {
      stream.fail(e instanceof GrpcError ? e : internal(e));
    }
  }

  async #bidi(
    req: IncomingMessage,
    res: ServerResponse,
    def: Extract<MethodDef, { kind: "bidi" }>,
  ): Promise<void> {
    const abort = abortOnClose(req, res);
    const queue: unknown[] = [];
    let ended = false;
    let wake: (() => void) | null = null;
    const notify = (): void => {
      const w = wake;
      wake = null;
      w?.();
    };
    const splitter = new JsonValueSplitter();
    const stream = this.#startStream(res);
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => {
      for (const text of splitter.push(chunk)) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          stream.fail(new GrpcError(GrpcStatus.invalidArgument, "malformed JSON in request body"));
          abort.abort();
          return;
        }
        const r = fromJson<unknown>(def.requestDesc, parsed);
        if (!r.ok) {
          stream.fail(new GrpcError(GrpcStatus.invalidArgument, r.reason));
          abort.abort();
          return;
        }
        queue.push(r.value);
      }
      notify();
    });
    req.on("end", () => {
      ended = true;
      notify();
    });
    abort.signal.addEventListener("abort", () => {
      ended = true;
      notify();
    });
    async function* requests(): AsyncGenerator<unknown> {
      for (;;) {
        const item = queue.shift();
        if (item !== undefined) {
          yield item;
          continue;
        }
        if (ended) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    }
    const call: StreamCall<unknown, object> = {
      requests: requests(),
      send: (r) => stream.send(toJson(def.responseDesc, r)),
      // Responses a handler encoded itself (the watch fan-out) are decoded back for JSON.
      sendFramed: async (framed) => {
        for (const ev of new FrameParser(Number.MAX_SAFE_INTEGER).push(framed)) {
          if (ev.type !== "message") continue;
          const decoded = decodeMessage<object>(def.responseDesc, ev.message);
          if (decoded.ok) await stream.send(toJson(def.responseDesc, decoded.value));
        }
      },
      get ended() {
        return abort.signal.aborted;
      },
    };
    try {
      await def.handle(call, {
        signal: abort.signal,
        metadata: metadataOf(req),
        requestBytes: 0,
        ...identityFields(req.socket),
        ...(req.socket.remoteAddress === undefined ? {} : { remoteAddress: req.socket.remoteAddress }),
      });
      stream.end();
    } catch (e) {
      stream.fail(e instanceof GrpcError ? e : internal(e));
    }
  }

  #startStream(res: ServerResponse): {
    send(obj: object): Promise<void>;
    end(): void;
    fail(e: GrpcError): void;
  } {
    res.writeHead(200, { "content-type": "application/json", "transfer-encoding": "chunked" });
    res.flushHeaders();
    this.#open.add(res);
    res.on("close", () => this.#open.delete(res));
    const write = (line: string): Promise<void> => {
      if (res.destroyed || res.writableEnded) return Promise.resolve();
      if (res.write(`${line}\n`)) return Promise.resolve();
      return new Promise((resolve) => {
        res.once("drain", resolve);
        res.once("close", resolve);
      });
    };
    return {
      send: (obj) => write(JSON.stringify({ result: obj })),
      end: () => {
        if (!res.writableEnded) res.end();
      },
      fail: (e) => {
        if (res.writableEnded) return;
        const httpCode = httpStatusOf(e.code);
        void write(
          JSON.stringify({
            error: {
              grpc_code: e.code,
              http_code: httpCode,
              message: e.message,
              http_status: statusText(httpCode),
            },
          }),
        );
        res.end();
      },
    };
  }

  async #health(res: ServerResponse): Promise<void> {
    const b = this.#sc.backend;
    let reason = "";
    if (!b.hasLeader()) reason = "RAFT NO LEADER";
    else {
      const s = await b.status();
      if (!s.ok) reason = "STATUS FAILED";
      else if (s.value.errors.length > 0) {
        reason = `ALARM ${s.value.errors.map((x) => /alarm:(\w+)/.exec(x)?.[1] ?? x).join(",")}`;
      } else {
        const r = await b.range({ key: new TextEncoder().encode("health") }, { serializable: false });
        if (!r.ok) reason = "QGET ERROR";
      }
    }
    writeJson(res, reason === "" ? 200 : 503, { health: reason === "" ? "true" : "false", reason });
  }
}

function statusText(code: number): string {
  const texts: Record<number, string> = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    504: "Gateway Timeout",
  };
  return texts[code] ?? "Unknown";
}

function internal(e: unknown): GrpcError {
  return new GrpcError(GrpcStatus.internal, `etcdserver: internal error: ${String(e)}`);
}

function writeJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function writeError(res: ServerResponse, e: GrpcError): void {
  writeJson(res, httpStatusOf(e.code), { error: e.message, code: e.code, message: e.message });
}

function metadataOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = String(v);
  if (out.authorization !== undefined) out.token = out.authorization;
  return out;
}

function abortOnClose(req: IncomingMessage, res: ServerResponse): AbortController {
  const ac = new AbortController();
  const onClose = (): void => {
    if (!res.writableFinished) ac.abort();
  };
  res.on("close", onClose);
  req.on("error", () => ac.abort());
  return ac;
}

function readBody(req: IncomingMessage, bytesMax: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > bytesMax) {
        reject(new GrpcError(GrpcStatus.invalidArgument, "etcdserver: request is too large"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseRequest(def: MethodDef, body: string): unknown {
  let json: unknown = {};
  if (body.trim() !== "") {
    try {
      json = JSON.parse(body);
    } catch {
      throw new GrpcError(GrpcStatus.invalidArgument, "malformed JSON in request body");
    }
  }
  const r = fromJson<unknown>(def.requestDesc, json);
  if (!r.ok) throw new GrpcError(GrpcStatus.invalidArgument, r.reason);
  return r.value;
}
