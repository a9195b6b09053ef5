// Integration tests of TLS on real `synod` processes with Debian's etcdctl: a three-member cluster
// with client and peer TLS and certificate auth both ways; a member with a stranger's peer
// certificate cannot join; refused clients (none, wrong CA, revoked, plaintext); junk at both
// ports; certificate rotation without restart; start-up refusals; --auto-tls.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import tls from "node:tls";
import {
  type CtlResult,
  etcdctl,
  freePort,
  ProcessCluster,
  type ProcessMember,
  waitFor,
} from "../../src/testing/procs.js";

const mainJs = join(process.cwd(), "dist/src/cli/main.js");
let certs = "";
const pem = (name: string): string => join(certs, `${name}.pem`);
const keyPem = (name: string): string => join(certs, `${name}-key.pem`);

before(() => {
  certs = mkdtempSync(join(tmpdir(), "synod-tls-certs-"));
  execFileSync(process.execPath, [join(process.cwd(), "scripts/certs.mjs"), certs], { stdio: "ignore" });
});

after(() => rmSync(certs, { recursive: true, force: true }));

/** etcdctl's TLS flags for client certificate `name` (or none). */
function ctlTls(name: string | null): string[] {
  const ca = [`--cacert=${pem("ca")}`];
  return name === null ? ca : [...ca, `--cert=${pem(name)}`, `--key=${keyPem(name)}`];
}

function httpsEndpoint(m: ProcessMember): string {
  return `https://127.0.0.1:${m.clientPort}`;
}

function ctl(m: ProcessMember, args: readonly string[], client: string | null = "root"): Promise<CtlResult> {
  return etcdctl(httpsEndpoint(m), [...ctlTls(client), ...args]);
}

const memberTls = (): string[] => [
  `--cert-file=${pem("member")}`,
  `--key-file=${keyPem("member")}`,
  `--trusted-ca-file=${pem("ca")}`,
  "--client-cert-auth",
  `--client-crl-file=${pem("crl")}`,
  `--peer-cert-file=${pem("member")}`,
  `--peer-key-file=${keyPem("member")}`,
  `--peer-trusted-ca-file=${pem("ca")}`,
  "--peer-client-cert-auth",
  "--heartbeat-interval=50",
  "--election-timeout=500",
];

function alive(m: ProcessMember): boolean {
  return m.proc !== null && m.proc.exitCode === null && m.proc.signalCode === null;
}

test("TLS cluster: etcdctl with --cacert/--cert/--key against three members with client and peer certificate auth", async () => {
  // Proves issue 8's TLS cluster: etcdctl works over TLS (writes, reads on followers, --cluster
  // status, lease forwarding to the leader over https); clients without a valid certificate and
  // plaintext clients are refused cleanly; a member with a stranger's peer certificate cannot
  // join until it has the right one; junk at both ports leaves every member serving.
  const c = await ProcessCluster.create(4, mainJs, memberTls(), { client: "https", peer: "https" });
  const [m1, m2, m3, m4] = c.members as [ProcessMember, ProcessMember, ProcessMember, ProcessMember];
  const three = [m1, m2, m3];
  const initial = three.map((m) => `${m.name}=https://127.0.0.1:${m.peerPort}`).join(",");
  try {
    for (const m of three) c.start(m, "new", initial);
    await waitFor("a TLS write", async () => (await ctl(m1, ["put", "k", "v1"])).code === 0, 20_000);
    const got = await ctl(m3, ["get", "k", "--print-value-only"]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout.trim(), "v1");
    await waitFor(
      "every member's status over TLS (--cluster)",
      async () => {
        const status = await ctl(m1, ["endpoint", "status", "--cluster", "-w", "json"]);
        return status.code === 0 && (JSON.parse(status.stdout) as unknown[]).length === 3;
      },
      10_000,
    );
    const grant = await ctl(m1, ["lease", "grant", "60"]);
    const leaseId = /lease ([0-9a-f]+) granted/.exec(grant.stdout)?.[1] ?? "";
    for (const m of three) {
      const ka = await ctl(m, ["lease", "keep-alive", "--once", leaseId]);
      assert.match(ka.stdout, /keepalived with TTL\(60\)/, `${m.name}: ${ka.stderr}`);
    }

    // Refused clients: no certificate, another CA's, a revoked one, plaintext to the TLS port.
    assert.notEqual((await ctl(m1, ["get", "k"], null)).code, 0);
    assert.notEqual((await ctl(m1, ["get", "k"], "wrong-client")).code, 0);
    assert.notEqual((await ctl(m1, ["get", "k"], "revoked")).code, 0);
    assert.equal((await ctl(m1, ["get", "k", "--print-value-only"], "alice")).stdout.trim(), "v1");
    const plain = await etcdctl(`http://127.0.0.1:${m1.clientPort}`, ["get", "k"], "2s");
    assert.notEqual(plain.code, 0);
    assert.equal(await httpsStatus(m1.clientPort, "alice", "/health"), 200);
    await assert.rejects(httpsStatus(m1.clientPort, null, "/health"));
    assert.ok(m1.log.includes("api: a TLS handshake failed"), "refusals are logged");

    // A member with a peer certificate from another CA is added but cannot join.
    const add = await ctl(m1, ["member", "add", "m4", `--peer-urls=https://127.0.0.1:${m4.peerPort}`]);
    assert.equal(add.code, 0, add.stderr);
    const withM4 = `${initial},m4=https://127.0.0.1:${m4.peerPort}`;
    c.start(m4, "existing", withM4, [
      `--peer-cert-file=${pem("wrong")}`,
      `--peer-key-file=${keyPem("wrong")}`,
    ]);
    await waitFor(
      "the stranger's handshakes refused",
      async () => three.some((m) => m.log.includes("peer transport: a TLS handshake failed")),
      10_000,
    );
    await new Promise((r) => setTimeout(r, 1500));
    const unstarted = await ctl(m1, ["member", "list", "-w", "json"]);
    const members = (JSON.parse(unstarted.stdout) as { members: { name?: string; peerURLs: string[] }[] })
      .members;
    const m4Entry = members.find((m) => m.peerURLs.some((u) => u.endsWith(`:${m4.peerPort}`)));
    assert.ok(m4Entry !== undefined && (m4Entry.name ?? "") === "", "m4 never published its name");
    assert.equal((await ctl(m2, ["put", "k", "v2"])).code, 0, "three of four members still make a quorum");
    // With the CA's certificate the same member joins (from an empty data directory: the refused
    // run never learned the cluster's membership).
    await c.kill(m4);
    rmSync(m4.dataDir, { recursive: true, force: true });
    c.start(m4, "existing", withM4);
    await waitFor(
      "m4 to join with the right certificate",
      async () => {
        const r = await ctl(m1, ["member", "list"]);
        return r.stdout.includes(", started, m4,");
      },
      20_000,
    );
    await waitFor(
      "m4 to serve the data",
      async () =>
        (await ctl(m4, ["get", "k", "--print-value-only", "--consistency=s"])).stdout.trim() === "v2",
      10_000,
    );

    // Junk at both ports of m1: random bytes, plaintext HTTP, truncated TLS handshakes.
    const hello = await clientHello();
    const junk = [
      Buffer.from("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"),
      hello.subarray(0, 7),
      hello.subarray(0, 100),
    ];
    let seed = 11;
    for (let i = 0; i < 15; i++) {
      const bytes = Buffer.alloc(1 + ((i * 53) % 400));
      for (let j = 0; j < bytes.length; j++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        bytes[j] = seed & 0xff;
      }
      junk.push(bytes);
    }
    await Promise.all(
      [m1.clientPort, m1.peerPort].flatMap((port) => junk.map((bytes) => sendJunk(port, bytes))),
    );
    assert.ok(c.members.every(alive), "every member survived the junk");
    assert.equal((await ctl(m1, ["put", "k", "v3"])).code, 0);
    assert.equal((await ctl(m4, ["get", "k", "--print-value-only"])).stdout.trim(), "v3");
  } finally {
    await c.destroy();
  }
});

/** The HTTP status of GET `path` over TLS with client certificate `client` (or none). */
function httpsStatus(port: number, client: string | null, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      {
        host: "127.0.0.1",
        port,
        path,
        ca: readFileSync(pem("ca")),
        ...(client === null ? {} : { cert: readFileSync(pem(client)), key: readFileSync(keyPem(client)) }),
        agent: false,
        timeout: 5000,
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

/** A real TLS ClientHello's bytes, captured from a client dialing a recording listener. */
function clientHello(): Promise<Buffer> {
  return new Promise((resolve) => {
    const server = net.createServer((s) =>
      s.once("data", (chunk: Buffer) => {
        resolve(chunk);
        s.destroy();
        server.close();
      }),
    );
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      tls.connect({ host: "127.0.0.1", port, rejectUnauthorized: false }).on("error", () => {});
    });
  });
}

/** Writes `bytes` to a fresh connection and closes it after a moment, whatever the server does. */
function sendJunk(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    s.on("connect", () => s.write(bytes));
    s.on("data", () => {});
    s.on("error", () => {});
    const timer = setTimeout(() => s.destroy(), 300);
    s.on("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The CN of the certificate a new TLS connection to `port` is served. */
function servedCn(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect(
      {
        host: "127.0.0.1",
        port,
        ca: readFileSync(pem("ca")),
        cert: readFileSync(pem("root")),
        key: readFileSync(keyPem("root")),
        ALPNProtocols: ["http/1.1"],
      },
      () => {
        const cn = s.getPeerCertificate().subject?.CN;
        s.destroy();
        resolve(typeof cn === "string" ? cn : "");
      },
    );
    s.on("error", reject);
  });
}

test("TLS rotation: replacing the certificate files serves the new certificate to new connections without a restart", async () => {
  // Proves issue 8's rotation: the member watches its files; etcdctl keeps working across it.
  const work = mkdtempSync(join(tmpdir(), "synod-tls-rotate-"));
  copyFileSync(pem("member"), join(work, "c.pem"));
  copyFileSync(keyPem("member"), join(work, "k.pem"));
  const c = await ProcessCluster.create(
    1,
    mainJs,
    [
      `--cert-file=${join(work, "c.pem")}`,
      `--key-file=${join(work, "k.pem")}`,
      `--trusted-ca-file=${pem("ca")}`,
      "--client-cert-auth",
    ],
    { client: "https" },
  );
  const [m] = c.members as [ProcessMember];
  try {
    c.start(m);
    await waitFor("a TLS write", async () => (await ctl(m, ["put", "a", "1"])).code === 0, 20_000);
    assert.equal(await servedCn(m.clientPort), "member");
    copyFileSync(pem("member2"), join(work, "c.pem"));
    copyFileSync(keyPem("member2"), join(work, "k.pem"));
    await waitFor("the new certificate", async () => (await servedCn(m.clientPort)) === "member2", 10_000);
    assert.match(m.log, /tls: reloaded the certificate.*"cn":"member2"/);
    assert.equal((await ctl(m, ["get", "a", "--print-value-only"])).stdout.trim(), "1");
    // An expired certificate is refused with a log line; the current one stays.
    copyFileSync(pem("expired"), join(work, "c.pem"));
    copyFileSync(keyPem("expired"), join(work, "k.pem"));
    await waitFor("the refusal", async () => m.log.includes("refused the changed certificate files"), 10_000);
    assert.match(m.log, /expired on 2020-01-01/);
    assert.equal(await servedCn(m.clientPort), "member2");
  } finally {
    await c.destroy();
    rmSync(work, { recursive: true, force: true });
  }
});

/** Runs synod with `args` until it exits (or 15 s pass); resolves with its exit code and output. */
function runSynod(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [mainJs, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (b: Buffer) => (output += b.toString()));
    child.stderr.on("data", (b: Buffer) => (output += b.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test("TLS start-up: an expired certificate, a key of another certificate or an unknown cipher suite refuse to start, naming the setting", async () => {
  // Proves bad certificate settings stop the member at once with a line that says what to fix.
  const work = mkdtempSync(join(tmpdir(), "synod-tls-refuse-"));
  try {
    const port = await freePort();
    const base = [
      `--data-dir=${join(work, "d")}`,
      `--listen-client-urls=https://127.0.0.1:${port}`,
      `--advertise-client-urls=https://127.0.0.1:${port}`,
      `--listen-peer-urls=http://127.0.0.1:${await freePort()}`,
    ];
    const expired = await runSynod([
      ...base,
      `--cert-file=${pem("expired")}`,
      `--key-file=${keyPem("expired")}`,
    ]);
    assert.equal(expired.code, 1);
    assert.match(expired.output, /--cert-file '.*expired\.pem' \(CN=member\) expired on 2020-01-01/);
    const mismatched = await runSynod([
      ...base,
      `--cert-file=${pem("member")}`,
      `--key-file=${keyPem("alice")}`,
    ]);
    assert.equal(mismatched.code, 1);
    assert.match(mismatched.output, /--key-file '.*alice-key\.pem' does not match --cert-file/);
    const cipher = await runSynod([
      ...base,
      `--cert-file=${pem("member")}`,
      `--key-file=${keyPem("member")}`,
      "--cipher-suites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_NOT_A_SUITE",
    ]);
    assert.equal(cipher.code, 2);
    assert.match(cipher.output, /--cipher-suites has unknown cipher suites 'TLS_NOT_A_SUITE'/);
    const noCert = await runSynod(base);
    assert.equal(noCert.code, 2);
    assert.match(noCert.output, /which needs a certificate: set --cert-file and --key-file, or --auto-tls/);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("TLS --auto-tls and --cipher-suites: a self-signed certificate is made at start and etcdctl talks to it", async () => {
  // Proves etcd's --auto-tls (etcdctl must skip verification, as with etcd) with a chosen suite.
  const c = await ProcessCluster.create(
    1,
    mainJs,
    ["--auto-tls", "--cipher-suites=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
    { client: "https" },
  );
  const [m] = c.members as [ProcessMember];
  try {
    c.start(m);
    const insecure = (args: string[]) =>
      etcdctl(httpsEndpoint(m), ["--insecure-transport=false", "--insecure-skip-tls-verify", ...args]);
    await waitFor(
      "a write over auto-TLS",
      async () => (await insecure(["put", "x", "y"])).code === 0,
      20_000,
    );
    assert.equal((await insecure(["get", "x", "--print-value-only"])).stdout.trim(), "y");
    assert.match(m.log, /tls: made a self-signed certificate/);
    // The list is the TLS 1.2 suites offered (TLS 1.3 keeps its own suites, as with etcd's Go TLS).
    const handshake = (ciphers: string): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = tls.connect({
          host: "127.0.0.1",
          port: m.clientPort,
          rejectUnauthorized: false,
          maxVersion: "TLSv1.2",
          ciphers,
        });
        s.on("secureConnect", () => {
          resolve(s.getCipher().name);
          s.destroy();
        });
        s.on("error", reject);
      });
    assert.equal(
      await handshake("ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256"),
      "ECDHE-ECDSA-AES128-GCM-SHA256",
    );
    await assert.rejects(handshake("ECDHE-ECDSA-AES256-GCM-SHA384"));
  } finally {
    await c.destroy();
  }
});
