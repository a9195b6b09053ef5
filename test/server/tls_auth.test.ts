// etcd auth over TLS on three real `synod` members with client certificate auth, driven by Debian's
// etcdctl 3.4 with --cacert/--cert/--key (and --user): the verified certificate's CN is the user of
// requests without a token, a token overrides it, and permissions hold as with passwords.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import {
  type CtlResult,
  etcdctl,
  ProcessCluster,
  type ProcessMember,
  waitFor,
} from "../../src/testing/procs.js";

const mainJs = join(process.cwd(), "dist/src/cli/main.js");
let certs = "";
let c: ProcessCluster;
let m1: ProcessMember;
let m2: ProcessMember;
let m3: ProcessMember;
const pem = (name: string): string => join(certs, `${name}.pem`);

before(async () => {
  certs = mkdtempSync(join(tmpdir(), "synod-tls-auth-certs-"));
  execFileSync(process.execPath, [join(process.cwd(), "scripts/certs.mjs"), certs], { stdio: "ignore" });
  const memberTls = [
    `--cert-file=${pem("member")}`,
    `--key-file=${pem("member-key")}`,
    `--trusted-ca-file=${pem("ca")}`,
    "--client-cert-auth",
    `--peer-cert-file=${pem("member")}`,
    `--peer-key-file=${pem("member-key")}`,
    `--peer-trusted-ca-file=${pem("ca")}`,
    "--peer-client-cert-auth",
    "--bcrypt-cost=4",
  ];
  c = await ProcessCluster.create(3, mainJs, memberTls, { client: "https", peer: "https" });
  [m1, m2, m3] = c.members as [ProcessMember, ProcessMember, ProcessMember];
  const initial = [m1, m2, m3].map((m) => `${m.name}=https://127.0.0.1:${m.peerPort}`).join(",");
  for (const m of [m1, m2, m3]) c.start(m, "new", initial);
  await waitFor(
    "a TLS write",
    async () => (await ctl(m1, "root", ["put", "/ready", "1"])).code === 0,
    20_000,
  );
});

after(async () => {
  await c?.destroy();
  rmSync(certs, { recursive: true, force: true });
});

/** etcdctl over TLS to `m` with client certificate `cert` (CN = its name). */
function ctl(m: ProcessMember, cert: string, args: readonly string[]): Promise<CtlResult> {
  return etcdctl(`https://127.0.0.1:${m.clientPort}`, [
    `--cacert=${pem("ca")}`,
    `--cert=${pem(cert)}`,
    `--key=${pem(`${cert}-key`)}`,
    ...args,
  ]);
}

async function ok(m: ProcessMember, cert: string, args: string[], stdout: string): Promise<void> {
  const r = await ctl(m, cert, args);
  assert.equal(r.code, 0, `etcdctl ${args.join(" ")}: ${r.stderr}`);
  assert.equal(r.stdout, stdout, `etcdctl ${args.join(" ")}`);
}

async function fails(m: ProcessMember, cert: string, args: string[], error: string): Promise<void> {
  const r = await ctl(m, cert, args);
  assert.notEqual(r.code, 0, `etcdctl ${args.join(" ")} should fail`);
  assert.equal(r.stderr.trim().split("\n").at(-1), error, `etcdctl ${args.join(" ")}`);
}

test("TLS + auth: the client certificate's CN is the user; --user's token overrides it", async () => {
  // Proves etcd's CN identity with --client-cert-auth: once auth is on, a client presenting the
  // certificate CN=root acts as root without a password and CN=alice gets alice's read-only grant
  // on /app/; a password login (a token) takes precedence over the certificate.
  await ok(m1, "root", ["user", "add", "root:rootpw"], "User root created\n");
  await ok(m1, "root", ["role", "add", "app-ro"], "Role app-ro created\n");
  await ok(
    m2,
    "root",
    ["role", "grant-permission", "app-ro", "read", "/app/", "--prefix"],
    "Role app-ro updated\n",
  );
  await ok(m2, "root", ["user", "add", "alice:alicepw"], "User alice created\n");
  await ok(m3, "root", ["user", "grant-role", "alice", "app-ro"], "Role app-ro is granted to user alice\n");
  await ok(m3, "root", ["put", "/app/a", "1"], "OK\n");
  await ok(m3, "root", ["put", "/other/b", "2"], "OK\n");
  await ok(m1, "root", ["auth", "enable"], "Authentication Enabled\n");
  await ok(m2, "root", ["get", "/other/b", "--print-value-only"], "2\n");
  await ok(m3, "root", ["user", "list"], "alice\nroot\n");
  await ok(m1, "alice", ["get", "/app/a", "--print-value-only"], "1\n");
  await fails(m2, "alice", ["put", "/app/a", "x"], "Error: etcdserver: permission denied");
  await fails(m3, "alice", ["get", "/other/b"], "Error: etcdserver: permission denied");
  await fails(m1, "alice", ["user", "list"], "Error: etcdserver: permission denied");
  await ok(m2, "alice", ["--user=root:rootpw", "get", "/other/b", "--print-value-only"], "2\n");
  await fails(
    m3,
    "root",
    ["--user=alice:alicepw", "get", "/other/b"],
    "Error: etcdserver: permission denied",
  );
  await fails(
    m1,
    "alice",
    ["--user=alice:wrong", "get", "/app/a"],
    "Error: etcdserver: authentication failed, invalid user ID or password",
  );
});
