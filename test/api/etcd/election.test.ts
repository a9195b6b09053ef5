// etcd's Election service (v3electionpb.Election) over raw gRPC against an in-process server.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import { join } from "node:path";
import { test } from "node:test";
import { frameMessage } from "../../../src/api/etcd/grpc/frames.js";
import { GrpcStatus } from "../../../src/api/etcd/grpc/status.js";
import {
  decodeMessage,
  encodeMessage,
  isMessageType,
  type MessageDesc,
} from "../../../src/api/etcd/proto/codec.js";
import {
  type CampaignResponseMsg,
  ElectionD,
  type LeaderKeyMsg,
  type LeaderResponseMsg,
} from "../../../src/api/etcd/proto/messages.js";
import { b, type RawCall, rawGrpc, startServer, type TestServer, waitFor } from "./helpers.js";

const dec = new TextDecoder();
const svc = "/v3electionpb.Election";

function decode<T>(desc: MessageDesc, bytes: Uint8Array | undefined): T {
  const r = decodeMessage<T>(desc, bytes ?? new Uint8Array(0));
  assert.ok(r.ok);
  return r.value;
}

function campaign(
  s: TestServer,
  name: string,
  lease: number,
  value: string,
  headers: Record<string, string> = {},
): Promise<RawCall> {
  const req = encodeMessage(ElectionD.CampaignRequest, { name: b(name), lease, value: b(value) });
  return rawGrpc(s.port, `${svc}/Campaign`, req, { headers });
}

function leaderOf(call: RawCall): CampaignResponseMsg {
  assert.equal(call.grpcStatus, GrpcStatus.ok, call.grpcMessage);
  return decode<CampaignResponseMsg>(ElectionD.CampaignResponse, call.messages[0]);
}

function proclaim(s: TestServer, leader: LeaderKeyMsg | null, value: string): Promise<RawCall> {
  const req = encodeMessage(ElectionD.ProclaimRequest, { leader, value: b(value) });
  return rawGrpc(s.port, `${svc}/Proclaim`, req);
}

function resign(s: TestServer, leader: LeaderKeyMsg | null): Promise<RawCall> {
  return rawGrpc(s.port, `${svc}/Resign`, encodeMessage(ElectionD.ResignRequest, { leader }));
}

function leader(s: TestServer, name: string): Promise<RawCall> {
  return rawGrpc(s.port, `${svc}/Leader`, encodeMessage(ElectionD.LeaderRequest, { name: b(name) }));
}

async function leaderValue(s: TestServer, name: string): Promise<string> {
  const call = await leader(s, name);
  assert.equal(call.grpcStatus, GrpcStatus.ok, call.grpcMessage);
  return dec.decode(decode<LeaderResponseMsg>(ElectionD.LeaderResponse, call.messages[0]).kv.value);
}

async function grant(s: TestServer, ttl = 60): Promise<number> {
  const r = await s.backend.leaseGrant({ id: 0, ttl });
  assert.ok(r.ok);
  return r.value.id;
}

async function keysUnder(s: TestServer, prefix: string): Promise<string[]> {
  const r = await s.backend.range({ key: b(prefix), rangeEnd: b(`${prefix}\xff`) }, { serializable: true });
  assert.ok(r.ok);
  return r.value.kvs.map((kv) => dec.decode(kv.key));
}

/** Tracks whether a pending call has finished. */
function track<T>(p: Promise<T>): { readonly promise: Promise<T>; done(): boolean } {
  let finished = false;
  const promise = p.then((v) => {
    finished = true;
    return v;
  });
  return { promise, done: () => finished };
}

/** An Observe stream read message by message. */
class ObserveStream {
  readonly values: string[] = [];
  readonly responses: LeaderResponseMsg[] = [];
  status = -1;
  readonly #session: http2.ClientHttp2Session;
  readonly #req: http2.ClientHttp2Stream;
  #buf = Buffer.alloc(0);

  constructor(port: number, name: string) {
    this.#session = http2.connect(`http://127.0.0.1:${port}`);
    this.#session.on("error", () => undefined);
    this.#req = this.#session.request({
      ":method": "POST",
      ":path": `${svc}/Observe`,
      "content-type": "application/grpc",
      te: "trailers",
    });
    this.#req.on("error", () => undefined);
    this.#req.on("trailers", (h) => {
      this.status = Number(h["grpc-status"]);
    });
    this.#req.on("data", (c: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, c]);
      while (this.#buf.length >= 5) {
        const n = this.#buf.readUInt32BE(1);
        if (this.#buf.length < 5 + n) break;
        const r = decode<LeaderResponseMsg>(
          ElectionD.LeaderResponse,
          new Uint8Array(this.#buf.subarray(5, 5 + n)),
        );
        this.responses.push(r);
        this.values.push(dec.decode(r.kv.value));
        this.#buf = this.#buf.subarray(5 + n);
      }
    });
    this.#req.end(frameMessage(encodeMessage(ElectionD.LeaderRequest, { name: b(name) })));
  }

  async waitValues(n: number): Promise<void> {
    await waitFor(
      () => this.values.length >= n,
      3000,
      `${n} observed values (have ${this.values.join(",")})`,
    );
  }

  close(): void {
    this.#req.close(http2.constants.NGHTTP2_CANCEL);
    this.#session.close();
  }
}

test("election: a second campaigner waits until the leader resigns, then leads with its own value", async () => {
  // Proves Campaign's queue discipline (key name/<lease hex>, the lowest create revision leads,
  // header revisions in campaign order) and that Resign hands leadership over.
  const s = await startServer();
  try {
    const [la, lb] = [await grant(s), await grant(s)];
    const a = leaderOf(await campaign(s, "e/x", la, "abc"));
    assert.equal(dec.decode(a.leader.key), `e/x/${la.toString(16)}`);
    assert.equal(dec.decode(a.leader.name), "e/x");
    assert.equal(a.leader.lease, la);
    assert.equal(a.leader.rev, a.header.revision);
    const bCall = track(campaign(s, "e/x", lb, "def"));
    await waitFor(() => s.backend.store.watchHub.watcherCount === 1, 2000, "the campaigner to watch");
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(bCall.done(), false);
    assert.equal(await leaderValue(s, "e/x"), "abc");
    const r = await resign(s, a.leader);
    assert.equal(r.grpcStatus, GrpcStatus.ok, r.grpcMessage);
    const bl = leaderOf(await bCall.promise);
    assert.equal(dec.decode(bl.leader.key), `e/x/${lb.toString(16)}`);
    assert.ok(a.header.revision < bl.header.revision);
    assert.equal(await leaderValue(s, "e/x"), "def");
    assert.deepEqual(await keysUnder(s, "e/x/"), [`e/x/${lb.toString(16)}`]);
    assert.equal(s.backend.store.watchHub.watcherCount, 0);
  } finally {
    await s.close();
  }
});

test("election: a waiter watches every lower key; one whose own key is gone is told by Proclaim", async () => {
  // Proves that when the middle campaigner's lease is revoked, the third still waits for the
  // leader; after the leader resigns the third leads. As in etcd, the middle one's Campaign also
  // returns (it does not re-read its own key), and its Proclaim then fails with "not leader".
  const s = await startServer();
  try {
    const [la, lb, lc] = [await grant(s), await grant(s), await grant(s)];
    const a = leaderOf(await campaign(s, "e/o", la, "a"));
    const bCall = track(campaign(s, "e/o", lb, "b"));
    await waitFor(() => s.backend.store.watchHub.watcherCount === 1, 2000, "b to watch");
    const cCall = track(campaign(s, "e/o", lc, "c"));
    await waitFor(() => s.backend.store.watchHub.watcherCount === 2, 2000, "c to watch");
    assert.ok((await s.backend.leaseRevoke(lb)).ok);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual([bCall.done(), cCall.done()], [false, false], "both still wait for a");
    assert.equal(await leaderValue(s, "e/o"), "a");
    assert.equal((await resign(s, a.leader)).grpcStatus, GrpcStatus.ok);
    const cl = leaderOf(await cCall.promise);
    assert.equal(dec.decode(cl.leader.key), `e/o/${lc.toString(16)}`);
    assert.equal(await leaderValue(s, "e/o"), "c");
    const bl = leaderOf(await bCall.promise);
    const stale = await proclaim(s, bl.leader, "b2");
    assert.deepEqual([stale.grpcStatus, stale.grpcMessage], [GrpcStatus.unknown, "election: not leader"]);
    assert.equal(await leaderValue(s, "e/o"), "c");
  } finally {
    await s.close();
  }
});

test("election: proclaim updates the leader's value; a non-leader's proclaim fails with etcd's text", async () => {
  // Proves Proclaim's create-revision guard and etcd's plain errors (gRPC UNKNOWN): not leader
  // (wrong rev, resigned), missing leader field; Resign by a non-leader succeeds and changes nothing.
  const s = await startServer();
  try {
    const la = await grant(s);
    const a = leaderOf(await campaign(s, "e/p", la, "v1"));
    const ok = await proclaim(s, a.leader, "v2");
    assert.equal(ok.grpcStatus, GrpcStatus.ok, ok.grpcMessage);
    assert.equal(await leaderValue(s, "e/p"), "v2");
    const wrongRev = await proclaim(s, { ...a.leader, rev: a.leader.rev + 1 }, "v3");
    assert.deepEqual(
      [wrongRev.grpcStatus, wrongRev.grpcMessage],
      [GrpcStatus.unknown, "election: not leader"],
    );
    assert.equal(await leaderValue(s, "e/p"), "v2");
    const notMine = await resign(s, { ...a.leader, rev: a.leader.rev + 1 });
    assert.equal(notMine.grpcStatus, GrpcStatus.ok, notMine.grpcMessage);
    assert.equal(await leaderValue(s, "e/p"), "v2");
    const missing = await proclaim(s, null, "x");
    assert.deepEqual(
      [missing.grpcStatus, missing.grpcMessage],
      [GrpcStatus.unknown, '"leader" field must be provided'],
    );
    const missingResign = await resign(s, null);
    assert.deepEqual(
      [missingResign.grpcStatus, missingResign.grpcMessage],
      [GrpcStatus.unknown, '"leader" field must be provided'],
    );
    assert.equal((await resign(s, a.leader)).grpcStatus, GrpcStatus.ok);
    const after = await proclaim(s, a.leader, "v4");
    assert.deepEqual([after.grpcStatus, after.grpcMessage], [GrpcStatus.unknown, "election: not leader"]);
    const none = await leader(s, "e/p");
    assert.deepEqual([none.grpcStatus, none.grpcMessage], [GrpcStatus.unknown, "election: no leader"]);
  } finally {
    await s.close();
  }
});

test("election: campaigning again with the same lease resumes the candidacy and proclaims a new value", async () => {
  // Proves the existing-key branch of Campaign: same key and rev, value replaced.
  const s = await startServer();
  try {
    const la = await grant(s);
    const first = leaderOf(await campaign(s, "e/r", la, "one"));
    const again = leaderOf(await campaign(s, "e/r", la, "two"));
    assert.deepEqual(again.leader, first.leader);
    assert.equal(await leaderValue(s, "e/r"), "two");
    assert.deepEqual(await keysUnder(s, "e/r/"), [`e/r/${la.toString(16)}`]);
  } finally {
    await s.close();
  }
});

test("election: lease 0 grants a 60 s lease; an unknown lease fails as a plain error", async () => {
  // Proves the session rule (lease 0 → fresh 60 s lease) and that KV failures reach the caller
  // as etcd's election server returns them: gRPC UNKNOWN with the etcd message.
  const s = await startServer();
  try {
    const l = leaderOf(await campaign(s, "e/z", 0, "v"));
    assert.notEqual(l.leader.lease, 0);
    const ttl = await s.backend.leaseTimeToLive(l.leader.lease, true);
    assert.ok(ttl.ok);
    assert.equal(ttl.value.grantedTtl, 60);
    assert.deepEqual(
      ttl.value.keys.map((k) => dec.decode(k)),
      [`e/z/${l.leader.lease.toString(16)}`],
    );
    const bad = await campaign(s, "e/z", 424242, "v");
    assert.deepEqual(
      [bad.grpcStatus, bad.grpcMessage],
      [GrpcStatus.unknown, "etcdserver: requested lease not found"],
    );
  } finally {
    await s.close();
  }
});

test("election: a campaigner that gives up withdraws its key", async () => {
  // Proves cleanup when the caller's deadline passes while waiting (etcd resigns on ctx done).
  const s = await startServer();
  try {
    const [la, lb] = [await grant(s), await grant(s)];
    const a = leaderOf(await campaign(s, "e/d", la, "a"));
    const timedOut = await campaign(s, "e/d", lb, "b", { "grpc-timeout": "100m" });
    assert.equal(timedOut.grpcStatus, GrpcStatus.deadlineExceeded);
    await waitFor(() => s.backend.store.watchHub.watcherCount === 0, 2000, "the watcher to go");
    await waitFor(() => s.backend.store.currentRevision > a.header.revision + 1, 2000, "the withdrawal");
    assert.deepEqual(await keysUnder(s, "e/d/"), [dec.decode(a.leader.key)]);
  } finally {
    await s.close();
  }
});

test("election: when the leader's lease expires, the next campaigner leads", async () => {
  // Proves lease-based failover: expiry deletes the leader's key and wakes the waiter.
  let now = 0;
  const s = await startServer({ timers: false, nowMs: () => now });
  try {
    const la = await grant(s, 5);
    const lb = await grant(s, 60);
    assert.equal(s.backend.expireLeases(), 0); // the leader's expiry clock starts at the grant
    leaderOf(await campaign(s, "e/l", la, "a"));
    const bCall = track(campaign(s, "e/l", lb, "b"));
    await waitFor(() => s.backend.store.watchHub.watcherCount === 1, 2000, "b to watch");
    now = 4_000;
    assert.equal(s.backend.expireLeases(), 0);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(bCall.done(), false);
    now = 6_000;
    assert.equal(s.backend.expireLeases(), 1);
    const bl = leaderOf(await bCall.promise);
    assert.equal(bl.leader.lease, lb);
    assert.equal(await leaderValue(s, "e/l"), "b");
  } finally {
    await s.close();
  }
});

test("election: observe streams the current leader, its proclamations and each new leader", async () => {
  // Proves Observe: waits while there is no leader, then reports the leader, every proclaimed
  // value in order, and the next leader after a resign; a canceled stream leaves no watcher.
  const s = await startServer();
  const obs = new ObserveStream(s.port, "e/w");
  try {
    await waitFor(() => s.backend.store.watchHub.watcherCount === 1, 2000, "observe to watch");
    const [la, lb] = [await grant(s), await grant(s)];
    const a = leaderOf(await campaign(s, "e/w", la, "0"));
    await obs.waitValues(1);
    for (let i = 1; i < 4; i++)
      assert.equal((await proclaim(s, a.leader, String(i))).grpcStatus, GrpcStatus.ok);
    await obs.waitValues(4);
    const bCall = campaign(s, "e/w", lb, "5");
    await waitFor(() => s.backend.store.watchHub.watcherCount === 2, 2000, "b to watch");
    assert.equal((await resign(s, a.leader)).grpcStatus, GrpcStatus.ok);
    const bl = leaderOf(await bCall);
    assert.equal((await proclaim(s, bl.leader, "6")).grpcStatus, GrpcStatus.ok);
    await obs.waitValues(6);
    assert.deepEqual(obs.values, ["0", "1", "2", "3", "5", "6"]);
    assert.equal(dec.decode(obs.responses[0]?.kv.key ?? new Uint8Array(0)), dec.decode(a.leader.key));
    assert.equal(dec.decode(obs.responses[4]?.kv.key ?? new Uint8Array(0)), dec.decode(bl.leader.key));
    assert.equal(obs.responses[5]?.header.revision, obs.responses[5]?.kv.modRevision);
    obs.close();
    await waitFor(() => s.backend.store.watchHub.watcherCount === 0, 2000, "observe to stop watching");
    // A fresh observer starts from the current leader at once.
    const obs2 = new ObserveStream(s.port, "e/w");
    try {
      await obs2.waitValues(1);
      assert.deepEqual(obs2.values, ["6"]);
    } finally {
      obs2.close();
    }
  } finally {
    obs.close();
    await s.close();
  }
});

test("election: the JSON gateway serves campaign and leader", async () => {
  // Proves the /v3/election/* paths reach the service with etcd's JSON shapes.
  const s = await startServer();
  try {
    const post = async (
      path: string,
      body: object,
    ): Promise<{ status: number; json: Record<string, unknown> }> => {
      const r = await fetch(`http://${s.endpoint}${path}`, { method: "POST", body: JSON.stringify(body) });
      return { status: r.status, json: (await r.json()) as Record<string, unknown> };
    };
    const b64 = (t: string): string => Buffer.from(t).toString("base64");
    const lease = await grant(s);
    const c = await post("/v3/election/campaign", {
      name: b64("e/g"),
      lease: String(lease),
      value: b64("hi"),
    });
    assert.equal(c.status, 200);
    const l = c.json.leader as Record<string, unknown>;
    assert.equal(l.key, b64(`e/g/${lease.toString(16)}`));
    assert.equal(l.lease, String(lease));
    const g = await post("/v3/election/leader", { name: b64("e/g") });
    assert.equal(g.status, 200);
    assert.equal((g.json.kv as Record<string, unknown>).value, b64("hi"));
    const none = await post("/v3/election/leader", { name: b64("e/none") });
    assert.deepEqual([none.status, none.json.code, none.json.message], [500, 2, "election: no leader"]);
  } finally {
    await s.close();
  }
});

test("election: descriptors match v3election.proto field by field", () => {
  // Proves the codec's Election messages carry the .proto file's numbers, names and types.
  const text = readFileSync(join(process.cwd(), "src/api/etcd/proto/v3election.proto"), "utf8");
  const parsed = new Map<string, string[]>();
  let current: string[] | null = null;
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\/\/.*$/, "").trim();
    const msg = /^message (\w+) \{$/.exec(line);
    if (msg !== null) {
      current = [];
      parsed.set(`v3electionpb.${msg[1]}`, current);
    }
    const field = /^([\w.]+) (\w+) = (\d+);$/.exec(line);
    if (field !== null && current !== null)
      current.push(`${field[3]} ${field[2]} ${field[1]?.split(".").at(-1)}`);
  }
  for (const desc of Object.values(ElectionD)) {
    const fields = desc.fields.map((f) => {
      const t = f.type;
      return `${f.no} ${f.name} ${isMessageType(t) ? t().name.split(".").at(-1) : String(t)}`;
    });
    assert.deepEqual(fields, parsed.get(desc.name), desc.name);
  }
  assert.equal(Object.keys(ElectionD).length, parsed.size);
});
