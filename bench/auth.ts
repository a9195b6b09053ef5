// Build, then `node dist/bench/auth.js`: what etcd authentication costs on the put path.
// Put throughput with auth off and on (a token on every request, permission checks, the
// auth-revision guard on every write), alternating off/on rounds so load on the machine affects
// both alike:
//   0. the checks alone: identify the caller (token lookup) and Put through the checking backend
//      into a LocalBackend, no transport, CPU time per Put (stable on a busy machine);
//   1. in process: one EtcdApiServer over a LocalBackend (the API layer's own cost);
//   2. a real three-member cluster (`dist/src/cli/main.js`, run from the repo root), through the log.
// The client is a raw HTTP/2 connection with BENCH_INFLIGHT concurrent unary Puts (default 64),
// each round BENCH_SECONDS long (default 3). The non-root user writes under a granted prefix, so
// the permission check is a real interval lookup, not the root shortcut.
import http2 from "node:http2";
import { join } from "node:path";
import { AuthGate } from "../src/api/etcd/auth/gate.js";
import type { CallContext } from "../src/api/etcd/grpc/server.js";
import { LocalBackend } from "../src/api/etcd/local.js";
import { decodeMessage, encodeMessage, type MessageDesc } from "../src/api/etcd/proto/codec.js";
import { D } from "../src/api/etcd/proto/messages.js";
import { EtcdApiServer } from "../src/api/etcd/server.js";
import { ServiceContext } from "../src/api/etcd/services/context.js";
import { ProcessCluster, waitFor } from "../src/testing/procs.js";
import { rawUnary } from "./lib/rawgrpc.js";

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const inflight = Number(process.env.BENCH_INFLIGHT ?? 64);
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const enc = new TextEncoder();

/** One unary call on `session`; resolves with the gRPC status and the decoded response. */
async function call(
  session: http2.ClientHttp2Session,
  path: string,
  req: MessageDesc,
  res: MessageDesc,
  msg: object,
  token: string | null,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const a = await rawUnary(session, path, encodeMessage(req, msg), token === null ? {} : { token });
  const d = a.data.length >= 5 ? decodeMessage<Record<string, unknown>>(res, a.data.subarray(5)) : null;
  return { status: a.status, body: d?.ok === true ? d.value : {} };
}

async function must(p: Promise<{ status: number; body: Record<string, unknown> }>, what: string) {
  const r = await p;
  if (r.status !== 0) throw new Error(`${what}: gRPC status ${r.status}`);
  return r.body;
}

/** Puts per second for `seconds` with `inflight` streams on one connection. */
async function putRate(port: number, token: string | null): Promise<number> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  const value = new Uint8Array(100);
  let done = 0;
  let failed = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: inflight }, async (_, w) => {
      for (let i = 0; performance.now() < end; i++) {
        const key = enc.encode(`/app/bench/${w}/${i % 1000}`);
        const r = await call(
          session,
          "/etcdserverpb.KV/Put",
          D.PutRequest,
          D.PutResponse,
          { key, value },
          token,
        );
        if (r.status === 0) done++;
        else failed++;
      }
    }),
  );
  session.close();
  if (failed > 0) throw new Error(`${failed} puts failed`);
  return done / seconds;
}

/** Creates root and a writer with readwrite on /app/ (auth still off); returns nothing. */
async function setUp(port: number): Promise<void> {
  const s = http2.connect(`http://127.0.0.1:${port}`);
  const a = (m: string, req: MessageDesc, res: MessageDesc, msg: object) =>
    must(call(s, `/etcdserverpb.Auth/${m}`, req, res, msg, null), m);
  await a("UserAdd", D.AuthUserAddRequest, D.AuthUserAddResponse, { name: "root", password: "rootpw" });
  await a("UserGrantRole", D.AuthUserGrantRoleRequest, D.AuthUserGrantRoleResponse, {
    user: "root",
    role: "root",
  });
  await a("RoleAdd", D.AuthRoleAddRequest, D.AuthRoleAddResponse, { name: "app" });
  for (const p of ["/a", "/app/", "/b", "/c"]) {
    const perm = { permType: 2, key: enc.encode(p), rangeEnd: enc.encode(p === "/app/" ? "/app0" : `${p}0`) };
    await a("RoleGrantPermission", D.AuthRoleGrantPermissionRequest, D.AuthRoleGrantPermissionResponse, {
      name: "app",
      perm,
    });
  }
  await a("UserAdd", D.AuthUserAddRequest, D.AuthUserAddResponse, { name: "writer", password: "wpw" });
  await a("UserGrantRole", D.AuthUserGrantRoleRequest, D.AuthUserGrantRoleResponse, {
    user: "writer",
    role: "app",
  });
  s.close();
}

/** Turns auth on (returns the writer's token) or off (with root's token). */
async function toggle(port: number, on: boolean): Promise<string | null> {
  const s = http2.connect(`http://127.0.0.1:${port}`);
  const login = async (name: string, password: string) =>
    String(
      (
        await must(
          call(
            s,
            "/etcdserverpb.Auth/Authenticate",
            D.AuthenticateRequest,
            D.AuthenticateResponse,
            { name, password },
            null,
          ),
          "Authenticate",
        )
      ).token,
    );
  try {
    if (on) {
      await must(
        call(s, "/etcdserverpb.Auth/AuthEnable", D.AuthEnableRequest, D.AuthEnableResponse, {}, null),
        "AuthEnable",
      );
      return await login("writer", "wpw");
    }
    const root = await login("root", "rootpw");
    await must(
      call(s, "/etcdserverpb.Auth/AuthDisable", D.AuthDisableRequest, D.AuthDisableResponse, {}, root),
      "AuthDisable",
    );
    return null;
  } finally {
    s.close();
  }
}

async function compare(what: string, port: number): Promise<void> {
  await setUp(port);
  const off: number[] = [];
  const on: number[] = [];
  for (let r = 0; r < rounds; r++) {
    off.push(await putRate(port, null));
    const token = await toggle(port, true);
    on.push(await putRate(port, token));
    await toggle(port, false);
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(
    `${what.padEnd(28)} auth off ${mean(off).toFixed(0).padStart(6)} puts/s   auth on ${mean(on).toFixed(0).padStart(6)} puts/s   on/off ${(mean(on) / mean(off)).toFixed(3)}   rounds off [${off.map((x) => x.toFixed(0)).join(", ")}] on [${on.map((x) => x.toFixed(0)).join(", ")}]`,
  );
}

async function inProcess(): Promise<void> {
  const backend = new LocalBackend();
  const server = new EtcdApiServer({ backend });
  const port = await server.listen(0);
  try {
    await compare("in process (LocalBackend)", port);
  } finally {
    await server.close();
    backend.close();
  }
}

async function cluster(): Promise<void> {
  const c = await ProcessCluster.create(3, join(process.cwd(), "dist/src/cli/main.js"), ["--bcrypt-cost=4"]);
  try {
    for (const m of c.members) c.start(m);
    const first = c.members[0];
    if (first === undefined) throw new Error("no member");
    await waitFor(
      "a leader",
      async () => {
        const s = http2.connect(`http://127.0.0.1:${first.clientPort}`);
        s.on("error", () => {});
        try {
          const r = await call(
            s,
            "/etcdserverpb.KV/Put",
            D.PutRequest,
            D.PutResponse,
            { key: enc.encode("/ready") },
            null,
          );
          return r.status === 0;
        } catch {
          return false;
        } finally {
          s.close();
        }
      },
      20_000,
    );
    await compare("3-member cluster (to m1)", first.clientPort);
  } finally {
    await c.destroy();
  }
}

/** CPU microseconds per Put through `ServiceContext.backendFor` (caller lookup, checks, guard). */
async function checksAlone(): Promise<void> {
  const backend = new LocalBackend({ timers: false });
  const gate = new AuthGate(backend, { bcryptCost: 4 });
  const sc = new ServiceContext(backend, 1 << 20, gate);
  const value = new Uint8Array(100);
  const n = 100_000;
  const run = async (ctx: CallContext): Promise<number> => {
    const start = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      const b = await sc.backendFor(ctx);
      const r = await b.put({ key: enc.encode(`/app/bench/${i % 1000}`), value });
      if (!r.ok) throw new Error(r.error.code);
      if (i % 1000 === 0) backend.store.compact(backend.store.currentRevision);
    }
    const used = process.cpuUsage(start);
    return (used.user + used.system) / n;
  };
  const signal = new AbortController().signal;
  const anonymous: CallContext = { signal, metadata: {}, requestBytes: 0 };
  const perm = { type: "readwrite", key: enc.encode("/app/"), rangeEnd: enc.encode("/app0") } as const;
  for (const [i, request] of [
    { type: "userAdd", name: "root", passwordHash: "x", noPassword: false },
    { type: "userGrantRole", user: "root", role: "root" },
    { type: "roleAdd", name: "app" },
    { type: "roleGrantPermission", name: "app", permission: perm },
    { type: "userAdd", name: "writer", passwordHash: "x", noPassword: false },
    { type: "userGrantRole", user: "writer", role: "app" },
  ].entries()) {
    backend.store.applyAuth(request as Parameters<typeof backend.store.applyAuth>[0], i + 1);
  }
  const offUs: number[] = [];
  const onUs: number[] = [];
  for (let r = 0; r < rounds + 1; r++) {
    backend.store.applyAuth({ type: "authDisable" }, 100 + r * 3);
    const off = await run(anonymous);
    backend.store.applyAuth({ type: "authEnable" }, 101 + r * 3);
    const token = backend.store.applyAuth(
      { type: "authenticate", name: "writer", tokenPrefix: "benchbenchbenchb" },
      102 + r * 3,
    );
    if (!token.ok) throw new Error(token.error.code);
    const on = await run({ signal, metadata: { token: token.value.token }, requestBytes: 0 });
    if (r > 0) {
      offUs.push(off);
      onUs.push(on);
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(
    `${"checks alone (no transport)".padEnd(28)} auth off ${mean(offUs).toFixed(2)} µs/put   auth on ${mean(onUs).toFixed(2)} µs/put   added ${(mean(onUs) - mean(offUs)).toFixed(2)} µs (CPU)`,
  );
  gate.close();
  backend.close();
}

console.log(`put throughput, ${inflight} in flight, ${seconds} s per round, ${rounds} rounds each`);
await checksAlone();
await inProcess();
await cluster();
