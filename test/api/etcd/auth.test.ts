// The etcd Auth service and permission checks over raw gRPC and the JSON gateway, in process (one
// LocalBackend): etcd's codes and messages for each refusal, every Txn branch and compare checked,
// leases with attached keys, Lock, Maintenance as root only, token expiry and brute-force limits.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { Etcd3, EtcdAuthenticationFailedError, EtcdPermissionDeniedError } from "etcd3";
import { AuthGate } from "../../../src/api/etcd/auth/gate.js";
import { GrpcStatus } from "../../../src/api/etcd/grpc/status.js";
import { LocalBackend } from "../../../src/api/etcd/local.js";
import type { MessageDesc } from "../../../src/api/etcd/proto/codec.js";
import { decodeMessage, encodeMessage } from "../../../src/api/etcd/proto/codec.js";
import { D, LockD } from "../../../src/api/etcd/proto/messages.js";
import { EtcdApiServer } from "../../../src/api/etcd/server.js";
import { b, rawGrpc } from "./helpers.js";

let backend: LocalBackend;
let server: EtcdApiServer;
let port = 0;
/** A clock the token table and limiter read (ms), moved by the tests. */
let nowMs = 0;

before(async () => {
  backend = new LocalBackend();
  const auth = new AuthGate(backend, {
    bcryptCost: 4,
    tokenTtlSeconds: 60,
    failureLimits: { perUserMax: 3, perAddressMax: 6, windowMs: 10_000 },
    nowMs: () => nowMs,
  });
  server = new EtcdApiServer({
    backend,
    auth,
    onInternalError: (where, e) => {
      throw new Error(`internal error in ${where}: ${String(e)}`);
    },
  });
  port = await server.listen(0);
});

after(async () => {
  await server.close();
  backend.close();
});

interface Answer {
  readonly status: number;
  readonly message: string;
  readonly body: Record<string, unknown>;
}

/** One unary call with an optional token; the status, message and decoded response. */
async function call(
  path: string,
  req: MessageDesc,
  res: MessageDesc,
  msg: object,
  token?: string,
): Promise<Answer> {
  const r = await rawGrpc(
    port,
    path,
    encodeMessage(req, msg),
    token === undefined ? {} : { headers: { token } },
  );
  const first = r.messages[0];
  const decoded = first === undefined ? null : decodeMessage<Record<string, unknown>>(res, first);
  return { status: r.grpcStatus, message: r.grpcMessage, body: decoded?.ok === true ? decoded.value : {} };
}

const auth = (m: string, req: MessageDesc, res: MessageDesc, msg: object, token?: string) =>
  call(`/etcdserverpb.Auth/${m}`, req, res, msg, token);
const put = (key: string, token?: string, extra: object = {}) =>
  call("/etcdserverpb.KV/Put", D.PutRequest, D.PutResponse, { key: b(key), value: b("v"), ...extra }, token);
const get = (key: string, rangeEnd: string, token?: string) =>
  call(
    "/etcdserverpb.KV/Range",
    D.RangeRequest,
    D.RangeResponse,
    { key: b(key), rangeEnd: b(rangeEnd) },
    token,
  );
const txn = (msg: object, token?: string) =>
  call("/etcdserverpb.KV/Txn", D.TxnRequest, D.TxnResponse, msg, token);

/** Asserts an answer's gRPC status and exact etcd message. */
function refused(a: Answer, status: number, message: string): void {
  assert.deepEqual([a.status, a.message], [status, message]);
}

async function ok(a: Promise<Answer>): Promise<Record<string, unknown>> {
  const r = await a;
  assert.equal(r.status, GrpcStatus.ok, r.message);
  return r.body;
}

async function login(name: string, password: string): Promise<string> {
  const r = await ok(auth("Authenticate", D.AuthenticateRequest, D.AuthenticateResponse, { name, password }));
  return String(r.token);
}

const S = GrpcStatus;
const denied = "etcdserver: permission denied";
let rootToken = "";
let appToken = "";

test("Auth: enabling needs root with the root role; users, roles and permissions as etcd", async () => {
  // Proves the management RPCs and their refusals with etcd's codes and texts before and after
  // enabling: root missing, root without role, duplicates, unknown names, auth not enabled.
  const en = () => auth("AuthEnable", D.AuthEnableRequest, D.AuthEnableResponse, {});
  refused(
    await auth("Authenticate", D.AuthenticateRequest, D.AuthenticateResponse, {
      name: "root",
      password: "x",
    }),
    S.failedPrecondition,
    "etcdserver: authentication is not enabled",
  );
  refused(await en(), S.failedPrecondition, "etcdserver: root user does not exist");
  await ok(
    auth("UserAdd", D.AuthUserAddRequest, D.AuthUserAddResponse, { name: "root", password: "rootpw" }),
  );
  refused(
    await auth("UserAdd", D.AuthUserAddRequest, D.AuthUserAddResponse, { name: "root", password: "x" }),
    S.failedPrecondition,
    "etcdserver: user name already exists",
  );
  refused(
    await auth("UserAdd", D.AuthUserAddRequest, D.AuthUserAddResponse, { name: "", password: "x" }),
    S.invalidArgument,
    "etcdserver: user name is empty",
  );
  refused(await en(), S.failedPrecondition, "etcdserver: root user does not have root role");
  await ok(
    auth("UserGrantRole", D.AuthUserGrantRoleRequest, D.AuthUserGrantRoleResponse, {
      user: "root",
      role: "root",
    }),
  );
  await ok(auth("RoleAdd", D.AuthRoleAddRequest, D.AuthRoleAddResponse, { name: "app-ro" }));
  refused(
    await auth("RoleAdd", D.AuthRoleAddRequest, D.AuthRoleAddResponse, { name: "app-ro" }),
    S.failedPrecondition,
    "etcdserver: role name already exists",
  );
  refused(
    await auth("UserGrantRole", D.AuthUserGrantRoleRequest, D.AuthUserGrantRoleResponse, {
      user: "ghost",
      role: "app-ro",
    }),
    S.failedPrecondition,
    "etcdserver: user name not found",
  );
  refused(
    await auth("UserGrantRole", D.AuthUserGrantRoleRequest, D.AuthUserGrantRoleResponse, {
      user: "root",
      role: "nope",
    }),
    S.failedPrecondition,
    "etcdserver: role name not found",
  );
  const perm = { permType: 0, key: b("/app/"), rangeEnd: b("/app0") };
  await ok(
    auth("RoleGrantPermission", D.AuthRoleGrantPermissionRequest, D.AuthRoleGrantPermissionResponse, {
      name: "app-ro",
      perm,
    }),
  );
  refused(
    await auth("RoleGrantPermission", D.AuthRoleGrantPermissionRequest, D.AuthRoleGrantPermissionResponse, {
      name: "app-ro",
    }),
    S.invalidArgument,
    "etcdserver: permission not given",
  );
  await ok(auth("UserAdd", D.AuthUserAddRequest, D.AuthUserAddResponse, { name: "app", password: "apppw" }));
  await ok(
    auth("UserGrantRole", D.AuthUserGrantRoleRequest, D.AuthUserGrantRoleResponse, {
      user: "app",
      role: "app-ro",
    }),
  );
  await ok(en());
  const status = await auth("AuthStatus", D.AuthStatusRequest, D.AuthStatusResponse, {});
  refused(status, S.invalidArgument, "etcdserver: user name is empty");
  rootToken = await login("root", "rootpw");
  assert.match(rootToken, /^[A-Za-z]{16}\.\d+$/, "etcd's simple token shape");
  appToken = await login("app", "apppw");
  const st = await ok(auth("AuthStatus", D.AuthStatusRequest, D.AuthStatusResponse, {}, rootToken));
  assert.equal(st.enabled, true);
  assert.equal(st.authRevision, 7);
  const role = await ok(
    auth("RoleGet", D.AuthRoleGetRequest, D.AuthRoleGetResponse, { role: "app-ro" }, appToken),
  );
  assert.deepEqual(role.perm, [perm], "a user may read a role it holds");
  const me = await ok(
    auth("UserGet", D.AuthUserGetRequest, D.AuthUserGetResponse, { name: "app" }, appToken),
  );
  assert.deepEqual(me.roles, ["app-ro"], "a user may read itself");
  refused(
    await auth("UserList", D.AuthUserListRequest, D.AuthUserListResponse, {}, appToken),
    S.permissionDenied,
    denied,
  );
  const users = await ok(auth("UserList", D.AuthUserListRequest, D.AuthUserListResponse, {}, rootToken));
  assert.deepEqual(users.users, ["app", "root"]);
  refused(
    await auth("UserDelete", D.AuthUserDeleteRequest, D.AuthUserDeleteResponse, { name: "root" }, rootToken),
    S.invalidArgument,
    "etcdserver: invalid auth management",
  );
  refused(
    await auth(
      "UserRevokeRole",
      D.AuthUserRevokeRoleRequest,
      D.AuthUserRevokeRoleResponse,
      { name: "app", role: "x" },
      rootToken,
    ),
    S.failedPrecondition,
    "etcdserver: role is not granted to the user",
  );
  refused(
    await auth(
      "RoleRevokePermission",
      D.AuthRoleRevokePermissionRequest,
      D.AuthRoleRevokePermissionResponse,
      { role: "app-ro", key: b("/nope") },
      rootToken,
    ),
    S.failedPrecondition,
    "etcdserver: permission is not granted to the role",
  );
  const rootRole = await ok(
    auth("RoleGet", D.AuthRoleGetRequest, D.AuthRoleGetResponse, { role: "app-ro" }, rootToken),
  );
  assert.equal((rootRole.perm as unknown[]).length, 1);
});

test("Auth: tokens — missing, unknown, wrong password; the gateway's Authorization header", async () => {
  // Proves identification: no token is "user name is empty", an unknown one "invalid auth token"
  // (Unauthenticated, so clients re-authenticate), a bad password "authentication failed", and the
  // JSON gateway's /v3/auth/authenticate and Authorization header work like the gRPC metadata.
  refused(await get("/app/a", ""), S.invalidArgument, "etcdserver: user name is empty");
  refused(
    await get("/app/a", "", "abcdefghijklmnop.99999"),
    S.unauthenticated,
    "etcdserver: invalid auth token",
  );
  refused(
    await auth("Authenticate", D.AuthenticateRequest, D.AuthenticateResponse, {
      name: "app",
      password: "bad",
    }),
    S.invalidArgument,
    "etcdserver: authentication failed, invalid user ID or password",
  );
  const post = async (path: string, body: object, token?: string) => {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, {
      method: "POST",
      body: JSON.stringify(body),
      headers: token === undefined ? {} : { Authorization: token },
    });
    return { status: r.status, json: (await r.json()) as Record<string, unknown> };
  };
  const a = await post("/v3/auth/authenticate", { name: "root", password: "rootpw" });
  assert.equal(a.status, 200);
  const token = String(a.json.token);
  const w = await post("/v3/kv/put", { key: Buffer.from("/gw").toString("base64"), value: "" }, token);
  assert.equal(w.status, 200, JSON.stringify(w.json));
  const anon = await post("/v3/kv/put", { key: Buffer.from("/gw").toString("base64") });
  assert.deepEqual([anon.status, anon.json.message], [400, "etcdserver: user name is empty"]);
  const status = await post("/v3/auth/status", {}, token);
  assert.equal(status.json.enabled, true);
});

test("Auth: a read-only user reads its prefix and nothing else, and writes nothing", async () => {
  // Proves Range and Put checks: prefix reads allowed, reads beyond (or a range one past the
  // prefix) denied, writes denied, root unrestricted.
  await ok(put("/app/a", rootToken));
  await ok(put("/other/x", rootToken));
  const r = await ok(get("/app/", "/app0", appToken));
  assert.equal((r.kvs as unknown[]).length, 1);
  await ok(get("/app/a", "", appToken));
  refused(await get("/app/", "/app1", appToken), S.permissionDenied, denied);
  refused(await get("/other/x", "", appToken), S.permissionDenied, denied);
  refused(await get("\0", "\0", appToken), S.permissionDenied, denied);
  refused(await put("/app/a", appToken), S.permissionDenied, denied);
  await ok(get("\0", "\0", rootToken));
});

test("Auth: every compare and every op of both txn branches is checked, nested txns too", async () => {
  // Proves etcd's checkTxnAuth: a txn whose else-branch (never taken) writes a forbidden key, or
  // reads one, or compares one, or nests such an op, is refused whole.
  const readApp = { requestRange: { key: b("/app/a") } };
  const base = { compare: [], success: [readApp], failure: [] };
  await ok(txn(base, appToken));
  refused(
    await txn({ ...base, failure: [{ requestPut: { key: b("/app/b"), value: b("x") } }] }, appToken),
    S.permissionDenied,
    denied,
  );
  refused(
    await txn({ ...base, failure: [{ requestRange: { key: b("/other/x") } }] }, appToken),
    S.permissionDenied,
    denied,
  );
  refused(
    await txn({ ...base, compare: [{ key: b("/other/x"), target: 0, result: 0, version: 1 }] }, appToken),
    S.permissionDenied,
    denied,
  );
  const nested = {
    requestTxn: { compare: [], success: [], failure: [{ requestDeleteRange: { key: b("/app/a") } }] },
  };
  refused(await txn({ ...base, success: [readApp, nested] }, appToken), S.permissionDenied, denied);
});

test("Auth: leases with attached keys — revoke and time-to-live need rights on every key", async () => {
  // Proves etcd's lease checks: revoking needs write on every attached key; listing them with
  // keys=true needs read on each; a put may not attach a lease holding keys it cannot write.
  const grant = await ok(
    call("/etcdserverpb.Lease/LeaseGrant", D.LeaseGrantRequest, D.LeaseGrantResponse, { TTL: 60 }, rootToken),
  );
  const id = Number(grant.ID);
  await ok(put("/other/leased", rootToken, { lease: id }));
  const ttl = (token: string, keys: boolean) =>
    call(
      "/etcdserverpb.Lease/LeaseTimeToLive",
      D.LeaseTimeToLiveRequest,
      D.LeaseTimeToLiveResponse,
      { ID: id, keys },
      token,
    );
  refused(await ttl(appToken, true), S.permissionDenied, denied);
  await ok(ttl(appToken, false));
  const revoke = (token: string) =>
    call("/etcdserverpb.Lease/LeaseRevoke", D.LeaseRevokeRequest, D.LeaseRevokeResponse, { ID: id }, token);
  refused(await revoke(appToken), S.permissionDenied, denied);
  await ok(auth("RoleAdd", D.AuthRoleAddRequest, D.AuthRoleAddResponse, { name: "app-rw" }, rootToken));
  const rw = { permType: 2, key: b("/app/"), rangeEnd: b("/app0") };
  await ok(
    auth(
      "RoleGrantPermission",
      D.AuthRoleGrantPermissionRequest,
      D.AuthRoleGrantPermissionResponse,
      { name: "app-rw", perm: rw },
      rootToken,
    ),
  );
  await ok(
    auth(
      "UserAdd",
      D.AuthUserAddRequest,
      D.AuthUserAddResponse,
      { name: "writer", password: "wpw" },
      rootToken,
    ),
  );
  await ok(
    auth(
      "UserGrantRole",
      D.AuthUserGrantRoleRequest,
      D.AuthUserGrantRoleResponse,
      { user: "writer", role: "app-rw" },
      rootToken,
    ),
  );
  const writer = await login("writer", "wpw");
  refused(await put("/app/w", writer, { lease: id }), S.permissionDenied, denied);
  await ok(put("/app/w", writer));
  await ok(revoke(rootToken));
});

test("Auth: Lock, Compact and Maintenance run under the caller's rights", async () => {
  // Proves the Lock recipe checks its keys with the caller's identity, and that Compact, Status
  // and Hash need the root role (etcd's authMaintenanceServer), while MemberList does not.
  const lock = (name: string, token: string) =>
    call("/v3lockpb.Lock/Lock", LockD.LockRequest, LockD.LockResponse, { name: b(name) }, token);
  refused(await lock("/other/lock", appToken), S.unknown, denied);
  const writer = await login("writer", "wpw");
  const held = await ok(lock("/app/lock", writer));
  assert.match(Buffer.from(held.key as Uint8Array).toString(), /^\/app\/lock\//);
  const compact = (token: string) =>
    call("/etcdserverpb.KV/Compact", D.CompactionRequest, D.CompactionResponse, { revision: 2 }, token);
  refused(await compact(writer), S.permissionDenied, denied);
  await ok(compact(rootToken));
  refused(
    await call("/etcdserverpb.Maintenance/Status", D.StatusRequest, D.StatusResponse, {}, writer),
    S.permissionDenied,
    denied,
  );
  await ok(call("/etcdserverpb.Maintenance/Status", D.StatusRequest, D.StatusResponse, {}, rootToken));
  refused(
    await call("/etcdserverpb.Maintenance/Hash", D.HashRequest, D.HashResponse, {}, writer),
    S.permissionDenied,
    denied,
  );
  await ok(call("/etcdserverpb.Cluster/MemberList", D.MemberListRequest, D.MemberListResponse, {}, writer));
});

test("Auth: npm etcd3 with a user and password — one token for every call, etcd's error classes", async () => {
  // Proves an off-the-shelf client works unchanged: it authenticates once, sends the token on
  // each call, and maps Synod's refusals to its typed errors by etcd's texts.
  const etcd = new Etcd3({ hosts: `127.0.0.1:${port}`, auth: { username: "writer", password: "wpw" } });
  try {
    await etcd.put("/app/npm").value("1");
    assert.equal(await etcd.get("/app/npm").string(), "1");
    await assert.rejects(async () => etcd.put("/other/npm").value("x"), EtcdPermissionDeniedError);
    await assert.rejects(etcd.get("/other/b").string(), EtcdPermissionDeniedError);
  } finally {
    etcd.close();
  }
  const wrong = new Etcd3({ hosts: `127.0.0.1:${port}`, auth: { username: "writer", password: "nope" } });
  try {
    await assert.rejects(wrong.get("/app/npm").string(), EtcdAuthenticationFailedError);
  } finally {
    wrong.close();
  }
});

test("Auth: a permission change reaches tokens already issued; password changes revoke tokens", async () => {
  // Proves permissions are read at each request (the token carries no grants): revoking the
  // role's permission denies the same token at once; changing a password invalidates its tokens.
  const token = await login("app", "apppw");
  await ok(get("/app/a", "", token));
  await ok(
    auth(
      "RoleRevokePermission",
      D.AuthRoleRevokePermissionRequest,
      D.AuthRoleRevokePermissionResponse,
      { role: "app-ro", key: b("/app/"), rangeEnd: b("/app0") },
      rootToken,
    ),
  );
  refused(await get("/app/a", "", token), S.permissionDenied, denied);
  await ok(
    auth(
      "UserChangePassword",
      D.AuthUserChangePasswordRequest,
      D.AuthUserChangePasswordResponse,
      { name: "app", password: "new" },
      rootToken,
    ),
  );
  refused(await get("/app/a", "", token), S.unauthenticated, "etcdserver: invalid auth token");
  refused(
    await auth("Authenticate", D.AuthenticateRequest, D.AuthenticateResponse, {
      name: "app",
      password: "apppw",
    }),
    S.invalidArgument,
    "etcdserver: authentication failed, invalid user ID or password",
  );
  await login("app", "new");
});

test("Auth: tokens expire after the TTL without use; each use restarts it", async () => {
  // Proves --auth-token-ttl semantics of etcd's simple tokens (here 60 s on an injected clock).
  const token = await login("root", "rootpw");
  nowMs += 50_000;
  await ok(get("/app/a", "", token));
  nowMs += 50_000;
  await ok(get("/app/a", "", token));
  nowMs += 61_000;
  refused(await get("/app/a", "", token), S.unauthenticated, "etcdserver: invalid auth token");
});

test("Auth: failed Authenticate calls are limited per user, and per client address", async () => {
  // Proves brute-force protection: after 3 failures for a user (the limit set here), even the
  // right password is refused with "too many requests" until the window ends; other users from the
  // same address continue until the address's own limit (6) is reached.
  const attempt = (name: string, password: string) =>
    auth("Authenticate", D.AuthenticateRequest, D.AuthenticateResponse, { name, password });
  nowMs += 100_000;
  for (let i = 0; i < 3; i++) {
    refused(
      await attempt("writer", "guess"),
      S.invalidArgument,
      "etcdserver: authentication failed, invalid user ID or password",
    );
  }
  refused(await attempt("writer", "wpw"), S.resourceExhausted, "etcdserver: too many requests");
  await ok(attempt("root", "rootpw"));
  for (let i = 0; i < 3; i++) await attempt("nobody", "guess");
  refused(await attempt("root", "rootpw"), S.resourceExhausted, "etcdserver: too many requests");
  nowMs += 10_001;
  await ok(attempt("writer", "wpw"));
});
