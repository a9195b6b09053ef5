// etcd's authentication and role-based access control on a real three-member Synod cluster,
// driven by Debian's etcdctl (3.4, `--user name:password`) and by raw gRPC where one token must
// be reused: the role/user lifecycle, a read-only user, txn branches, watches, a permission
// revoked under a live token, restarts and snapshot catch-up, and brute-force limits.
import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, test } from "node:test";
import { frameMessage } from "../../src/api/etcd/grpc/frames.js";
import { decodeMessage, encodeMessage, type MessageDesc } from "../../src/api/etcd/proto/codec.js";
import { D } from "../../src/api/etcd/proto/messages.js";
import {
  type CtlResult,
  etcdctl,
  ProcessCluster,
  type ProcessMember,
  waitFor,
} from "../../src/testing/procs.js";
import { etcdctlIn, initialClusterOf, killAllCtl, mainJs } from "./clusterhelpers.js";

/** Small snapshots so a member that was down catches up from one; cheap password hashing. */
const memberArgs = ["--snapshot-count=200", "--bcrypt-cost=4"];
const root = "--user=root:rootpw";
const alice = "--user=alice:alicepw";

let c: ProcessCluster;
let m1: ProcessMember;
let m2: ProcessMember;
let m3: ProcessMember;
let all = "";

const ep = (m: ProcessMember): string => c.endpoints([m]);

before(async () => {
  c = await ProcessCluster.create(3, mainJs, memberArgs);
  const [a, b, d] = c.members;
  assert.ok(a !== undefined && b !== undefined && d !== undefined);
  [m1, m2, m3] = [a, b, d];
  all = c.endpoints([m1, m2, m3]);
  for (const m of [m1, m2, m3]) c.start(m, "new", initialClusterOf([m1, m2, m3]));
  try {
    await waitFor(
      "a leader that commits writes",
      async () => (await etcdctl(all, ["put", "/ready", "1"], "1s")).code === 0,
      20_000,
    );
  } catch (e) {
    throw new Error(`${String(e)}\n${[m1, m2, m3].map((m) => m.log.slice(-3000)).join("\n")}`);
  }
});

after(async () => {
  await killAllCtl();
  await c?.destroy();
});

/** Runs etcdctl and asserts success and exact stdout. */
async function ok(endpoints: string, args: string[], stdout: string): Promise<void> {
  const r = await etcdctl(endpoints, args);
  assert.equal(r.code, 0, `etcdctl ${args.join(" ")} failed: ${r.stderr}`);
  assert.equal(r.stdout, stdout, `etcdctl ${args.join(" ")}`);
}

/** Runs etcdctl and asserts failure with `error` as the last stderr line. */
async function fails(endpoints: string, args: string[], error: string): Promise<CtlResult> {
  const r = await etcdctl(endpoints, args);
  assert.notEqual(r.code, 0, `etcdctl ${args.join(" ")} should fail`);
  assert.equal(r.stderr.trim().split("\n").at(-1), error, `etcdctl ${args.join(" ")}`);
  return r;
}

const denied = "Error: etcdserver: permission denied";

test("etcdctl auth: the role and user lifecycle, then auth enable; anonymous requests are refused", async () => {
  // Proves the management commands end to end through the log on every member, etcdctl's own
  // 'auth enable' workflow (it adds the root role itself), and etcd's errors before and after.
  await ok(all, ["user", "add", "root:rootpw"], "User root created\n");
  await ok(all, ["role", "add", "app-ro"], "Role app-ro created\n");
  await fails(all, ["role", "add", "app-ro"], "Error: etcdserver: role name already exists");
  await ok(all, ["role", "grant-permission", "app-ro", "read", "/app/", "--prefix"], "Role app-ro updated\n");
  await ok(
    all,
    ["role", "grant-permission", "app-ro", "readwrite", "/scratch/", "--from-key"],
    "Role app-ro updated\n",
  );
  await ok(all, ["user", "add", "alice:alicepw"], "User alice created\n");
  await ok(all, ["user", "grant-role", "alice", "app-ro"], "Role app-ro is granted to user alice\n");
  await fails(all, ["user", "grant-role", "alice", "nope"], "Error: etcdserver: role name not found");
  await ok(all, ["put", "/app/a", "1"], "OK\n");
  await ok(all, ["put", "/other/b", "2"], "OK\n");
  await ok(ep(m2), ["auth", "enable"], "Authentication Enabled\n");
  await fails(ep(m3), ["get", "/app/a"], "Error: etcdserver: user name is empty");
  await fails(
    ep(m1),
    ["--user=root:wrong", "get", "/app/a"],
    "Error: etcdserver: authentication failed, invalid user ID or password",
  );
  await ok(ep(m1), [root, "user", "list"], "alice\nroot\n");
  await ok(ep(m3), [root, "role", "list"], "app-ro\nroot\n");
  await ok(ep(m2), [root, "user", "get", "alice"], "User: alice\nRoles: app-ro\n");
  await ok(
    ep(m1),
    [root, "role", "get", "app-ro"],
    "Role app-ro\nKV Read:\n\t[/app/, /app0) (prefix /app/)\n\t[/scratch/, <open ended>\nKV Write:\n\t[/scratch/, <open ended>\n",
  );
  await fails(ep(m2), [alice, "user", "list"], denied);
  await fails(ep(m2), [root, "user", "delete", "root"], "Error: etcdserver: invalid auth management");
  await ok(all, [root, "user", "add", "tmp:tmppw"], "User tmp created\n");
  await ok(all, [root, "user", "delete", "tmp"], "User tmp deleted\n");
  await fails(ep(m3), [root, "user", "get", "tmp"], "Error: etcdserver: user name not found");
});

test("etcdctl auth: a user with read-only access to /app/ cannot write it or read /other/", async () => {
  // Proves Range and Put checks through every member: reads under the granted prefix succeed,
  // writes there and reads elsewhere get etcd's permission denied; from-key grants allow writes.
  for (const m of [m1, m2, m3]) {
    await ok(ep(m), [alice, "get", "/app/", "--prefix"], "/app/a\n1\n");
    await fails(ep(m), [alice, "put", "/app/a", "x"], denied);
    await fails(ep(m), [alice, "get", "/other/b"], denied);
  }
  await fails(all, [alice, "get", "/app/", "--from-key"], denied);
  await ok(all, [alice, "put", "/scratch/z", "ok"], "OK\n");
  await fails(all, [alice, "del", "/other/b"], denied);
  await fails(all, [alice, "lock", "/other/lk"], denied);
  await fails(
    ep(m1),
    [alice, "endpoint", "status"],
    `Failed to get the status of endpoint ${ep(m1)} (etcdserver: permission denied)`,
  );
  await ok(ep(m1), [root, "get", "/other/b", "--print-value-only"], "2\n");
});

test("etcdctl auth: a txn whose else-branch touches a forbidden key is denied whole", async () => {
  // Proves every branch is checked before the txn runs, whichever branch the compares select.
  const allowed = await etcdctlIn(
    all,
    [alice, "txn"],
    'value("/app/a") = "1"\n\nget /app/a\n\nput /scratch/t no\n\n',
  );
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.equal(allowed.stdout, "SUCCESS\n\n/app/a\n1\n");
  const r = await etcdctlIn(
    all,
    [alice, "txn"],
    'value("/app/a") = "1"\n\nget /app/a\n\nput /other/b stolen\n\n',
  );
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trim().split("\n").at(-1), denied);
  await ok(ep(m2), [root, "get", "/other/b", "--print-value-only"], "2\n");
});

test("etcdctl auth: a watch on a forbidden prefix is canceled by the server", async () => {
  // Proves watches are checked when created: etcd's created+canceled answer with the reason.
  const r = await etcdctl(ep(m3), [alice, "watch", "/other/", "--prefix"]);
  assert.notEqual(r.code, 0);
  assert.match(r.stdout + r.stderr, /watch was canceled \(etcdserver: permission denied\)/);
  assert.equal(r.stderr.trim().split("\n").at(-1), "Error: watch is canceled by the server");
});

/** One unary gRPC call on a fresh connection to `m`, with an optional token. */
async function grpc(
  m: ProcessMember,
  path: string,
  req: MessageDesc,
  res: MessageDesc,
  msg: object,
  token?: string,
): Promise<{ status: number; message: string; body: Record<string, unknown> }> {
  const session = http2.connect(`http://127.0.0.1:${m.clientPort}`);
  try {
    return await new Promise((resolve, reject) => {
      session.on("error", reject);
      const stream = session.request({
        ":method": "POST",
        ":path": path,
        "content-type": "application/grpc",
        te: "trailers",
        ...(token === undefined ? {} : { token }),
      });
      let status = -1;
      let message = "";
      const chunks: Buffer[] = [];
      const take = (h: http2.IncomingHttpHeaders): void => {
        if (h["grpc-status"] !== undefined) status = Number(h["grpc-status"]);
        if (h["grpc-message"] !== undefined) message = decodeURIComponent(String(h["grpc-message"]));
      };
      stream.on("response", take);
      stream.on("trailers", take);
      stream.on("data", (b: Buffer) => chunks.push(b));
      stream.on("error", reject);
      stream.on("close", () => {
        const all = Buffer.concat(chunks);
        const decoded = all.length >= 5 ? decodeMessage<Record<string, unknown>>(res, all.subarray(5)) : null;
        resolve({ status, message, body: decoded?.ok === true ? decoded.value : {} });
      });
      stream.end(frameMessage(encodeMessage(req, msg)));
    });
  } finally {
    session.close();
  }
}

test("auth: after role revoke-permission, the same token loses access on every member", async () => {
  // Proves permissions are re-checked at each request: a token minted on one member works on the
  // others (tokens travel through the log), and once the role loses the permission the very same
  // token is refused, with no new Authenticate in between.
  const login = await grpc(
    m1,
    "/etcdserverpb.Auth/Authenticate",
    D.AuthenticateRequest,
    D.AuthenticateResponse,
    {
      name: "alice",
      password: "alicepw",
    },
  );
  assert.equal(login.status, 0, login.message);
  const token = String(login.body.token);
  const read = (m: ProcessMember) =>
    grpc(m, "/etcdserverpb.KV/Range", D.RangeRequest, D.RangeResponse, { key: Buffer.from("/app/a") }, token);
  for (const m of [m1, m2, m3]) {
    const r = await read(m);
    assert.equal(r.status, 0, `${m.name}: ${r.message}`);
    assert.equal((r.body.kvs as unknown[]).length, 1);
  }
  await ok(
    ep(m3),
    [root, "role", "revoke-permission", "app-ro", "/app/", "--prefix"],
    "Permission of range [/app/, /app0) is revoked from role app-ro\n",
  );
  for (const m of [m1, m2, m3]) {
    await waitFor(`${m.name} applied the revocation`, async () => (await read(m)).status !== 0, 5000);
    const r = await read(m);
    assert.deepEqual([r.status, r.message], [7, "etcdserver: permission denied"], m.name);
  }
  await ok(
    ep(m1),
    [root, "role", "grant-permission", "app-ro", "read", "/app/", "--prefix"],
    "Role app-ro updated\n",
  );
  const again = await read(m2);
  assert.equal(again.status, 0, "granting it back works for the same token too");
});

/** Puts `n` keys under `prefix` as root over one HTTP/2 connection, `inflight` at a time. */
async function putMany(m: ProcessMember, prefix: string, n: number, inflight = 32): Promise<void> {
  const login = await grpc(
    m,
    "/etcdserverpb.Auth/Authenticate",
    D.AuthenticateRequest,
    D.AuthenticateResponse,
    {
      name: "root",
      password: "rootpw",
    },
  );
  const token = String(login.body.token);
  const session = http2.connect(`http://127.0.0.1:${m.clientPort}`);
  let next = 0;
  const one = (i: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = session.request({
        ":method": "POST",
        ":path": "/etcdserverpb.KV/Put",
        "content-type": "application/grpc",
        te: "trailers",
        token,
      });
      let status = -1;
      s.on("trailers", (h) => {
        status = Number(h["grpc-status"]);
      });
      s.on("response", (h) => {
        if (h["grpc-status"] !== undefined) status = Number(h["grpc-status"]);
      });
      s.on("data", () => {});
      s.on("error", reject);
      s.on("close", () => (status === 0 ? resolve() : reject(new Error(`put ${i}: status ${status}`))));
      s.end(
        frameMessage(
          encodeMessage(D.PutRequest, { key: Buffer.from(`${prefix}${i}`), value: Buffer.from("x") }),
        ),
      );
    });
  try {
    await Promise.all(
      Array.from({ length: inflight }, async () => {
        while (next < n) await one(next++);
      }),
    );
  } finally {
    session.close();
  }
}

test("auth: the auth state survives a restart and reaches a member that catches up by snapshot", async () => {
  // Proves the auth state is replicated state: a member killed (SIGKILL) and restarted enforces
  // the same users and permissions; a member that was down while users changed and thousands of
  // entries were compacted away installs the leader's snapshot and knows the new user and rules.
  await c.kill(m3);
  // If m3 led, the others elect a new leader first (etcdctl authenticates within its 2 s dial).
  await waitFor(
    "a leader without m3",
    async () => (await etcdctl(ep(m1), [root, "put", "/probe", "1"])).code === 0,
    30_000,
  );
  await ok(ep(m1), [root, "user", "add", "bob:bobpw"], "User bob created\n");
  await ok(ep(m1), [root, "user", "grant-role", "bob", "app-ro"], "Role app-ro is granted to user bob\n");
  await ok(
    ep(m1),
    [root, "role", "revoke-permission", "app-ro", "/scratch/", "--from-key"],
    "Permission of range [/scratch/, <open ended> is revoked from role app-ro\n",
  );
  await putMany(m1, "/bulk/", 5300);
  c.start(m3, "new", initialClusterOf([m1, m2, m3]));
  await waitFor(
    "m3 serves again",
    async () => (await etcdctl(ep(m3), [root, "get", "/bulk/5299"], "2s")).stdout === "/bulk/5299\nx\n",
    30_000,
  );
  assert.match(m3.log, /installed snapshot/, "m3 caught up from a snapshot");
  await ok(ep(m3), ["--user=bob:bobpw", "get", "/app/a", "--print-value-only"], "1\n");
  await fails(ep(m3), ["--user=bob:bobpw", "put", "/app/a", "x"], denied);
  await fails(ep(m3), [alice, "put", "/scratch/y", "no"], denied);
  await c.kill(m1);
  c.start(m1, "new", initialClusterOf([m1, m2, m3]));
  await waitFor(
    "m1 serves again",
    async () => (await etcdctl(ep(m1), [root, "get", "/app/a"], "2s")).code === 0,
    30_000,
  );
  await ok(ep(m1), [alice, "get", "/app/a", "--print-value-only"], "1\n");
  await fails(ep(m1), [alice, "get", "/other/b"], denied);
  await fails(ep(m1), ["get", "/app/a"], "Error: etcdserver: user name is empty");
});

test("etcdctl auth: failed logins are rate-limited per user; the right password waits too", async () => {
  // Proves brute-force protection with the defaults (5 failures per user per 30 s): the sixth
  // attempt is refused with etcd's "too many requests" even with the right password, while other
  // users are unaffected.
  const wrong = "Error: etcdserver: authentication failed, invalid user ID or password";
  for (let i = 0; i < 5; i++) await fails(ep(m2), ["--user=bob:guess", "get", "/app/a"], wrong);
  await fails(ep(m2), ["--user=bob:bobpw", "get", "/app/a"], "Error: etcdserver: too many requests");
  await ok(ep(m2), [alice, "get", "/app/a", "--print-value-only"], "1\n");
});
