// The load generator's HTTP/2 gRPC client (bench/lib/h2client.ts) and its request templates
// (bench/lib/requests.ts): against a real one-member Synod process (unary calls, flow control in
// both directions, a watch stream, a non-OK status, connection loss) and against in-process
// node:http2 servers (padding, CONTINUATION, trailers-only, PING, small windows, the stream limit,
// RST_STREAM, GOAWAY, the call timeout).
import assert from "node:assert/strict";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { H2Connection } from "../../bench/lib/h2client.js";
import { framed, PutTemplate, TxnPutTemplate } from "../../bench/lib/requests.js";
import { ClientTimeoutError, ConnectionError, GrpcError } from "../../src/api/etcd/client/errors.js";
import { frameMessage } from "../../src/api/etcd/grpc/frames.js";
import { decodeMessage, encodeMessage, type MessageDesc } from "../../src/api/etcd/proto/codec.js";
import {
  D,
  type EventMsg,
  type KeyValueMsg,
  type RangeResponseMsg,
  type WatchResponseMsg,
} from "../../src/api/etcd/proto/messages.js";
import { ProcessCluster, type ProcessMember, waitFor } from "../../src/testing/procs.js";

const mainJs = join(process.cwd(), "dist/src/cli/main.js");
const enc = new TextEncoder();
const text = (b: Uint8Array): string => new TextDecoder().decode(b);
const put = "/etcdserverpb.KV/Put";
const range = "/etcdserverpb.KV/Range";

function decoded<T>(desc: MessageDesc, bytes: Uint8Array): T {
  const r = decodeMessage<T>(desc, bytes);
  assert.ok(r.ok, r.ok ? "" : r.reason);
  return r.value;
}

let cluster: ProcessCluster;
let member: ProcessMember;
let endpoint: string;

before(async () => {
  cluster = await ProcessCluster.create(1, mainJs);
  member = cluster.members[0] as ProcessMember;
  cluster.start(member);
  endpoint = cluster.endpoints();
  await waitFor(
    "the member to accept a put",
    async () => {
      try {
        const c = await H2Connection.connect(endpoint, { dialTimeoutMs: 500 });
        try {
          await c.unary(put, framed(D.PutRequest, { key: enc.encode("ready"), value: enc.encode("1") }));
          return true;
        } finally {
          c.close();
        }
      } catch {
        return false;
      }
    },
    20_000,
  );
});

after(async () => {
  await cluster?.destroy();
});

/** A range's key-values and count. */
async function rangeOf(
  c: H2Connection,
  key: string,
  rangeEnd = "",
): Promise<{ kvs: readonly KeyValueMsg[]; count: number }> {
  const req = framed(D.RangeRequest, { key: enc.encode(key), rangeEnd: enc.encode(rangeEnd) });
  const r = decoded<RangeResponseMsg>(D.RangeResponse, await c.unary(range, req));
  return { kvs: r.kvs ?? [], count: r.count ?? 0 };
}

test("requests: put and txn-put templates encode as the project's codec does", () => {
  // The templates write keys in place; their bytes must be those of encodeMessage for every size.
  const key = (i: number, size: number): Uint8Array => enc.encode(String(i).padStart(size, "0"));
  for (const valSize of [0, 1, 127, 128, 300, 2_000_000]) {
    const value = new Uint8Array(valSize).fill(0x61);
    for (const [i, size] of [
      [0, 1],
      [7, 8],
      [12345, 5],
      [42, 200],
    ] as const) {
      assert.deepEqual(
        new Uint8Array(new PutTemplate(size, value).request(i)),
        frameMessage(encodeMessage(D.PutRequest, { key: key(i, size), value })),
      );
    }
    const ops = 3;
    const success = [98, 99, 0].map((i) => ({ requestPut: { key: key(i, 8), value } }));
    assert.deepEqual(
      new Uint8Array(new TxnPutTemplate(8, value, ops).request(98, 100)),
      frameMessage(encodeMessage(D.TxnRequest, { compare: [], success, failure: [] })),
    );
  }
});

test("H2Connection.unary: put, txn and range round trips against a Synod member", async () => {
  // Requests reach the server intact and responses come back whole, also 200 at once on one connection.
  const c = await H2Connection.connect(endpoint);
  try {
    const value = enc.encode("value-of-sixteen");
    await c.unary(put, new PutTemplate(8, value).request(42));
    const got = await rangeOf(c, "00000042");
    assert.equal(got.kvs.length, 1);
    assert.equal(text(got.kvs[0]?.value ?? new Uint8Array()), "value-of-sixteen");
    await c.unary("/etcdserverpb.KV/Txn", new TxnPutTemplate(8, value, 3).request(98, 100));
    const keys = await rangeOf(c, "00000000", "00000100");
    assert.deepEqual(
      keys.kvs.map((kv) => text(kv.key)),
      ["00000000", "00000042", "00000098", "00000099"],
    );
    const many = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        c.unary(put, framed(D.PutRequest, { key: enc.encode(`k/${i}`), value: enc.encode(`v${i}`) })),
      ),
    );
    assert.equal(many.length, 200);
    assert.equal((await rangeOf(c, "k/", "k0")).count, 200);
    assert.equal(c.inFlight, 0);
  } finally {
    c.close();
  }
});

test("H2Connection flow control: a 1 MiB request and responses far beyond a 64 KiB receive window", async () => {
  // With the default 65,535-byte receive window the client must send WINDOW_UPDATEs as data arrives,
  // and a request larger than the server's stream window must wait for the server's updates.
  const c = await H2Connection.connect(endpoint, { receiveWindowBytes: 65_535 });
  try {
    const big = new Uint8Array(1024 * 1024);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >>> 10)) & 0xff;
    await c.unary(put, framed(D.PutRequest, { key: enc.encode("big"), value: big }));
    const got = await rangeOf(c, "big");
    assert.equal(got.kvs.length, 1);
    assert.deepEqual(got.kvs[0]?.value, big);
    const value = new Uint8Array(1000).fill(0x6d);
    await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        c.unary(put, framed(D.PutRequest, { key: enc.encode(`many/${String(i).padStart(3, "0")}`), value })),
      ),
    );
    // Two such ranges at once: both streams and the connection window are replenished.
    const [a, b] = await Promise.all([rangeOf(c, "many/", "many0"), rangeOf(c, "many/", "many0")]);
    for (const r of [a, b]) {
      assert.equal(r.kvs.length, 300);
      assert.ok(r.kvs.every((kv) => kv.value.length === 1000 && kv.value[999] === 0x6d));
    }
  } finally {
    c.close();
  }
});

test("H2Connection.stream: a Watch stream receives the events of later puts, in order", async () => {
  // A bidirectional stream carries requests and responses both ways; cancelling ends it with null.
  const c = await H2Connection.connect(endpoint);
  try {
    const responses: WatchResponseMsg[] = [];
    let ended: Error | null | undefined;
    const call = c.stream("/etcdserverpb.Watch/Watch", {
      onMessage: (m) => responses.push(decoded<WatchResponseMsg>(D.WatchResponse, m)),
      onEnd: (e) => {
        ended = e;
      },
    });
    assert.ok(call.send(framed(D.WatchRequest, { createRequest: { key: enc.encode("w") } })));
    await waitFor("the watcher", async () => responses.some((r) => r.created === true), 5000);
    for (const v of ["1", "2", "3"]) {
      await c.unary(put, framed(D.PutRequest, { key: enc.encode("w"), value: enc.encode(v) }));
    }
    const events = (): EventMsg[] => responses.flatMap((r) => r.events ?? []);
    await waitFor("three events", async () => events().length >= 3, 5000);
    assert.deepEqual(
      events().map((e) => text(e.kv?.value ?? new Uint8Array())),
      ["1", "2", "3"],
    );
    call.cancel();
    assert.equal(ended, null);
    assert.ok(call.ended);
    assert.equal(call.send(framed(D.WatchRequest, { progressRequest: {} })), false);
  } finally {
    c.close();
  }
});

test("H2Connection.unary: a non-OK grpc-status rejects with the server's code and message", async () => {
  // A range at a future revision fails with OUT_OF_RANGE and etcd's text, as the error tally counts it.
  const c = await H2Connection.connect(endpoint);
  try {
    const req = framed(D.RangeRequest, { key: enc.encode("k"), revision: 1_000_000 });
    await assert.rejects(c.unary(range, req), (e: unknown) => {
      assert.ok(e instanceof GrpcError);
      assert.equal(e.code, 11);
      assert.equal(e.details, "etcdserver: mvcc: required revision is a future revision");
      assert.equal(e.message, `${e.details} (grpc status 11, from ${endpoint})`);
      return true;
    });
    // The connection stays usable.
    assert.equal((await rangeOf(c, "w")).count, 1);
  } finally {
    c.close();
  }
});

test("H2Connection: losing the connection fails calls and streams in flight and refuses new calls", async () => {
  // The member is stopped (calls stay unanswered), then killed: everything in flight fails at once.
  const c = await H2Connection.connect(endpoint);
  try {
    let streamEnd: Error | null | undefined;
    const call = c.stream("/etcdserverpb.Watch/Watch", {
      onMessage: () => {},
      onEnd: (e) => {
        streamEnd = e;
      },
    });
    call.send(framed(D.WatchRequest, { createRequest: { key: enc.encode("w") } }));
    await c.unary(range, framed(D.RangeRequest, { key: enc.encode("w") }));
    const pid = member.proc?.pid;
    assert.ok(pid !== undefined);
    process.kill(pid, "SIGSTOP");
    const inFlight = Array.from({ length: 20 }, () =>
      c.unary(range, framed(D.RangeRequest, { key: enc.encode("w") })).then(
        () => null,
        (e: unknown) => e,
      ),
    );
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(c.inFlight, 21);
    await cluster.kill(member, "SIGKILL");
    const errors = await Promise.all(inFlight);
    for (const e of errors) {
      assert.ok(e instanceof ConnectionError, String(e));
      assert.equal(e.sent, true);
    }
    assert.ok(streamEnd instanceof ConnectionError);
    assert.equal(c.usable, false);
    await assert.rejects(c.unary(range, framed(D.RangeRequest, { key: enc.encode("w") })), (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.equal(e.sent, false);
      return true;
    });
  } finally {
    c.close();
  }
});

// ---------------------------------------------------------------------------------------------
// In-process node:http2 servers

interface TestServer {
  readonly endpoint: string;
  readonly sessions: Set<http2.ServerHttp2Session>;
  close(): Promise<void>;
}

/** An h2c server calling `handle` with each request's headers and whole body. */
async function h2Server(
  options: http2.ServerOptions,
  handle: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, body: Buffer) => void,
): Promise<TestServer> {
  const server = http2.createServer(options);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s) => {
    sessions.add(s);
    s.on("error", () => {});
    s.on("close", () => sessions.delete(s));
  });
  server.on("stream", (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on("error", () => {});
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      // A stream the client reset also ends; there is nothing to answer then.
      if (!stream.destroyed && !stream.closed) handle(stream, headers, Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `127.0.0.1:${port}`,
    sessions,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sessions) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Answers with `message` (framed), extra response headers, and grpc-status 0 in trailers. */
function reply(
  stream: http2.ServerHttp2Stream,
  message: Uint8Array,
  headers: http2.OutgoingHttpHeaders = {},
): void {
  stream.respond(
    { ":status": 200, "content-type": "application/grpc", ...headers },
    { waitForTrailers: true },
  );
  stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
  stream.end(frameMessage(message));
}

/** A request's message, without its 5-byte gRPC prefix. */
const unframe = (body: Buffer): Buffer => body.subarray(5);

test("H2Connection against node:http2: padding, CONTINUATION, trailers-only answers, PING and small windows", async () => {
  // nghttp2 pads every frame (PADDING_STRATEGY_MAX), splits a 40 KB header block into HEADERS and
  // CONTINUATION, Huffman-codes and indexes headers, and grants 1000-byte stream windows: all read right.
  const big = "x".repeat(40_000);
  const srv = await h2Server(
    { paddingStrategy: http2.constants.PADDING_STRATEGY_MAX, settings: { initialWindowSize: 1000 } },
    (stream, headers, body) => {
      const what = unframe(body).toString();
      if (what === "not-found") {
        stream.respond(
          {
            ":status": 200,
            "content-type": "application/grpc",
            "grpc-status": "5",
            "grpc-message": "key %22k%22 not found",
          },
          { endStream: true },
        );
      } else if (what === "big-header") reply(stream, enc.encode("ok"), { "x-big": big });
      else if (what === "http-503") {
        stream.respond({ ":status": 503 }, { endStream: true });
      } else reply(stream, Buffer.concat([Buffer.from(`${headers[":path"]}:`), unframe(body)]));
    },
  );
  const c = await H2Connection.connect(srv.endpoint);
  try {
    const echo = await c.unary("/e.S/Echo", frameMessage(enc.encode("hello")));
    assert.equal(text(echo), "/e.S/Echo:hello");
    const large = new Uint8Array(100_000).fill(0x41);
    const echoed = await c.unary("/e.S/Echo", frameMessage(large));
    assert.equal(echoed.length, "/e.S/Echo:".length + large.length);
    assert.equal(text(await c.unary("/e.S/Echo", frameMessage(enc.encode("big-header")))), "ok");
    await assert.rejects(c.unary("/e.S/Echo", frameMessage(enc.encode("not-found"))), (e: unknown) => {
      assert.ok(e instanceof GrpcError);
      assert.equal(e.code, 5);
      assert.equal(e.details, 'key "k" not found');
      return true;
    });
    await assert.rejects(c.unary("/e.S/Echo", frameMessage(enc.encode("http-503"))), (e: unknown) => {
      assert.ok(e instanceof GrpcError);
      assert.equal(e.code, 14);
      return true;
    });
    const session = [...srv.sessions][0] as http2.ServerHttp2Session;
    const pinged = await new Promise<boolean>((r) => session.ping((err) => r(err === null)));
    assert.ok(pinged);
    // Header blocks after the big one still decode (the HPACK table stayed in step).
    const all = await Promise.all(
      Array.from({ length: 50 }, (_, i) => c.unary(`/e.S/M${i % 5}`, frameMessage(enc.encode(String(i))))),
    );
    assert.deepEqual(
      all.map(text),
      Array.from({ length: 50 }, (_, i) => `/e.S/M${i % 5}:${i}`),
    );
  } finally {
    c.close();
    await srv.close();
  }
});

test("H2Connection against node:http2: calls beyond SETTINGS_MAX_CONCURRENT_STREAMS wait their turn", async () => {
  // The server allows 2 streams at a time; 12 calls all succeed and never more than 2 are open.
  let open = 0;
  let most = 0;
  const srv = await h2Server({ settings: { maxConcurrentStreams: 2 } }, (stream, _h, body) => {
    open++;
    most = Math.max(most, open);
    stream.on("close", () => open--);
    setTimeout(() => reply(stream, unframe(body)), 5);
  });
  const c = await H2Connection.connect(srv.endpoint);
  try {
    const out = await Promise.all(
      Array.from({ length: 12 }, (_, i) => c.unary("/e.S/Echo", frameMessage(enc.encode(`${i}`)))),
    );
    assert.deepEqual(
      out.map(text),
      Array.from({ length: 12 }, (_, i) => `${i}`),
    );
    assert.ok(most <= 2, `at most 2 streams open, saw ${most}`);
  } finally {
    c.close();
    await srv.close();
  }
});

test("H2Connection against node:http2: a call waiting for a stream slot times out, and runs once one frees", async () => {
  // One stream allowed and held by an open bidirectional stream: a unary call waits, then times out.
  const srv = await h2Server({ settings: { maxConcurrentStreams: 1 } }, (stream, _h, body) =>
    reply(stream, unframe(body)),
  );
  const c = await H2Connection.connect(srv.endpoint, { timeoutMs: 80 });
  try {
    let ended: Error | null | undefined;
    const call = c.stream("/e.S/Hold", {
      onMessage: () => {},
      onEnd: (e) => {
        ended = e;
      },
    });
    await assert.rejects(c.unary("/e.S/Echo", frameMessage(enc.encode("x"))), (e: unknown) => {
      assert.ok(e instanceof ClientTimeoutError);
      return true;
    });
    assert.equal(ended, undefined);
    call.cancel();
    assert.equal(text(await c.unary("/e.S/Echo", frameMessage(enc.encode("y")))), "y");
  } finally {
    c.close();
    await srv.close();
  }
});

test("H2Connection against node:http2: RST_STREAM, GOAWAY, a lost connection and the timeout fail calls", async () => {
  // Each failure reaches the caller as the etcd client's error types, with what happened.
  const held: http2.ServerHttp2Stream[] = [];
  const srv = await h2Server({}, (stream, _h, body) => {
    const what = unframe(body).toString();
    if (what === "reset") stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    else if (what === "hold") held.push(stream);
    else reply(stream, enc.encode(what));
  });
  try {
    const c = await H2Connection.connect(srv.endpoint, { timeoutMs: 80 });
    await assert.rejects(c.unary("/e.S/M", frameMessage(enc.encode("reset"))), (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.match(e.message, /stream reset \(HTTP\/2 code 7\)/);
      return true;
    });
    const t0 = performance.now();
    await assert.rejects(c.unary("/e.S/M", frameMessage(enc.encode("hold"))), (e: unknown) => {
      assert.ok(e instanceof ClientTimeoutError);
      assert.equal(e.message, `/e.S/M to ${srv.endpoint} got no answer within 80 ms`);
      return true;
    });
    const waited = performance.now() - t0;
    assert.ok(waited >= 80 && waited < 400, `timed out after ${waited} ms`);
    c.close();

    // GOAWAY: the held call (stream 1, at or below last-stream-id) completes; later calls are refused.
    const g = await H2Connection.connect(srv.endpoint, { timeoutMs: 0 });
    const first = g.unary("/e.S/M", frameMessage(enc.encode("hold")));
    await waitFor("the held call", async () => held.length === 2, 2000);
    const session = [...srv.sessions].at(-1) as http2.ServerHttp2Session;
    session.goaway(http2.constants.NGHTTP2_NO_ERROR, 1);
    await waitFor("GOAWAY to arrive", async () => !g.usable, 2000);
    await assert.rejects(g.unary("/e.S/M", frameMessage(enc.encode("late"))), (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.equal(e.sent, false);
      assert.match(e.message, /GOAWAY \(HTTP\/2 code 0\)/);
      return true;
    });
    reply(held[1] as http2.ServerHttp2Stream, enc.encode("done"));
    assert.equal(text(await first), "done");

    // A lost connection: the call in flight fails with sent = true.
    const l = await H2Connection.connect(srv.endpoint, { timeoutMs: 0 });
    const pending = l.unary("/e.S/M", frameMessage(enc.encode("hold")));
    await waitFor("the held call", async () => held.length === 3, 2000);
    for (const s of srv.sessions) s.destroy();
    await assert.rejects(pending, (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.equal(e.sent, true);
      return true;
    });
    l.close();
    g.close();
  } finally {
    await srv.close();
  }
});
