// Synod's own HTTP/2 server (src/api/etcd/grpc/h2.ts under grpc/server.ts), frame by frame with a
// raw client on a real socket, and with node:http2's client: flow control both ways, padding,
// CONTINUATION, SETTINGS/PING/GOAWAY/RST_STREAM, malformed requests and connection errors.
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import { test } from "node:test";
import { FrameParser, frameMessage } from "../../../src/api/etcd/grpc/frames.js";
import {
  defaultMaxFrameBytes,
  encodeFrame,
  Flag,
  FrameType,
  H2Error,
  http2Preface,
  requestHeaders,
  Setting,
} from "../../../src/api/etcd/grpc/h2.js";
import { encodeLiterals, type HeaderField, HpackDecoder } from "../../../src/api/etcd/grpc/hpack.js";
import {
  bidiStream,
  type CallContext,
  GrpcServer,
  serverStream,
  unary,
} from "../../../src/api/etcd/grpc/server.js";
import { GrpcStatus } from "../../../src/api/etcd/grpc/status.js";
import { type MessageDesc, message } from "../../../src/api/etcd/proto/codec.js";

/** A message with one bytes field: the echo service's request and response. */
const Blob: MessageDesc = message("test.Blob", [[1, "data", "bytes"]]);
interface BlobMsg {
  data: Uint8Array;
}

const enc = new TextEncoder();
const latin1 = (b: Uint8Array): string => Buffer.from(b).toString("latin1");

/** A GrpcServer on a TCP port with an echo, a counter stream and a bidi echo. */
async function startEcho(): Promise<{
  port: number;
  server: GrpcServer;
  streamAborts: unknown[];
  sent: { count: number; started: number };
  close(): Promise<void>;
}> {
  const server = new GrpcServer({ receiveMessageBytesMax: 8 * 1024 * 1024 });
  const streamAborts: unknown[] = [];
  const sent = { count: 0, started: 0 };
  server.register(
    "/test.Echo/Unary",
    unary<BlobMsg, BlobMsg>(Blob, Blob, async (req) => ({ data: req.data })),
  );
  server.register(
    "/test.Echo/Big",
    unary<BlobMsg, BlobMsg>(Blob, Blob, async (req) => ({
      data: new Uint8Array(Number(latin1(req.data))).fill(7),
    })),
  );
  server.register(
    "/test.Echo/Count",
    serverStream<BlobMsg, BlobMsg>(Blob, Blob, async (req, ctx: CallContext, send) => {
      ctx.signal.addEventListener("abort", () => streamAborts.push(ctx.signal.reason));
      sent.started++;
      const n = Number(latin1(req.data));
      for (let i = 0; i < n && !ctx.signal.aborted; i++) {
        await send({ data: new Uint8Array(1000).fill(i & 0xff) });
        sent.count++;
      }
      if (n === 0) await new Promise<void>((r) => ctx.signal.addEventListener("abort", () => r()));
    }),
  );
  server.register(
    "/test.Echo/Bidi",
    bidiStream<BlobMsg, BlobMsg>(Blob, Blob, async (call) => {
      for await (const req of call.requests) await call.send({ data: req.data });
    }),
  );
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    server.handleConnection(socket);
  });
  await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
  const port = (tcp.address() as net.AddressInfo).port;
  return {
    port,
    server,
    streamAborts,
    sent,
    async close() {
      await server.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => tcp.close(() => r()));
    },
  };
}

interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Uint8Array;
}

/** A client speaking raw frames; it does no flow control of its own unless told to. */
class RawClient {
  readonly socket: net.Socket;
  readonly frames: Frame[] = [];
  readonly decoder = new HpackDecoder();
  #buf = new Uint8Array(0);
  #waiters: (() => void)[] = [];
  closed = false;

  constructor(port: number) {
    this.socket = net.connect(port, "127.0.0.1");
    this.socket.on("data", (chunk: Buffer) => {
      const joined = new Uint8Array(this.#buf.length + chunk.length);
      joined.set(this.#buf);
      joined.set(chunk, this.#buf.length);
      let at = 0;
      while (joined.length - at >= 9) {
        const len =
          ((joined[at] as number) << 16) | ((joined[at + 1] as number) << 8) | (joined[at + 2] as number);
        if (joined.length - at < 9 + len) break;
        this.frames.push({
          type: joined[at + 3] as number,
          flags: joined[at + 4] as number,
          streamId: Buffer.from(joined.subarray(at + 5, at + 9)).readUInt32BE(0) & 0x7fffffff,
          payload: joined.slice(at + 9, at + 9 + len),
        });
        at += 9 + len;
      }
      this.#buf = joined.slice(at);
      this.#wake();
    });
    this.socket.on("close", () => {
      this.closed = true;
      this.#wake();
    });
    this.socket.on("error", () => {});
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Preface and a SETTINGS frame with `settings`. */
  start(settings: readonly [number, number][] = []): void {
    const payload = Buffer.alloc(settings.length * 6);
    settings.forEach(([id, v], i) => {
      payload.writeUInt16BE(id, i * 6);
      payload.writeUInt32BE(v, i * 6 + 2);
    });
    this.send(http2Preface, encodeFrame(FrameType.settings, 0, 0, payload));
  }

  send(...parts: Uint8Array[]): void {
    for (const p of parts) this.socket.write(p);
  }

  /** Waits until a frame matching `pred` has arrived (or the socket closed); returns it. */
  async waitFrame(pred: (f: Frame) => boolean, what: string, timeoutMs = 5000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = this.frames.find(pred);
      if (f !== undefined) return f;
      if (this.closed) throw new Error(`connection closed before ${what}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  /** Header fields of `f` (HEADERS), decoded in arrival order with the connection's decoder. */
  headersOf(f: Frame): Record<string, string> {
    const out: Record<string, string> = {};
    for (const h of this.decoder.decode(f.payload)) out[latin1(h.name)] = latin1(h.value);
    return out;
  }

  close(): void {
    this.socket.destroy();
  }
}

const fieldList = (pairs: readonly [string, string][]): HeaderField[] =>
  pairs.map(([n, v]) => ({ name: enc.encode(n), value: enc.encode(v), sensitive: false }));

function requestBlock(path: string, extra: readonly [string, string][] = []): Uint8Array {
  return encodeLiterals(
    fieldList([
      [":method", "POST"],
      [":scheme", "http"],
      [":path", path],
      [":authority", "http://127.0.0.1:2379"],
      ["content-type", "application/grpc"],
      ["te", "trailers"],
      ...extra,
    ]),
  );
}

/** A test.Blob message holding `data` (field 1, length-delimited). */
function blob(data: Uint8Array): Uint8Array {
  const len: number[] = [];
  let n = data.length;
  while (n >= 0x80) {
    len.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 0x80);
  }
  len.push(n);
  const out = new Uint8Array(1 + len.length + data.length);
  out[0] = 0x0a;
  out.set(len, 1);
  out.set(data, 1 + len.length);
  return out;
}

function goawayCode(f: Frame): number {
  return Buffer.from(f.payload).readUInt32BE(4);
}

test("h2: a raw client's padded, prioritized, CONTINUATION-split request is answered with headers, data and OK trailers", async () => {
  // Proves the request path frame by frame: padding and priority fields are stripped, a header
  // block split over HEADERS + CONTINUATION is joined, a URL :authority is accepted, and the
  // answer is HEADERS (:status 200), DATA (the gRPC message), HEADERS with END_STREAM
  // (grpc-status 0), after the server's SETTINGS and the client's SETTINGS ACK.
  const s = await startEcho();
  const c = new RawClient(s.port);
  try {
    c.start();
    const block = requestBlock("/test.Echo/Unary");
    const split = 10;
    // HEADERS: PADDED | PRIORITY, pad length 3, 5 priority bytes, first part of the block, padding.
    const first = new Uint8Array(1 + 5 + split + 3);
    first[0] = 3;
    first.set(block.subarray(0, split), 6);
    c.send(
      encodeFrame(FrameType.headers, Flag.padded | Flag.priority, 1, first),
      encodeFrame(FrameType.continuation, Flag.endHeaders, 1, block.subarray(split)),
    );
    const msg = frameMessage(blob(enc.encode("hello")));
    const padded = new Uint8Array(1 + msg.length + 4);
    padded[0] = 4;
    padded.set(msg, 1);
    c.send(encodeFrame(FrameType.data, Flag.padded | Flag.endStream, 1, padded));
    await c.waitFrame((f) => f.type === FrameType.settings && (f.flags & Flag.ack) === 1, "SETTINGS ACK");
    const settings = await c.waitFrame(
      (f) => f.type === FrameType.settings && f.flags === 0,
      "server SETTINGS",
    );
    const announced = new Map<number, number>();
    for (let i = 0; i < settings.payload.length; i += 6) {
      const p = Buffer.from(settings.payload);
      announced.set(p.readUInt16BE(i), p.readUInt32BE(i + 2));
    }
    assert.equal(announced.get(Setting.enablePush), 0);
    assert.ok((announced.get(Setting.initialWindowSize) ?? 0) >= 65_535);
    const trailers = await c.waitFrame(
      (f) => f.type === FrameType.headers && f.streamId === 1 && (f.flags & Flag.endStream) !== 0,
      "trailers",
    );
    const onStream = c.frames.filter((f) => f.streamId === 1);
    assert.deepEqual(
      onStream.map((f) => f.type),
      [FrameType.headers, FrameType.data, FrameType.headers],
    );
    const [head, data] = onStream as [Frame, Frame];
    assert.equal(c.headersOf(head)[":status"], "200");
    assert.equal(c.headersOf(head)["content-type"], "application/grpc");
    assert.equal(c.headersOf(trailers)["grpc-status"], "0");
    const parsed = new FrameParser(1 << 20).push(data.payload);
    assert.equal(parsed[0]?.type, "message");
    assert.deepEqual(parsed[0]?.type === "message" ? parsed[0].message : null, blob(enc.encode("hello")));
  } finally {
    c.close();
    await s.close();
  }
});

test("h2: PING is answered with its payload; SETTINGS are acknowledged; unknown frame types are ignored", async () => {
  // Proves the connection-level frames a client (grpc-go's keepalive) relies on.
  const s = await startEcho();
  const c = new RawClient(s.port);
  try {
    c.start([[Setting.maxFrameSize, 32_768]]);
    c.send(encodeFrame(0x42, 0, 0, new Uint8Array(3)));
    const opaque = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    c.send(encodeFrame(FrameType.ping, 0, 0, opaque));
    const pong = await c.waitFrame((f) => f.type === FrameType.ping, "PING ACK");
    assert.equal(pong.flags, Flag.ack);
    assert.deepEqual(pong.payload, opaque);
    await c.waitFrame((f) => f.type === FrameType.settings && f.flags === Flag.ack, "SETTINGS ACK");
    // The connection still serves a request afterwards.
    c.send(encodeFrame(FrameType.headers, Flag.endHeaders, 1, requestBlock("/test.Echo/Unary")));
    c.send(encodeFrame(FrameType.data, Flag.endStream, 1, frameMessage(blob(enc.encode("x")))));
    const t = await c.waitFrame((f) => f.streamId === 1 && (f.flags & Flag.endStream) !== 0, "trailers");
    assert.equal(c.headersOf(c.frames.find((f) => f.streamId === 1) as Frame)[":status"], "200");
    assert.equal(c.headersOf(t)["grpc-status"], "0");
  } finally {
    c.close();
    await s.close();
  }
});

test("h2: protocol violations end the connection with GOAWAY and the right code; other connections keep serving", async () => {
  // Proves each connection error named by RFC 9113 for what a broken client may send.
  const s = await startEcho();
  // What is sent after the preface and an empty SETTINGS frame ("raw": instead of them).
  const cases: [string, "raw" | "started", Uint8Array[], number][] = [
    [
      "first frame not SETTINGS",
      "raw",
      [http2Preface, encodeFrame(FrameType.ping, 0, 0, new Uint8Array(8))],
      H2Error.protocol,
    ],
    ["bad preface", "raw", [enc.encode("PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")], H2Error.protocol],
    ["DATA on stream 0", "started", [encodeFrame(FrameType.data, 0, 0, new Uint8Array(1))], H2Error.protocol],
    [
      "frame over the max frame size",
      "started",
      [encodeFrame(FrameType.data, 0, 1, new Uint8Array(defaultMaxFrameBytes + 1))],
      H2Error.frameSize,
    ],
    [
      "undecodable header block",
      "started",
      [encodeFrame(FrameType.headers, Flag.endHeaders, 1, Uint8Array.of(0xff, 0xff, 0xff, 0xff))],
      H2Error.compression,
    ],
    [
      "even stream id",
      "started",
      [encodeFrame(FrameType.headers, Flag.endHeaders, 2, requestBlock("/test.Echo/Unary"))],
      H2Error.protocol,
    ],
    [
      "CONTINUATION without HEADERS",
      "started",
      [encodeFrame(FrameType.continuation, Flag.endHeaders, 1, new Uint8Array(0))],
      H2Error.protocol,
    ],
    [
      "another frame inside a header block",
      "started",
      [
        encodeFrame(FrameType.headers, 0, 1, requestBlock("/test.Echo/Unary").subarray(0, 5)),
        encodeFrame(FrameType.ping, 0, 0, new Uint8Array(8)),
      ],
      H2Error.protocol,
    ],
    [
      "PUSH_PROMISE from a client",
      "started",
      [encodeFrame(FrameType.pushPromise, 0, 1, new Uint8Array(4))],
      H2Error.protocol,
    ],
    [
      "window overflow",
      "started",
      [encodeFrame(FrameType.windowUpdate, 0, 0, Uint8Array.of(0x7f, 0xff, 0xff, 0xff))],
      H2Error.flowControl,
    ],
    [
      "SETTINGS of odd length",
      "started",
      [encodeFrame(FrameType.settings, 0, 0, new Uint8Array(5))],
      H2Error.frameSize,
    ],
    [
      // 16 KiB in HEADERS and 16 CONTINUATION frames of 16 KiB: over the 256 KiB header block limit.
      "header block over the limit",
      "started",
      [
        encodeFrame(FrameType.headers, 0, 1, new Uint8Array(defaultMaxFrameBytes)),
        ...Array.from({ length: 16 }, () =>
          encodeFrame(FrameType.continuation, 0, 1, new Uint8Array(defaultMaxFrameBytes)),
        ),
      ],
      H2Error.enhanceYourCalm,
    ],
  ];
  try {
    for (const [what, how, frames, code] of cases) {
      const c = new RawClient(s.port);
      if (how === "started") c.start();
      c.send(...frames);
      const goaway = await c.waitFrame((f) => f.type === FrameType.goaway, `GOAWAY for ${what}`);
      assert.equal(goawayCode(goaway), code, what);
      await c.waitFrame(() => c.closed, `close after ${what}`).catch(() => {});
      c.close();
    }
    const good = new RawClient(s.port);
    good.start();
    good.send(encodeFrame(FrameType.headers, Flag.endHeaders, 1, requestBlock("/test.Echo/Unary")));
    good.send(encodeFrame(FrameType.data, Flag.endStream, 1, frameMessage(blob(enc.encode("ok")))));
    const t = await good.waitFrame((f) => f.streamId === 1 && (f.flags & Flag.endStream) !== 0, "trailers");
    good.headersOf(good.frames.find((f) => f.streamId === 1) as Frame);
    assert.equal(good.headersOf(t)["grpc-status"], "0");
    good.close();
  } finally {
    await s.close();
  }
});

test("h2: malformed requests are reset (PROTOCOL_ERROR) and non-gRPC requests get 415, on a connection that keeps serving", async () => {
  // Proves stream-level errors stay on their stream: missing :path, upper-case names and
  // pseudo-headers after regular ones reset the stream; GET gets :status 415.
  const s = await startEcho();
  const c = new RawClient(s.port);
  try {
    c.start();
    const noPath = encodeLiterals(
      fieldList([
        [":method", "POST"],
        [":scheme", "http"],
      ]),
    );
    const upper = encodeLiterals(
      fieldList([
        [":method", "POST"],
        [":path", "/x"],
        ["Content-Type", "a"],
      ]),
    );
    const late = encodeLiterals(
      fieldList([
        [":method", "POST"],
        ["a", "b"],
        [":path", "/x"],
      ]),
    );
    const get = encodeLiterals(
      fieldList([
        [":method", "GET"],
        [":scheme", "http"],
        [":path", "/"],
      ]),
    );
    c.send(
      encodeFrame(FrameType.headers, Flag.endHeaders | Flag.endStream, 1, noPath),
      encodeFrame(FrameType.headers, Flag.endHeaders | Flag.endStream, 3, upper),
      encodeFrame(FrameType.headers, Flag.endHeaders | Flag.endStream, 5, late),
      encodeFrame(FrameType.headers, Flag.endHeaders | Flag.endStream, 7, get),
    );
    for (const id of [1, 3, 5]) {
      const rst = await c.waitFrame(
        (f) => f.type === FrameType.rstStream && f.streamId === id,
        `RST_STREAM ${id}`,
      );
      assert.equal(Buffer.from(rst.payload).readUInt32BE(0), H2Error.protocol);
    }
    const h = await c.waitFrame((f) => f.type === FrameType.headers && f.streamId === 7, "415");
    assert.equal(c.headersOf(h)[":status"], "415");
    assert.ok((h.flags & Flag.endStream) !== 0);
    c.send(encodeFrame(FrameType.headers, Flag.endHeaders, 9, requestBlock("/test.Echo/Nope")));
    c.send(encodeFrame(FrameType.data, Flag.endStream, 9, frameMessage(new Uint8Array(0))));
    const t = await c.waitFrame((f) => f.streamId === 9 && f.type === FrameType.headers, "trailers-only");
    const fields = c.headersOf(t);
    assert.equal(fields[":status"], "200");
    assert.equal(fields["grpc-status"], String(GrpcStatus.unimplemented));
    // Stream-level flow-control errors: a WINDOW_UPDATE of 0, and one past 2^31-1.
    for (const id of [11, 13])
      c.send(encodeFrame(FrameType.headers, Flag.endHeaders, id, requestBlock("/test.Echo/Bidi")));
    c.send(
      encodeFrame(FrameType.windowUpdate, 0, 11, Uint8Array.of(0, 0, 0, 0)),
      encodeFrame(FrameType.windowUpdate, 0, 13, Uint8Array.of(0x7f, 0xff, 0xff, 0xff)),
    );
    for (const [id, code] of [
      [11, H2Error.protocol],
      [13, H2Error.flowControl],
    ] as const) {
      const rst = await c.waitFrame(
        (f) => f.type === FrameType.rstStream && f.streamId === id,
        `RST_STREAM ${id}`,
      );
      assert.equal(Buffer.from(rst.payload).readUInt32BE(0), code);
    }
    assert.equal(c.closed, false, "stream errors leave the connection open");
  } finally {
    c.close();
    await s.close();
  }
  const decoded = new HpackDecoder().decode(
    encodeLiterals(
      fieldList([
        [":method", "POST"],
        [":path", "/p"],
        ["x", "1"],
        ["x", "2"],
      ]),
    ),
  );
  assert.equal(requestHeaders(decoded)?.fields.x, "1, 2");
});

test("h2: responses honour the client's windows — a 0-window stream waits for WINDOW_UPDATE, and big answers are split by the max frame size", async () => {
  // Proves send-side flow control: with SETTINGS_INITIAL_WINDOW_SIZE 0 nothing but headers is
  // sent; each WINDOW_UPDATE lets exactly that many bytes through; DATA frames never exceed
  // the client's max frame size; the whole 100 KB answer arrives intact.
  const s = await startEcho();
  const c = new RawClient(s.port);
  try {
    c.start([[Setting.initialWindowSize, 0]]);
    c.send(encodeFrame(FrameType.windowUpdate, 0, 0, Uint8Array.of(0, 0x10, 0, 0)));
    c.send(encodeFrame(FrameType.headers, Flag.endHeaders, 1, requestBlock("/test.Echo/Big")));
    c.send(encodeFrame(FrameType.data, Flag.endStream, 1, frameMessage(blob(enc.encode("100000")))));
    await c.waitFrame((f) => f.type === FrameType.headers && f.streamId === 1, "response headers");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.frames.filter((f) => f.type === FrameType.data).length, 0, "no DATA before window");
    c.send(encodeFrame(FrameType.windowUpdate, 0, 1, Uint8Array.of(0, 0, 0x03, 0xe8))); // 1000
    await c.waitFrame((f) => f.type === FrameType.data, "first DATA");
    await new Promise((r) => setTimeout(r, 100));
    const sent = c.frames.filter((f) => f.type === FrameType.data).reduce((n, f) => n + f.payload.length, 0);
    assert.equal(sent, 1000);
    c.send(encodeFrame(FrameType.windowUpdate, 0, 1, Uint8Array.of(0, 0x02, 0, 0)));
    const trailers = await c.waitFrame(
      (f) => f.streamId === 1 && (f.flags & Flag.endStream) !== 0,
      "trailers",
    );
    const data = c.frames.filter((f) => f.type === FrameType.data);
    assert.ok(data.every((f) => f.payload.length <= defaultMaxFrameBytes));
    const all = Buffer.concat(data.map((f) => f.payload));
    const msgs = new FrameParser(1 << 20).push(all);
    assert.equal(msgs.length, 1);
    const m = msgs[0];
    assert.ok(m?.type === "message" && m.message.length > 100_000);
    c.headersOf(c.frames.find((f) => f.type === FrameType.headers) as Frame);
    assert.equal(c.headersOf(trailers)["grpc-status"], "0");
  } finally {
    c.close();
    await s.close();
  }
});

test("h2: a smaller SETTINGS_HEADER_TABLE_SIZE is announced to the client's decoder before the next header block", async () => {
  // Proves RFC 7541 §4.2: the next block starts with a dynamic table size update.
  const s = await startEcho();
  const c = new RawClient(s.port);
  try {
    c.start([[Setting.headerTableSize, 0]]);
    c.send(encodeFrame(FrameType.headers, Flag.endHeaders, 1, requestBlock("/test.Echo/Unary")));
    c.send(encodeFrame(FrameType.data, Flag.endStream, 1, frameMessage(blob(enc.encode("x")))));
    const h = await c.waitFrame((f) => f.type === FrameType.headers && f.streamId === 1, "headers");
    assert.equal(h.payload[0], 0x20);
  } finally {
    c.close();
    await s.close();
  }
});

test("h2: node:http2 client — large requests and answers cross the windows; RST_STREAM cancels a stream; backpressure holds a slow reader", async () => {
  // Proves receive flow control (a 3 MB request needs the server's WINDOW_UPDATEs), send flow
  // control with a real client (a 5 MB answer), cancellation (the handler's signal fires with
  // CANCELLED when the client resets), and that a client that stops reading stops the server's
  // sends (the handler's send() waits) rather than buffering without bound.
  const s = await startEcho();
  const session = http2.connect(`http://127.0.0.1:${s.port}`);
  const call = (path: string, body: Uint8Array): Promise<{ status: string; data: Buffer }> =>
    new Promise((resolve, reject) => {
      const req = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc" });
      const chunks: Buffer[] = [];
      let status = "";
      req.on("response", (h) => {
        if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
      });
      req.on("trailers", (h) => {
        status = String(h["grpc-status"]);
      });
      req.on("data", (d: Buffer) => chunks.push(d));
      req.on("close", () => resolve({ status, data: Buffer.concat(chunks) }));
      req.on("error", reject);
      req.end(frameMessage(body));
    });
  try {
    const big = new Uint8Array(3_000_000).fill(9);
    const echoed = await call("/test.Echo/Unary", blob(big));
    assert.equal(echoed.status, "0");
    assert.equal(echoed.data.length, 5 + blob(big).length);
    const answer = await call("/test.Echo/Big", blob(enc.encode("5000000")));
    assert.equal(answer.status, "0");
    assert.ok(answer.data.length > 5_000_000);

    // Cancellation.
    const req = session.request({
      ":method": "POST",
      ":path": "/test.Echo/Count",
      "content-type": "application/grpc",
    });
    req.on("error", () => {});
    req.end(frameMessage(blob(enc.encode("0"))));
    const deadline = Date.now() + 5000;
    while (s.sent.started === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    req.close(http2.constants.NGHTTP2_CANCEL);
    while (s.streamAborts.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(s.streamAborts.length, 1);
    assert.equal((s.streamAborts[0] as { code?: number }).code, GrpcStatus.canceled);

    // Backpressure: a reader that never reads stalls the server's sends.
    const slow = session.request({
      ":method": "POST",
      ":path": "/test.Echo/Count",
      "content-type": "application/grpc",
    });
    slow.on("error", () => {});
    slow.pause();
    slow.end(frameMessage(blob(enc.encode("100000"))));
    await new Promise((r) => setTimeout(r, 500));
    const stalledAt = s.sent.count;
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(stalledAt < 100_000, `sent ${stalledAt} of 100000 without the client reading`);
    assert.ok(s.sent.count - stalledAt < 50, "sends stopped while the client did not read");
    slow.resume();
    await new Promise((r) => slow.once("close", r));
    assert.equal(s.sent.count, 100_000);
  } finally {
    session.destroy();
    await s.close();
  }
});

test("h2: bidi stream echoes in order; a graceful close sends GOAWAY(NO_ERROR) with the last stream id and ends streams with UNAVAILABLE", async () => {
  // Proves a bidirectional call over the raw client (requests and answers interleaved on one
  // stream) and the shutdown path: GOAWAY(NO_ERROR) carrying the last stream id seen.
  const s = await startEcho();
  const c = new RawClient(s.port);
  let closed = false;
  try {
    c.start();
    c.send(encodeFrame(FrameType.headers, Flag.endHeaders, 1, requestBlock("/test.Echo/Bidi")));
    for (const word of ["a", "b", "c"])
      c.send(encodeFrame(FrameType.data, 0, 1, frameMessage(blob(enc.encode(word)))));
    await c.waitFrame(
      () => c.frames.filter((f) => f.type === FrameType.data && f.streamId === 1).length === 3,
      "3 echoes",
    );
    const echoes = c.frames
      .filter((f) => f.type === FrameType.data && f.streamId === 1)
      .map((f) => {
        const m = new FrameParser(1 << 20).push(f.payload)[0];
        return m?.type === "message" ? latin1(m.message.subarray(2)) : "";
      });
    assert.deepEqual(echoes, ["a", "b", "c"]);
    const closing = s.close();
    closed = true;
    const goaway = await c.waitFrame((f) => f.type === FrameType.goaway, "GOAWAY");
    assert.equal(goawayCode(goaway), H2Error.noError);
    assert.equal(Buffer.from(goaway.payload).readUInt32BE(0), 1);
    const trailers = await c.waitFrame(
      (f) => f.streamId === 1 && (f.flags & Flag.endStream) !== 0,
      "stream 1 ended",
    );
    c.headersOf(c.frames.find((f) => f.type === FrameType.headers && f.streamId === 1) as Frame);
    assert.equal(c.headersOf(trailers)["grpc-status"], String(GrpcStatus.unavailable));
    await closing;
  } finally {
    c.close();
    if (!closed) await s.close();
  }
});
