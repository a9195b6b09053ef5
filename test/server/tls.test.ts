// Tests of TLS inside one process: certificate files checked with messages that name the file,
// reloading on change, the peer transport over TLS (mutual auth, CA, allowed CN, plaintext and
// garbage at a TLS port), and the client port's ALPN choice and client-certificate identity.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import tls from "node:tls";
import { frameMessage } from "../../src/api/etcd/grpc/frames.js";
import { unary } from "../../src/api/etcd/grpc/server.js";
import { chooseAlpn } from "../../src/api/etcd/listener.js";
import { LocalBackend } from "../../src/api/etcd/local.js";
import { decodeMessage, encodeMessage, message as messageDesc } from "../../src/api/etcd/proto/codec.js";
import { EtcdApiServer } from "../../src/api/etcd/server.js";
import { MemoryLogger } from "../../src/lib/logger.js";
import { MessageType, message } from "../../src/raft/types.js";
import type { TlsConfig } from "../../src/server/config.js";
import {
  loadTlsMaterial,
  selfSignedCertificate,
  type TlsFiles,
  TlsSource,
} from "../../src/server/tls/mod.js";
import { closeAll, logged, type Member, sleep, startMember, waitFor } from "./transport/helpers.js";

let dir = "";
const cert = (name: string): string => join(dir, `${name}.pem`);
const key = (name: string): string => join(dir, `${name}-key.pem`);
const protocol = { cipherSuites: [], minVersion: null, maxVersion: null } as const;

before(() => {
  dir = mkdtempSync(join(tmpdir(), "synod-tls-"));
  execFileSync(process.execPath, [join(process.cwd(), "scripts/certs.mjs"), dir], { stdio: "ignore" });
});

after(() => rmSync(dir, { recursive: true, force: true }));

function files(c: string, k: string, extra: Partial<Pick<TlsFiles, "ca" | "crl">> = {}): TlsFiles {
  return {
    cert: { path: c, flag: "cert-file" },
    key: { path: k, flag: "key-file" },
    ca: extra.ca ?? null,
    crl: extra.crl ?? null,
  };
}

function side(s: "client" | "peer", overrides: Partial<TlsConfig> = {}): TlsConfig {
  return {
    side: s,
    certFile: cert("member"),
    keyFile: key("member"),
    trustedCaFile: cert("ca"),
    clientCertAuth: true,
    crlFile: "",
    autoTls: false,
    allowedCn: "",
    allowedHostname: "",
    ...overrides,
  };
}

test("loadTlsMaterial: a good set loads; expired, mismatched, missing and malformed files are refused naming the file", () => {
  // Proves the start-up refusals say which setting and file is wrong and why.
  const m = loadTlsMaterial(
    files(cert("member"), key("member"), { ca: { path: cert("ca"), flag: "trusted-ca-file" } }),
    protocol,
    Date.now(),
  );
  assert.equal(m.commonName, "member");
  assert.ok(m.validToMs > Date.now());
  const refusals: [TlsFiles, RegExp][] = [
    [
      files(cert("expired"), key("expired")),
      /--cert-file '.*expired\.pem' \(CN=member\) expired on 2020-01-01/,
    ],
    [
      files(cert("member"), key("root")),
      /--key-file '.*root-key\.pem' does not match --cert-file '.*member\.pem'.*belongs to another certificate/,
    ],
    [
      files(join(dir, "nope.pem"), key("member")),
      /Cannot read the certificate --cert-file '.*nope\.pem': ENOENT/,
    ],
    [files(key("member"), key("member")), /--cert-file '.*member-key\.pem' holds no PEM certificate/],
    [
      files(cert("member"), cert("member")),
      /--key-file '.*member\.pem' is not an unencrypted PEM private key/,
    ],
    [
      files(cert("member"), key("member"), { crl: { path: cert("ca"), flag: "client-crl-file" } }),
      /--client-crl-file '.*ca\.pem' holds no PEM revocation list/,
    ],
    [
      files(cert("member"), key("member"), { ca: { path: key("ca"), flag: "trusted-ca-file" } }),
      /--trusted-ca-file '.*ca-key\.pem' holds no PEM certificate/,
    ],
  ];
  for (const [f, want] of refusals) assert.throws(() => loadTlsMaterial(f, protocol, Date.now()), want);
});

test("TlsSource: replaced files are reloaded; a mismatched pair is refused with one log line and the old one stays", async () => {
  // Proves rotation without restart, and that a half-written or wrong rotation cannot take effect.
  const work = mkdtempSync(join(tmpdir(), "synod-tls-rot-"));
  const log = new MemoryLogger();
  try {
    copyFileSync(cert("member"), join(work, "c.pem"));
    copyFileSync(key("member"), join(work, "k.pem"));
    const source = await TlsSource.open({
      config: side("client", { certFile: join(work, "c.pem"), keyFile: join(work, "k.pem") }),
      protocol,
      dataDir: work,
      hosts: [],
      logger: log,
      pollMs: 20,
    });
    let changes = 0;
    source.onChange(() => changes++);
    try {
      assert.equal(source.material.commonName, "member");
      copyFileSync(cert("member2"), join(work, "c.pem"));
      copyFileSync(key("member2"), join(work, "k.pem"));
      await waitFor("the reload", () => source.material.commonName === "member2", 3000);
      assert.equal(changes, 1);
      assert.ok(logged(log, "info", "tls: reloaded the certificate"));
      // Only the certificate changes: the pair no longer matches and is refused, once.
      copyFileSync(cert("member"), join(work, "c.pem"));
      await waitFor("the refusal", () => logged(log, "warn", "does not match"), 3000);
      await sleep(100);
      assert.equal(source.material.commonName, "member2");
      assert.equal(changes, 1);
      assert.equal(log.lines.filter((l) => l.message.startsWith("tls: refused the changed")).length, 1);
      // The key follows: the pair matches again and is taken.
      copyFileSync(key("member"), join(work, "k.pem"));
      await waitFor("the second reload", () => source.material.commonName === "member", 3000);
      assert.equal(changes, 2);
    } finally {
      source.close();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

test("selfSignedCertificate: --auto-tls makes a certificate for the hosts with openssl, and reuses it", async () => {
  // Proves auto-TLS material: SANs from the listen hosts, a matching key, reuse on the next start.
  const work = mkdtempSync(join(tmpdir(), "synod-autotls-"));
  try {
    const first = await selfSignedCertificate(work, ["10.1.2.3", "node-1.example"], "auto-tls", Date.now());
    assert.equal(first.created, true);
    const x = new X509Certificate(readFileSync(first.certFile));
    assert.match(x.subjectAltName ?? "", /IP Address:10\.1\.2\.3/);
    assert.match(x.subjectAltName ?? "", /DNS:node-1\.example/);
    assert.match(x.subjectAltName ?? "", /DNS:localhost/);
    const m = loadTlsMaterial(files(first.certFile, first.keyFile), protocol, Date.now());
    assert.equal(m.fingerprint, x.fingerprint256);
    const second = await selfSignedCertificate(work, ["10.1.2.3"], "auto-tls", Date.now());
    assert.equal(second.created, false);
    assert.equal(new X509Certificate(readFileSync(second.certFile)).fingerprint256, x.fingerprint256);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});

/** A peer TLS source for `name`'s certificate (CA-checked, mutual auth unless overridden). */
function peerSource(name: string, overrides: Partial<TlsConfig> = {}): Promise<TlsSource> {
  return TlsSource.open({
    config: side("peer", { certFile: cert(name), keyFile: key(name), ...overrides }),
    protocol,
    dataDir: dir,
    hosts: [],
  });
}

const heartbeat = (from: number, to: number) => message({ type: MessageType.heartbeat, from, to, term: 1 });

async function tlsMember(
  id: number,
  source: TlsSource,
  handshakeTimeoutMs = 5000,
): Promise<Member & { readonly secureUrl: string }> {
  const m = await startMember(id, { tls: source, listenTls: true, handshakeTimeoutMs });
  return { ...m, secureUrl: `https://127.0.0.1:${m.t.address.port}` };
}

test("PeerTransport over TLS: members with CA-signed certificates talk; a stranger's certificate and a disallowed CN are refused", async () => {
  // Proves --peer-client-cert-auth and --peer-trusted-ca-file both ways, and --peer-cert-allowed-cn.
  const sources = await Promise.all([
    peerSource("member", { allowedCn: "member" }),
    peerSource("member", { allowedCn: "member" }),
    peerSource("wrong"),
    peerSource("intruder"),
  ]);
  const [sa, sb, sWrong, sIntruder] = sources as [TlsSource, TlsSource, TlsSource, TlsSource];
  const a = await tlsMember(1, sa);
  const b = await tlsMember(2, sb);
  const stranger = await tlsMember(3, sWrong);
  const intruder = await tlsMember(4, sIntruder);
  try {
    a.t.addPeer(2, b.secureUrl);
    b.t.addPeer(1, a.secureUrl);
    a.t.send([heartbeat(1, 2)]);
    b.t.send([heartbeat(2, 1)]);
    await waitFor("messages both ways", () => a.received.length === 1 && b.received.length === 1);
    // A certificate from another CA is refused in a's handshake; a CA-signed certificate with
    // another CN is refused after it.
    stranger.t.addPeer(1, a.secureUrl);
    intruder.t.addPeer(1, a.secureUrl);
    stranger.t.send([heartbeat(3, 1)]);
    intruder.t.send([heartbeat(4, 1)]);
    await waitFor("the refusals", () => logged(a.log, "warn", "is not the allowed 'member'"), 5000);
    await waitFor("the stranger's failure", () => stranger.unreachable.includes(1), 5000);
    await sleep(200);
    assert.deepEqual(
      a.received.map((m) => m.from),
      [2],
    );
    assert.ok(logged(a.log, "warn", "peer transport: a TLS handshake failed"));
    // a dialing the intruder refuses its server certificate by CN too (the check runs both ways).
    a.t.addPeer(4, intruder.secureUrl);
    a.t.send([heartbeat(1, 4)]);
    await waitFor("a refusing the intruder", () =>
      logged(a.log, "warn", "refused the peer's TLS certificate"),
    );
    assert.equal(intruder.received.length, 0);
  } finally {
    await closeAll(a, b, stranger, intruder);
    for (const s of sources) s.close();
  }
});

test("PeerTransport over TLS: plaintext, random bytes and truncated handshakes are closed without harm", async () => {
  // Proves a TLS peer port survives junk: each bad connection is closed, and members still talk.
  const [sa, sb] = [await peerSource("member"), await peerSource("member")];
  // A short handshake timeout, so truncated handshakes are cut off quickly.
  const a = await tlsMember(1, sa, 500);
  const b = await tlsMember(2, sb, 500);
  try {
    const port = a.t.address.port;
    const hello = await captureClientHello();
    const junk: Buffer[] = [
      Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
      Buffer.from([0, 0, 0, 12, 1, 2, 3]),
      hello.subarray(0, 5),
      hello.subarray(0, Math.floor(hello.length / 2)),
      hello,
    ];
    let seed = 7;
    for (let i = 0; i < 20; i++) {
      const n = 1 + ((i * 37) % 300);
      const bytes = Buffer.alloc(n);
      for (let j = 0; j < n; j++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        bytes[j] = seed & 0xff;
      }
      junk.push(bytes);
    }
    await Promise.all(junk.map((bytes) => sendAndWaitClose(port, bytes, 8000)));
    a.t.addPeer(2, b.secureUrl);
    a.t.send([heartbeat(1, 2)]);
    await waitFor("a message after the junk", () => b.received.length === 1);
  } finally {
    await closeAll(a, b);
    sa.close();
    sb.close();
  }
});

/** The bytes of a real TLS ClientHello (from a client dialing a local listener that records them). */
function captureClientHello(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => {
      socket.once("data", (chunk: Buffer) => {
        resolve(chunk);
        socket.destroy();
        server.close();
      });
    });
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as net.AddressInfo;
      const c = tls.connect({ host: "127.0.0.1", port: address.port, rejectUnauthorized: false });
      c.on("error", () => c.destroy());
    });
    server.on("error", reject);
  });
}

/** Connects, writes `bytes` (then half-closes for short ones), and resolves when the server closes. */
function sendAndWaitClose(port: number, bytes: Buffer, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`the server kept a junk connection open for ${timeoutMs} ms`));
    }, timeoutMs);
    s.on("connect", () => s.write(bytes));
    s.on("data", () => {});
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

test("chooseAlpn: gRPC clients (h2 only) get h2; HTTP clients offering http/1.1 get it", () => {
  // Proves the client port's ALPN rule, which lets curl reach /health and the JSON gateway over TLS.
  assert.equal(chooseAlpn(["h2"]), "h2");
  assert.equal(chooseAlpn(["grpc-exp", "h2"]), "h2");
  assert.equal(chooseAlpn(["h2", "http/1.1"]), "http/1.1");
  assert.equal(chooseAlpn(["http/1.1"]), "http/1.1");
  assert.equal(chooseAlpn(["spdy/3"]), undefined);
});

test("EtcdApiServer over TLS: a verified client certificate's CN reaches CallContext.peerCommonName; no certificate, no connection", async () => {
  // Proves the identity etcd's CN-based auth needs is handed to handlers, and client cert auth refuses others.
  const source = await TlsSource.open({ config: side("client"), protocol, dataDir: dir, hosts: [] });
  const backend = new LocalBackend({});
  const log = new MemoryLogger();
  const server = new EtcdApiServer({ backend, tls: source, logger: log });
  const empty = messageDesc("test.Empty", []);
  const named = messageDesc("test.Named", [[1, "name", "string"]]);
  server.grpc.register(
    "/test.Identity/Who",
    unary<object, { name: string }>(empty, named, async (_req, ctx) => ({
      name: ctx.peerCommonName ?? "<none>",
    })),
  );
  const port = await server.listen(0);
  try {
    assert.equal(await whoAmI(port, "alice"), "alice");
    assert.equal(await whoAmI(port, "root"), "root");
    await assert.rejects(whoAmI(port, null));
    await assert.rejects(whoAmI(port, "wrong-client"));
    await waitFor("the handshake failures logged", () => logged(log, "warn", "api: a TLS handshake failed"));
  } finally {
    await server.close();
    backend.close();
    source.close();
  }

  function whoAmI(p: number, client: string | null): Promise<string> {
    return new Promise((resolve, reject) => {
      const session = http2.connect(`https://127.0.0.1:${p}`, {
        ca: readFileSync(cert("ca")),
        ...(client === null ? {} : { cert: readFileSync(cert(client)), key: readFileSync(key(client)) }),
      });
      session.on("error", reject);
      const req = session.request({
        ":method": "POST",
        ":path": "/test.Identity/Who",
        "content-type": "application/grpc",
        te: "trailers",
      });
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("error", reject);
      req.on("close", () => {
        session.close();
        const all = Buffer.concat(chunks);
        if (all.length < 5) {
          reject(new Error("no response message"));
          return;
        }
        const decoded = decodeMessage<{ name: string }>(named, new Uint8Array(all.subarray(5)));
        if (decoded.ok) resolve(decoded.value.name);
        else reject(new Error(decoded.reason));
      });
      req.end(frameMessage(encodeMessage(empty, {})));
    });
  }
});
