// Build, then `node dist/bench/secure.js` (or `npm run bench:secure`): Put throughput of a
// three-member cluster with everything off (plain HTTP/2, no auth) against one with TLS on both
// sides (client certificate auth, mutual peer TLS) and etcd auth enabled (a non-root user's token on
// every request, a key-range permission check on every Put). Real processes on loopback, the same
// flags otherwise; rounds alternate between the clusters so load on the machine affects both alike.
// Environment: BENCH_SECONDS per round (default 3), BENCH_ROUNDS (default 3), BENCH_INFLIGHT
// concurrent unary Puts on one connection (default 64).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeMessage, encodeMessage } from "../src/api/etcd/proto/codec.js";
import { D } from "../src/api/etcd/proto/messages.js";
import { etcdctl, ProcessCluster, type ProcessMember, waitFor } from "../src/testing/procs.js";
import { closedLoopRate, rawUnary, rawUnaryOk } from "./lib/rawgrpc.js";

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const inflight = Number(process.env.BENCH_INFLIGHT ?? 64);
const enc = new TextEncoder();
const certs = mkdtempSync(join(tmpdir(), "synod-bench-secure-"));
execFileSync(process.execPath, [join(process.cwd(), "scripts/certs.mjs"), certs], { stdio: "ignore" });
const pemPath = (n: string): string => join(certs, `${n}.pem`);
const pem = (n: string): Buffer => readFileSync(pemPath(n));

interface Target {
  readonly cluster: ProcessCluster;
  readonly member: ProcessMember;
  readonly secure: boolean;
  token: string | null;
}

function connect(t: Target): http2.ClientHttp2Session {
  const url = `${t.secure ? "https" : "http"}://127.0.0.1:${t.member.clientPort}`;
  const s = t.secure
    ? http2.connect(url, { ca: pem("ca"), cert: pem("root"), key: pem("root-key") })
    : http2.connect(url);
  s.on("error", () => {});
  return s;
}

const tokenHeader = (t: Target): Record<string, string> => (t.token === null ? {} : { token: t.token });

/** Puts per second for one round. */
async function putRate(t: Target): Promise<number> {
  const s = connect(t);
  const value = new Uint8Array(100);
  const rate = await closedLoopRate(inflight, seconds, async (w, i) => {
    const body = encodeMessage(D.PutRequest, { key: enc.encode(`/app/bench/${w}/${i % 1000}`), value });
    await rawUnaryOk(s, "/etcdserverpb.KV/Put", body, tokenHeader(t));
  });
  s.close();
  return rate;
}

async function startCluster(secure: boolean): Promise<Target> {
  const tlsArgs = [
    `--cert-file=${pemPath("member")}`,
    `--key-file=${pemPath("member-key")}`,
    `--trusted-ca-file=${pemPath("ca")}`,
    "--client-cert-auth",
    `--peer-cert-file=${pemPath("member")}`,
    `--peer-key-file=${pemPath("member-key")}`,
    `--peer-trusted-ca-file=${pemPath("ca")}`,
    "--peer-client-cert-auth",
  ];
  const args = ["--heartbeat-interval=100", "--election-timeout=1000", "--bcrypt-cost=4"];
  const cluster = await ProcessCluster.create(
    3,
    join(process.cwd(), "dist/src/cli/main.js"),
    secure ? [...args, ...tlsArgs] : args,
    secure ? { client: "https", peer: "https" } : {},
  );
  for (const m of cluster.members) cluster.start(m);
  const member = cluster.members[0] as ProcessMember;
  const t: Target = { cluster, member, secure, token: null };
  await waitFor(
    "the cluster to serve",
    async () => {
      const s = connect(t);
      try {
        const body = encodeMessage(D.PutRequest, { key: enc.encode("/ready"), value: new Uint8Array(1) });
        return (await rawUnary(s, "/etcdserverpb.KV/Put", body)).status === 0;
      } catch {
        return false;
      } finally {
        s.close();
      }
    },
    30_000,
  );
  if (secure) await enableAuth(t);
  return t;
}

/** Root, and a writer with readwrite on /app/, through etcdctl over TLS; auth on; the writer's token. */
async function enableAuth(t: Target): Promise<void> {
  const tlsFlags = [`--cacert=${pemPath("ca")}`, `--cert=${pemPath("root")}`, `--key=${pemPath("root-key")}`];
  const ep = `https://127.0.0.1:${t.member.clientPort}`;
  for (const args of [
    ["user", "add", "root:rootpw"],
    ["user", "grant-role", "root", "root"],
    ["role", "add", "app"],
    ["role", "grant-permission", "app", "readwrite", "/app/", "--prefix"],
    ["user", "add", "writer:wpw"],
    ["user", "grant-role", "writer", "app"],
    ["auth", "enable"],
  ]) {
    const r = await etcdctl(ep, [...tlsFlags, ...args], "10s");
    if (r.code !== 0) throw new Error(`etcdctl ${args.join(" ")}: ${r.stderr}`);
  }
  const s = connect(t);
  try {
    const body = encodeMessage(D.AuthenticateRequest, { name: "writer", password: "wpw" });
    const r = await rawUnaryOk(s, "/etcdserverpb.Auth/Authenticate", body);
    const decoded = decodeMessage<{ token: string }>(D.AuthenticateResponse, r.data.subarray(5));
    if (!decoded.ok) throw new Error(`Authenticate: ${decoded.reason}`);
    t.token = decoded.value.token;
  } finally {
    s.close();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

let plain: Target | null = null;
let secure: Target | null = null;
try {
  plain = await startCluster(false);
  secure = await startCluster(true);
  const off: number[] = [];
  const on: number[] = [];
  await putRate(plain);
  await putRate(secure);
  for (let r = 0; r < rounds; r++) {
    off.push(await putRate(plain));
    on.push(await putRate(secure));
  }
  const fmt = (xs: number[]): string => xs.map((x) => x.toFixed(0)).join(", ");
  console.log(
    `3-member cluster, ${inflight} concurrent Puts of 100 B on one connection to one member, ${seconds} s rounds:`,
  );
  console.log(`  TLS + auth off: median ${median(off).toFixed(0)} puts/s   rounds [${fmt(off)}]`);
  console.log(`  TLS + auth on:  median ${median(on).toFixed(0)} puts/s   rounds [${fmt(on)}]`);
  console.log(`  on/off ratio:   ${(median(on) / median(off)).toFixed(2)}`);
} finally {
  await plain?.cluster.destroy();
  await secure?.cluster.destroy();
  rmSync(certs, { recursive: true, force: true });
}
