// Build, then `node dist/bench/tls.js`: what TLS costs on the client port. Put throughput with
// TLS off and on (client certificate auth on), over one HTTP/2 connection with N concurrent
// streams from this process:
// 1. in-process: an EtcdApiServer over a LocalBackend (the API path alone, the worst case for
//    the ratio, since the client's TLS work shares this one thread);
// 2. a real one-member `synod` process (WAL fsync included), client in this process.
// Certificates come from `node scripts/certs.mjs` into a temporary folder. BENCH_SECONDS (default
// 2) sets the time per measurement, BENCH_ROUNDS (default 3) the alternating rounds per point.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalBackend } from "../src/api/etcd/local.js";
import { encodeMessage } from "../src/api/etcd/proto/codec.js";
import { D } from "../src/api/etcd/proto/messages.js";
import { EtcdApiServer } from "../src/api/etcd/server.js";
import { TlsSource } from "../src/server/tls/mod.js";
import { ProcessCluster, type ProcessMember, waitFor } from "../src/testing/procs.js";
import { closedLoopRate, rawUnaryOk } from "./lib/rawgrpc.js";

const seconds = Number(process.env.BENCH_SECONDS ?? 2);
const concurrency = [1, 16, 64];
const certs = mkdtempSync(join(tmpdir(), "synod-bench-tls-"));
execFileSync(process.execPath, [join(process.cwd(), "scripts/certs.mjs"), certs], { stdio: "ignore" });
const pem = (n: string): Buffer => readFileSync(join(certs, `${n}.pem`));
const putBody = encodeMessage(D.PutRequest, {
  key: new TextEncoder().encode("/bench/key"),
  value: new Uint8Array(100),
});

/** Put requests per second over one connection with `streams` concurrent streams. */
async function putRate(
  port: number,
  secure: boolean,
  streams: number,
  forSeconds = seconds,
): Promise<number> {
  const session = secure
    ? http2.connect(`https://127.0.0.1:${port}`, { ca: pem("ca"), cert: pem("root"), key: pem("root-key") })
    : http2.connect(`http://127.0.0.1:${port}`);
  session.on("error", () => {});
  const rate = await closedLoopRate(streams, forSeconds, async () => {
    await rawUnaryOk(session, "/etcdserverpb.KV/Put", putBody);
  });
  session.close();
  return rate;
}

/** A short unmeasured run, so both sides are warmed up (JIT, TLS session setup) before timing. */
async function warmUp(port: number, secure: boolean): Promise<void> {
  await putRate(port, secure, 16, Math.min(seconds, 0.5));
}

/** Rounds per point; plain and TLS alternate, and each side's median is reported (load on a shared machine drifts). */
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);

async function compare(label: string, plainPort: number, tlsPort: number, streams: number): Promise<void> {
  const plain: number[] = [];
  const secure: number[] = [];
  for (let r = 0; r < rounds; r++) {
    plain.push(await putRate(plainPort, false, streams));
    secure.push(await putRate(tlsPort, true, streams));
  }
  report(label, streams, median(plain), median(secure));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

function report(label: string, streams: number, plain: number, secure: number): void {
  console.log(
    `${label.padEnd(12)} concurrency ${String(streams).padStart(3)}: plain ${plain.toFixed(0).padStart(6)}/s  TLS ${secure.toFixed(0).padStart(6)}/s  ratio ${(secure / plain).toFixed(2)}`,
  );
}

async function inProcess(): Promise<void> {
  const source = await TlsSource.open({
    config: {
      side: "client",
      certFile: join(certs, "member.pem"),
      keyFile: join(certs, "member-key.pem"),
      trustedCaFile: join(certs, "ca.pem"),
      clientCertAuth: true,
      crlFile: "",
      autoTls: false,
      allowedCn: "",
      allowedHostname: "",
    },
    protocol: { cipherSuites: [], minVersion: null, maxVersion: null },
    dataDir: certs,
    hosts: [],
  });
  const backend = new LocalBackend();
  const plainServer = new EtcdApiServer({ backend });
  const tlsServer = new EtcdApiServer({ backend, tls: source });
  const plainPort = await plainServer.listen(0);
  const tlsPort = await tlsServer.listen(0);
  await warmUp(plainPort, false);
  await warmUp(tlsPort, true);
  for (const c of concurrency) await compare("in-process", plainPort, tlsPort, c);
  await plainServer.close();
  await tlsServer.close();
  backend.close();
  source.close();
}

async function oneMember(secure: boolean): Promise<{ cluster: ProcessCluster; member: ProcessMember }> {
  const tlsArgs = [
    `--cert-file=${join(certs, "member.pem")}`,
    `--key-file=${join(certs, "member-key.pem")}`,
    `--trusted-ca-file=${join(certs, "ca.pem")}`,
    "--client-cert-auth",
  ];
  const cluster = await ProcessCluster.create(
    1,
    join(process.cwd(), "dist/src/cli/main.js"),
    secure ? tlsArgs : [],
    { client: secure ? "https" : "http" },
  );
  const member = cluster.members[0] as ProcessMember;
  cluster.start(member);
  await waitFor(
    "the member to serve",
    async () => (await putRate(member.clientPort, secure, 1).catch(() => 0)) > 0,
    20_000,
  );
  return { cluster, member };
}

async function realProcess(): Promise<void> {
  const plain = await oneMember(false);
  const secure = await oneMember(true);
  try {
    await warmUp(plain.member.clientPort, false);
    await warmUp(secure.member.clientPort, true);
    for (const c of concurrency) {
      await compare("one member", plain.member.clientPort, secure.member.clientPort, c);
    }
  } finally {
    await plain.cluster.destroy();
    await secure.cluster.destroy();
  }
}

try {
  console.log(`Put (100 B value) throughput, TLS off vs on (client cert auth), ${seconds} s per point`);
  await inProcess();
  await realProcess();
} finally {
  rmSync(certs, { recursive: true, force: true });
}
