// PeerTransport over real TCP sockets on 127.0.0.1 (port 0): delivery of every message kind,
// batching, ordering, the handshake, bounded queues for dead and slow peers, reconnects, chunked
// snapshots, peer management and option validation. Every test is bounded in time and closes
// every transport and server it starts in `finally`.
import assert from "node:assert/strict";
import { createServer, type Socket, connect as tcpConnect } from "node:net";
import { test } from "node:test";
import { SynodError } from "../../../src/lib/errors.js";
import { type Message, MessageType, message } from "../../../src/raft/types.js";
import {
  decodeFrame,
  type Frame,
  FrameReader,
  FrameType,
  FrameWriter,
  PeerTransport,
  writeHello,
  writeMessages,
  writeWelcome,
} from "../../../src/server/transport/mod.js";
import {
  closeAll,
  clusterA,
  entry,
  everyKind,
  logged,
  type Member,
  sleep,
  snapMessage,
  startMember,
  waitFor,
} from "./helpers.js";

const limit = { timeout: 20_000 };

/** Connects A (1) and B (2) both ways and waits until both streams are up. */
async function pair(
  extraA: Parameters<typeof startMember>[1] = {},
  extraB: Parameters<typeof startMember>[1] = {},
): Promise<[Member, Member]> {
  const a = await startMember(1, extraA);
  const b = await startMember(2, extraB);
  a.t.addPeer(2, b.url);
  b.t.addPeer(1, a.url);
  await waitFor("both streams", () => ready(a, 2) && ready(b, 1));
  return [a, b];
}

function ready(m: Member, peer: number): boolean {
  return m.t.stats().peers.find((p) => p.id === peer)?.state === "ready";
}

function peerStats(m: Member, peer: number) {
  const s = m.t.stats().peers.find((p) => p.id === peer);
  assert.ok(s !== undefined, `peer ${peer} is known`);
  return s;
}

/** A heartbeat from `from` to `to` numbered by `index`. */
function hb(from: number, to: number, index: number): Message {
  return message({ type: MessageType.heartbeat, from, to, term: 1, commit: index, index });
}

/** A raw TCP client that records what it receives and when it closes. */
interface Raw {
  readonly socket: Socket;
  readonly frames: Frame[];
  readonly closed: Promise<void>;
}

async function raw(port: number): Promise<Raw> {
  const socket = tcpConnect({ host: "127.0.0.1", port });
  socket.on("error", () => {});
  const frames: Frame[] = [];
  const reader = new FrameReader(1 << 20);
  socket.on("data", (chunk: Buffer) => {
    reader.push(chunk, (f) => {
      const d = decodeFrame(f.type, f.payload);
      if (d.ok) frames.push(d.value);
    });
  });
  const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  return { socket, frames, closed };
}

function hello(clusterId: bigint, from: number, to: number): Uint8Array {
  const w = new FrameWriter(64);
  writeHello(w, clusterId, from, to);
  return w.take();
}

/** Resolves when `p` settles, or rejects after `ms` naming `what`. */
async function within<T>(what: string, p: Promise<T>, ms = 3000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A port nothing listens on (bound once, then released). */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A fake member 2 on a plain TCP server; `close` destroys its connections and stops it. */
interface FakePeer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts a fake member 2 that completes the handshake and then runs `after` on the socket (e.g.
 * stops reading, or dies after some bytes).
 */
async function fakePeer(after: (socket: Socket, received: () => number) => void): Promise<FakePeer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    socket.on("close", () => sockets.delete(socket));
    let received = 0;
    let greeted = false;
    socket.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (!greeted && received >= 44) {
        greeted = true;
        const w = new FrameWriter(64);
        writeWelcome(w, 2);
        socket.write(w.take());
        after(socket, () => received);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

test(
  "PeerTransport: every message kind crosses in both directions with every field intact",
  limit,
  async () => {
    // Proves all 14 network kinds (snap via a chunked transfer) arrive unchanged, in order, on
    // each member's own outbound stream, and that snapshot transfers report success to the sender.
    let a: Member | undefined;
    let b: Member | undefined;
    try {
      [a, b] = await pair();
      const toB = everyKind(1, 2);
      const toA = everyKind(2, 1);
      a.t.send(toB);
      b.t.send(toA);
      const bb = b;
      const aa = a;
      await waitFor("all messages", () => bb.received.length === 14 && aa.received.length === 14);
      const split = (ms: Message[]) => [
        ms.filter((m) => m.type !== MessageType.snap),
        ms.find((m) => m.type === MessageType.snap),
      ];
      assert.deepEqual(split(b.received), split(toB));
      assert.deepEqual(split(a.received), split(toA));
      await waitFor(
        "snapshot statuses",
        () => aa.snapshotStatus.length === 1 && bb.snapshotStatus.length === 1,
      );
      assert.deepEqual(a.snapshotStatus, [{ peer: 2, ok: true }]);
      assert.deepEqual(b.snapshotStatus, [{ peer: 1, ok: true }]);
      assert.deepEqual(a.unreachable, []);
      assert.equal(b.t.stats().messagesReceived, 14);
      assert.equal(b.t.stats().snapshotsReceived, 1);
    } finally {
      await closeAll(a, b);
    }
  },
);

test(
  "PeerTransport: everything sent to a peer in one call or one turn leaves in one socket write",
  limit,
  async () => {
    // Proves batching: 300 messages over three send() calls in the same event-loop turn cost one
    // write(), i.e. one syscall and (with Nagle off) as few packets as the kernel needs.
    let a: Member | undefined;
    let b: Member | undefined;
    try {
      [a, b] = await pair();
      const before = peerStats(a, 2).writes;
      for (let call = 0; call < 3; call++) {
        a.t.send(Array.from({ length: 100 }, (_, i) => hb(1, 2, call * 100 + i)));
      }
      const bb = b;
      await waitFor("300 heartbeats", () => bb.received.length === 300);
      assert.equal(peerStats(a, 2).writes - before, 1);
      assert.deepEqual(
        b.received.map((m) => m.index),
        Array.from({ length: 300 }, (_, i) => i),
      );
    } finally {
      await closeAll(a, b);
    }
  },
);

test(
  "PeerTransport: messages to one peer arrive in the order they were sent, across many turns",
  limit,
  async () => {
    // Proves per-peer FIFO order over 20,000 messages sent in 200 calls spread over event-loop
    // turns, with batches of varying size and entries of varying length.
    let a: Member | undefined;
    let b: Member | undefined;
    try {
      [a, b] = await pair();
      const total = 20_000;
      for (let i = 0; i < total; ) {
        const batch: Message[] = [];
        for (let k = 0; k < 100; k++, i++) {
          batch.push(
            message({ type: MessageType.app, from: 1, to: 2, index: i, entries: [entry(i + 1, i % 300)] }),
          );
        }
        a.t.send(batch);
        if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
      }
      const bb = b;
      await waitFor("every message", () => bb.received.length === total, 10_000);
      b.received.forEach((m, i) => {
        assert.equal(m.index, i);
        assert.deepEqual(m.entries, [entry(i + 1, i % 300)]);
      });
      assert.equal(peerStats(a, 2).messagesDropped, 0);
    } finally {
      await closeAll(a, b);
    }
  },
);

test(
  "PeerTransport: malformed streams are closed and logged, and the member keeps serving",
  limit,
  async () => {
    // Proves garbage, an HTTP request, a bad CRC, an oversized length, a truncated frame, a frame
    // before the handshake and a message from the wrong member each close only that connection,
    // with the reason logged, no exception, and real peers still delivering afterwards.
    let a: Member | undefined;
    let b: Member | undefined;
    try {
      [a, b] = await pair();
      const port = b.t.address.port;
      const badCrc = hello(clusterA, 1, 2);
      badCrc[20] = (badCrc[20] as number) ^ 0x10;
      const wrongSender = new FrameWriter(64);
      writeMessages(wrongSender, [hb(7, 2, 1)], 1 << 20);
      const cases: [string, Uint8Array[], string][] = [
        ["garbage", [Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff)], "malformed stream"],
        ["HTTP", [new TextEncoder().encode("GET /version HTTP/1.1\r\nHost: x\r\n\r\n")], "looks like HTTP"],
        ["bad CRC", [badCrc], "fails its CRC"],
        [
          "oversized",
          [Uint8Array.from([0, 0x10, 0, 0, FrameType.hello, 0, 0, 0, 0, 0, 0, 0])],
          "exceeds the limit of 64",
        ],
        [
          "frame before hello",
          [
            (() => {
              const w = new FrameWriter(16);
              writeWelcome(w, 1);
              return w.take();
            })(),
          ],
          "expected hello",
        ],
        [
          "wrong sender",
          [hello(clusterA, 9, 2), wrongSender.take()],
          "heartbeat message from 7 to 2 on the stream from 9",
        ],
      ];
      for (const [name, chunks, reason] of cases) {
        const r = await raw(port);
        for (const c of chunks) r.socket.write(c);
        await within(`${name}: the server closes the connection`, r.closed);
        const bb = b;
        await waitFor(`${name}: logged`, () => logged(bb.log, "warn", reason));
      }
      // A truncated frame followed by the client's close: nothing is delivered, nothing breaks.
      const r = await raw(port);
      r.socket.write(hello(clusterA, 9, 2));
      const partial = new FrameWriter(64);
      writeMessages(partial, [hb(9, 2, 1)], 1 << 20);
      r.socket.end(partial.take().subarray(0, 20));
      await within("truncated: closed", r.closed);
      const before = b.received.length;
      a.t.send([hb(1, 2, 123)]);
      const bb = b;
      await waitFor("a real peer still delivers", () => bb.received.length === before + 1);
      assert.equal(b.received.at(-1)?.index, 123);
      assert.ok(
        b.received.every((m) => m.from === 1),
        "nothing from the raw clients was delivered",
      );
      assert.ok(ready(a, 2), "the real stream was never disturbed");
    } finally {
      await closeAll(a, b);
    }
  },
);

test(
  "PeerTransport: a handshake naming another cluster, another member or a removed member is refused",
  limit,
  async () => {
    // Proves the hello checks: the dialer gets a refuse frame with the reason before the
    // connection closes, and the listener logs the same reason.
    let b: Member | undefined;
    try {
      b = await startMember(2);
      b.t.removePeer(4);
      const port = b.t.address.port;
      const cases: [string, Uint8Array, string][] = [
        [
          "cluster",
          hello(0xbadn, 1, 2),
          "cluster id mismatch: member 1 is in cluster bad, member 2 in cluster 123456789abcdef0",
        ],
        [
          "misaddressed",
          hello(clusterA, 1, 3),
          "misaddressed: member 1 expected member 3 at this address, but this is member 2",
        ],
        ["self", hello(clusterA, 2, 2), "the dialer claims this member's own id 2"],
        ["removed", hello(clusterA, 4, 2), "member 4 was removed from the cluster"],
      ];
      for (const [name, bytes, reason] of cases) {
        const r = await raw(port);
        r.socket.write(bytes);
        await within(`${name}: closed`, r.closed);
        assert.equal(r.frames.length, 1, name);
        const f = r.frames[0];
        assert.ok(f?.type === FrameType.refuse, name);
        assert.equal(f.detail, reason);
        assert.ok(logged(b.log, "warn", reason), `${name}: logged`);
      }
    } finally {
      await closeAll(b);
    }
  },
);

test(
  "PeerTransport: members of different clusters refuse each other with a clear reason on both sides",
  limit,
  async () => {
    // Proves a misconfigured member (wrong --initial-cluster-token) cannot talk to a cluster:
    // the dialer reports the peer unreachable and logs the listener's reason; nothing is delivered.
    let a: Member | undefined;
    let b: Member | undefined;
    try {
      a = await startMember(1);
      b = await startMember(2, { clusterId: 0xfeedn });
      a.t.addPeer(2, b.url);
      a.t.send([hb(1, 2, 1)]);
      const aa = a;
      const bb = b;
      await waitFor(
        "refusal logged on both sides",
        () => logged(aa.log, "warn", "cluster id mismatch") && logged(bb.log, "warn", "cluster id mismatch"),
      );
      await waitFor("unreachable reported", () => aa.unreachable.includes(2));
      assert.ok(logged(a.log, "warn", "refused by the peer: cluster id mismatch"));
      assert.equal(b.received.length, 0);
      // A peer URL that leads to the wrong member is refused the same way.
      const c = await startMember(3);
      try {
        c.t.addPeer(2, a.url);
        const cc = c;
        await waitFor("misaddressed", () =>
          logged(cc.log, "warn", "misaddressed: member 3 expected member 2"),
        );
        await waitFor("unreachable reported", () => cc.unreachable.includes(2));
      } finally {
        await c.t.close();
      }
    } finally {
      await closeAll(a, b);
    }
  },
);

test("PeerTransport: a dead peer costs a bounded queue; onUnreachable is called", limit, async () => {
  // Proves a peer that refuses connections never grows memory past sendQueueMessagesMax /
  // sendQueueBytesMax: 50 MB offered, the queue stays within its limits, the rest is dropped,
  // and the driver is told the peer is unreachable.
  let a: Member | undefined;
  try {
    a = await startMember(1, { sendQueueBytesMax: 1 << 20, sendQueueMessagesMax: 500 });
    a.t.addPeer(2, `http://127.0.0.1:${await deadPort()}`);
    const heapBefore = process.memoryUsage().heapUsed;
    for (let round = 0; round < 50; round++) {
      a.t.send(
        Array.from({ length: 1000 }, (_, i) =>
          message({ type: MessageType.app, from: 1, to: 2, entries: [entry(i, 1024)] }),
        ),
      );
      await new Promise((r) => setImmediate(r));
    }
    const aa = a;
    await waitFor("unreachable reported", () => aa.unreachable.includes(2));
    const s = peerStats(a, 2);
    assert.ok(s.queuedMessages <= 500, `queued ${s.queuedMessages}`);
    assert.ok(s.queuedBytes <= 1 << 20, `queued ${s.queuedBytes} bytes`);
    assert.ok(s.messagesDropped >= 50_000 - 500, `dropped ${s.messagesDropped}`);
    assert.notEqual(s.state, "ready");
    assert.ok(s.dials >= 1);
    const grown = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    const sign = grown >= 0 ? "+" : "";
    console.log(
      `# dead peer: 50 MB offered, ${s.queuedMessages} messages / ${s.queuedBytes} bytes queued, heap ${sign}${grown.toFixed(1)} MiB`,
    );
  } finally {
    await closeAll(a);
  }
});

test("PeerTransport: a peer that stops reading costs a bounded queue and socket buffer", limit, async () => {
  // Proves backpressure: when socket.write returns false the transport stops writing, keeps at
  // most sendQueueBytesMax (counting the socket's own buffer), drops the rest and reports the peer.
  let a: Member | undefined;
  let fake: FakePeer | undefined;
  try {
    fake = await fakePeer((socket) => socket.pause());
    const max = 1 << 20;
    a = await startMember(1, { sendQueueBytesMax: max });
    a.t.addPeer(2, fake.url);
    const aa = a;
    await waitFor("connected", () => ready(aa, 2));
    for (let round = 0; round < 100; round++) {
      a.t.send(
        Array.from({ length: 500 }, (_, i) =>
          message({ type: MessageType.app, from: 1, to: 2, entries: [entry(i, 1024)] }),
        ),
      );
      await new Promise((r) => setImmediate(r));
    }
    await waitFor("unreachable reported", () => aa.unreachable.includes(2));
    const s = peerStats(a, 2);
    assert.ok(s.messagesDropped > 0);
    assert.ok(
      s.queuedBytes + s.socketBufferedBytes <= 2 * max,
      `queued ${s.queuedBytes} + buffered ${s.socketBufferedBytes}`,
    );
    assert.equal(s.state, "ready", "a slow peer is not disconnected for being slow");
    console.log(
      `# slow peer: 51 MB offered, ${(s.bytesSent / 2 ** 20).toFixed(1)} MiB written (kernel buffers), ` +
        `${s.queuedBytes} queued + ${s.socketBufferedBytes} in the socket, ${s.messagesDropped} dropped`,
    );
  } finally {
    await closeAll(a);
    await fake?.close();
  }
});

test(
  "PeerTransport: a peer that reads nothing for writeStallTimeoutMs is disconnected and redialed",
  limit,
  async () => {
    // Proves a stuck peer does not hold a full socket forever: after the stall timeout the
    // connection is reset (its buffered bytes freed), the peer reported unreachable and redialed.
    let a: Member | undefined;
    let fake: FakePeer | undefined;
    try {
      fake = await fakePeer((socket) => socket.pause());
      a = await startMember(1, { writeStallTimeoutMs: 200 });
      a.t.addPeer(2, fake.url);
      const aa = a;
      await waitFor("connected", () => ready(aa, 2));
      for (let round = 0; round < 40; round++) {
        a.t.send(
          Array.from({ length: 250 }, (_, i) =>
            message({ type: MessageType.app, from: 1, to: 2, entries: [entry(i, 1024)] }),
          ),
        );
        await new Promise((r) => setImmediate(r));
      }
      await waitFor("stall noticed", () => logged(aa.log, "warn", "the peer read nothing for 200 ms"));
      await waitFor("unreachable reported", () => aa.unreachable.includes(2));
      await waitFor("redialed", () => peerStats(aa, 2).connects >= 2);
    } finally {
      await closeAll(a);
      await fake?.close();
    }
  },
);

test(
  "PeerTransport: after a peer restarts, the stream reconnects and delivers, in order",
  limit,
  async () => {
    // Proves reconnect with backoff: messages sent while the peer is down wait (bounded) and,
    // with those sent after, arrive in order at the restarted peer on the same address.
    let a: Member | undefined;
    let b: Member | undefined;
    let b2: Member | undefined;
    try {
      [a, b] = await pair();
      const port = b.t.address.port;
      a.t.send([hb(1, 2, 0)]);
      const bb = b;
      await waitFor("first message", () => bb.received.length === 1);
      await b.t.close();
      const aa = a;
      await waitFor("loss noticed", () => aa.unreachable.includes(2));
      a.t.send([hb(1, 2, 1), hb(1, 2, 2)]);
      await sleep(150); // a few failed redials
      b2 = await startMember(2, { listen: { host: "127.0.0.1", port } });
      a.t.send([hb(1, 2, 3)]);
      const b2b = b2;
      await waitFor("delivery after the restart", () => b2b.received.length === 3);
      assert.deepEqual(
        b2.received.map((m) => m.index),
        [1, 2, 3],
      );
      const s = peerStats(a, 2);
      assert.ok(s.connects >= 2 && s.dials > s.connects, `dials ${s.dials}, connects ${s.connects}`);
      assert.ok(logged(a.log, "warn", "lost the stream to a peer"));
    } finally {
      await closeAll(a, b, b2);
    }
  },
);

test(
  "PeerTransport: a 20 MB snapshot streams in 1 MiB chunks, is reassembled, and heartbeats keep flowing",
  limit,
  async () => {
    // Proves chunked snapshot transfer: the data arrives byte-identical as one snap message, the
    // sender gets onSnapshotStatus(peer, true) only after the receiver's acknowledgement, and
    // ordinary messages sent during the transfer are not held up behind it.
    let a: Member | undefined;
    let b: Member | undefined;
    try {
      [a, b] = await pair();
      const snap = snapMessage(1, 2, 20 * 1024 * 1024, 9000);
      const started = performance.now();
      a.t.send([snap]);
      for (let i = 0; i < 20; i++) {
        a.t.send([hb(1, 2, i)]);
        await sleep(2);
      }
      const aa = a;
      await waitFor("snapshot status", () => aa.snapshotStatus.length === 1, 15_000);
      const ms = performance.now() - started;
      assert.deepEqual(a.snapshotStatus, [{ peer: 2, ok: true }]);
      const got = b.received.find((m) => m.type === MessageType.snap);
      assert.ok(got?.snapshot, "snapshot delivered before its acknowledgement");
      assert.deepEqual(got.snapshot.metadata, snap.snapshot?.metadata);
      assert.ok(
        Buffer.from(got.snapshot.data).equals(Buffer.from(snap.snapshot?.data ?? [])),
        "data identical",
      );
      assert.deepEqual({ ...got, snapshot: null }, { ...snap, snapshot: null });
      assert.deepEqual(
        b.received.filter((m) => m.type === MessageType.heartbeat).map((m) => m.index),
        Array.from({ length: 20 }, (_, i) => i),
      );
      const s = peerStats(a, 2);
      assert.equal(s.snapshotChunksSent, 20);
      assert.equal(s.snapshotsSent, 1);
      console.log(
        `# snapshot: 20 MiB in ${ms.toFixed(0)} ms (${((20 / ms) * 1000).toFixed(0)} MiB/s) over loopback`,
      );
    } finally {
      await closeAll(a, b);
    }
  },
);

test(
  "PeerTransport: a snapshot over the receiver's snapshotBytesMax fails cleanly; the stream goes on",
  limit,
  async () => {
    // Proves the receiver bounds reassembly memory: it refuses the transfer, the sender reports
    // onSnapshotStatus(peer, false) and stops sending chunks, and the same connection keeps
    // carrying messages.
    let a: Member | undefined;
    let b: Member | undefined;
    try {
      [a, b] = await pair({ snapshotChunkBytes: 1000 }, { snapshotBytesMax: 4000 });
      a.t.send([snapMessage(1, 2, 4_000_000)]);
      a.t.send([hb(1, 2, 7)]);
      const aa = a;
      const bb = b;
      await waitFor("snapshot status", () => aa.snapshotStatus.length === 1);
      assert.deepEqual(a.snapshotStatus, [{ peer: 2, ok: false }]);
      assert.ok(logged(a.log, "warn", "exceeds snapshotBytesMax (4000 bytes)"));
      assert.ok(logged(b.log, "warn", "snapshot of 4000000 bytes exceeds snapshotBytesMax (4000 bytes)"));
      a.t.send([snapMessage(1, 2, 3000), hb(1, 2, 8)]);
      await waitFor(
        "the small snapshot and heartbeats",
        () => bb.received.length === 3 && aa.snapshotStatus.length === 2,
      );
      assert.deepEqual(a.snapshotStatus[1], { peer: 2, ok: true });
      assert.equal(peerStats(a, 2).connects, 1, "the connection was never dropped");
      assert.ok(peerStats(a, 2).snapshotChunksSent < 4000, "the refused transfer stopped early");
    } finally {
      await closeAll(a, b);
    }
  },
);

test(
  "PeerTransport: a snapshot to a peer that dies mid-transfer, is down, or is unknown reports failure",
  limit,
  async () => {
    // Proves onSnapshotStatus(peer, false) in every failure path, so Raft never waits forever for
    // a snapshot that will not arrive.
    let a: Member | undefined;
    let fake: FakePeer | undefined;
    try {
      fake = await fakePeer((socket, received) => {
        socket.on("data", () => {
          if (received() > 3 * 1024 * 1024) socket.destroy();
        });
      });
      a = await startMember(1);
      a.t.addPeer(2, fake.url);
      a.t.addPeer(3, `http://127.0.0.1:${await deadPort()}`);
      const aa = a;
      await waitFor("connected", () => ready(aa, 2));
      a.t.send([snapMessage(1, 2, 10 * 1024 * 1024), snapMessage(1, 3, 100), snapMessage(1, 4, 100)]);
      await waitFor("three statuses", () => aa.snapshotStatus.length === 3);
      assert.deepEqual(
        [...a.snapshotStatus].sort((x, y) => x.peer - y.peer),
        [
          { peer: 2, ok: false },
          { peer: 3, ok: false },
          { peer: 4, ok: false },
        ],
      );
      assert.ok(a.unreachable.includes(2) && a.unreachable.includes(3));
      assert.ok(logged(a.log, "debug", "dropped a message to an unknown peer"));
    } finally {
      await closeAll(a);
      await fake?.close();
    }
  },
);

test(
  "PeerTransport: removePeer closes both streams and refuses the removed member from then on",
  limit,
  async () => {
    // Proves removal: the removed member's stream is cut and its redials are refused with a
    // reason it logs; messages to a removed peer are dropped, not queued.
    let a: Member | undefined;
    let b: Member | undefined;
    try {
      [a, b] = await pair();
      b.t.removePeer(1);
      const aa = a;
      await waitFor("refusal", () =>
        logged(aa.log, "warn", "refused by the peer: member 1 was removed from the cluster"),
      );
      assert.equal(b.t.stats().peers.length, 0);
      b.t.send([hb(2, 1, 1)]);
      await sleep(20);
      assert.equal(a.received.length, 0);
      assert.ok(logged(b.log, "debug", "dropped a message to an unknown peer"));
      // Adding it back lifts the refusal.
      b.t.addPeer(1, a.url);
      const bb = b;
      await waitFor("streams back", () => ready(aa, 2) && ready(bb, 1), 5000);
    } finally {
      await closeAll(a, b);
    }
  },
);

test("PeerTransport: updatePeer moves the stream to the peer's new URL", limit, async () => {
  // Proves a member that moved (etcd's member update) is redialed at its new address at once.
  let a: Member | undefined;
  let b1: Member | undefined;
  let b2: Member | undefined;
  try {
    a = await startMember(1);
    b1 = await startMember(2);
    b2 = await startMember(2);
    a.t.addPeer(2, b1.url);
    const aa = a;
    await waitFor("connected to the old address", () => ready(aa, 2));
    a.t.updatePeer(2, b2.url);
    a.t.send([hb(1, 2, 5)]);
    const bb2 = b2;
    await waitFor("delivered at the new address", () => bb2.received.length === 1);
    assert.equal(b1.received.length, 0);
    assert.equal(peerStats(a, 2).url, b2.url);
    assert.throws(() => a?.t.updatePeer(9, b2?.url ?? ""), /Cannot update peer 9: it is not a known peer/);
  } finally {
    await closeAll(a, b1, b2);
  }
});

test(
  "PeerTransport: send never throws; local kinds, bad messages, self and unknown peers are dropped and logged",
  limit,
  async () => {
    // Proves send() is total: whatever the driver hands it, it returns normally and logs.
    let a: Member | undefined;
    try {
      a = await startMember(1);
      const t = a.t;
      t.send([
        message({ type: MessageType.hup, from: 1, to: 2 }),
        message({ type: MessageType.app, from: 1, to: 2, term: -1 }),
        message({ type: MessageType.snap, from: 1, to: 2 }),
        hb(1, 1, 1),
        hb(1, 77, 1),
      ]);
      assert.deepEqual(a.snapshotStatus, [], "callbacks never run inside send()");
      await sleep(5);
      assert.ok(logged(a.log, "warn", "never crosses the network"));
      assert.ok(logged(a.log, "warn", "not a safe non-negative integer"));
      assert.ok(logged(a.log, "warn", "snap message without a snapshot"));
      assert.ok(logged(a.log, "warn", "addressed to this member"));
      assert.ok(logged(a.log, "debug", "unknown peer"));
      assert.deepEqual(a.snapshotStatus, [{ peer: 2, ok: false }]);
      await t.close();
      await t.close(); // idempotent
      t.send([hb(1, 2, 1)]);
      assert.throws(() => t.addPeer(1, "http://127.0.0.1:1"), SynodError);
    } finally {
      await closeAll(a);
    }
  },
);

test(
  "PeerTransport: options and peer URLs are validated with messages that name the setting",
  limit,
  async () => {
    // Proves bad configuration is refused at start (or at addPeer) with a SynodError saying what,
    // why and the value.
    const base = {
      clusterId: 1n,
      memberId: 1,
      listen: { host: "127.0.0.1", port: 0 },
      onMessage() {},
      onUnreachable() {},
      onSnapshotStatus() {},
    };
    const bad: [object, RegExp][] = [
      [{ clusterId: -1n }, /'clusterId' must be an unsigned 64-bit bigint, got -1/],
      [{ clusterId: 1n << 64n }, /'clusterId' must be an unsigned 64-bit bigint/],
      [{ memberId: 0 }, /'memberId' must be a positive safe integer, got 0/],
      [
        { listen: { host: "127.0.0.1", port: 70000 } },
        /'listen.port' must be an integer in \[0, 65535\], got 70000/,
      ],
      [{ sendQueueBytesMax: 0 }, /'sendQueueBytesMax' must be an integer in \[1, /],
      [
        { snapshotChunkBytes: 64 * 1024 * 1024 },
        /'snapshotChunkBytes' must be an integer in \[1, 16777200\]/,
      ],
      [{ frameBytesMax: 100 }, /'frameBytesMax' must be an integer in \[4096, 16777216\], got 100/],
      [
        { backoffMinMs: 500, backoffMaxMs: 100 },
        /'backoffMaxMs' must be at least 'backoffMinMs' \(500\), got 100/,
      ],
    ];
    for (const [override, want] of bad) {
      await assert.rejects(PeerTransport.start({ ...base, ...override }), (e: unknown) => {
        assert.ok(e instanceof SynodError);
        assert.equal(e.code, "SYNOD_INVALID_ARGUMENT");
        assert.match(e.message, want);
        return true;
      });
    }
    const t = await PeerTransport.start(base);
    try {
      assert.throws(
        () => t.addPeer(2, "ftp://127.0.0.1:2380"),
        /Cannot add peer 2: 'url' must use http:\/\/ or https:\/\//,
      );
      assert.throws(() => t.addPeer(1, "http://127.0.0.1:2380"), /other than this member's, got 1/);
      assert.throws(() => t.addPeer(2.5, "http://127.0.0.1:2380"), /got 2.5/);
      assert.notEqual(t.address.port, 0);
      // The listen address in use: the error is the listener's own.
      await assert.rejects(
        PeerTransport.start({ ...base, listen: { host: "127.0.0.1", port: t.address.port } }),
        /EADDRINUSE/,
      );
    } finally {
      await t.close();
    }
  },
);

test(
  "PeerTransport: a connection that never says hello is closed after handshakeTimeoutMs",
  limit,
  async () => {
    // Proves idle or stuck connections cannot pin a slot on the listener.
    let b: Member | undefined;
    try {
      b = await startMember(2, { handshakeTimeoutMs: 100 });
      const r = await raw(b.t.address.port);
      const started = Date.now();
      await within("closed", r.closed, 3000);
      assert.ok(Date.now() - started >= 80);
      assert.ok(logged(b.log, "warn", "no handshake within 100 ms"));
      await waitFor("slot released", () => b?.t.stats().inboundConnections === 0);
    } finally {
      await closeAll(b);
    }
  },
);

test("PeerTransport: connections beyond inboundConnectionsMax are closed at once", limit, async () => {
  // Proves the listener bounds accepted connections.
  let b: Member | undefined;
  const raws: Raw[] = [];
  try {
    b = await startMember(2, { inboundConnectionsMax: 2 });
    for (let i = 0; i < 3; i++) raws.push(await raw(b.t.address.port));
    await within("third connection closed", (raws[2] as Raw).closed);
    assert.equal(b.t.stats().connectionsRejected, 1);
    assert.equal(b.t.stats().inboundConnections, 2);
    assert.ok(logged(b.log, "warn", "too many connections"));
  } finally {
    for (const r of raws) r.socket.destroy();
    await closeAll(b);
  }
});

test("PeerTransport: a new stream from a peer replaces its old one", limit, async () => {
  // Proves a peer that restarted (its old connection half-open) is not shut out or duplicated.
  let b: Member | undefined;
  try {
    b = await startMember(2);
    const first = await raw(b.t.address.port);
    first.socket.write(hello(clusterA, 1, 2));
    await waitFor("first welcomed", () => first.frames.length === 1);
    const second = await raw(b.t.address.port);
    second.socket.write(hello(clusterA, 1, 2));
    await within("first closed", first.closed);
    assert.equal(second.frames[0]?.type, FrameType.welcome);
    const w = new FrameWriter(64);
    writeMessages(w, [hb(1, 2, 42)], 1 << 20);
    second.socket.write(w.take());
    const bb = b;
    await waitFor("delivered on the new stream", () => bb.received.length === 1);
    second.socket.destroy();
  } finally {
    await closeAll(b);
  }
});

test("PeerTransport: throughput micro-check (printed, not asserted)", limit, async () => {
  // Proves nothing by itself: prints loopback message and byte rates for small and large messages.
  let a: Member | undefined;
  let b: Member | undefined;
  try {
    [a, b] = await pair({ sendQueueMessagesMax: 100_000, sendQueueBytesMax: 256 << 20 });
    const bb = b;
    const small = 200_000;
    let t0 = performance.now();
    for (let i = 0; i < small; i += 1000) {
      a.t.send(
        Array.from({ length: 1000 }, (_, k) =>
          message({ type: MessageType.appResp, from: 1, to: 2, term: 5, index: i + k }),
        ),
      );
      await new Promise((r) => setImmediate(r));
    }
    await waitFor("small messages", () => bb.received.length === small, 15_000);
    let ms = performance.now() - t0;
    console.log(
      `# throughput: ${small} appResp messages in ${ms.toFixed(0)} ms = ${((small / ms) * 1000).toFixed(0)} msg/s`,
    );
    b.received.length = 0;
    const large = 2000;
    t0 = performance.now();
    for (let i = 0; i < large; i += 20) {
      a.t.send(
        Array.from({ length: 20 }, (_, k) =>
          message({
            type: MessageType.app,
            from: 1,
            to: 2,
            index: i + k,
            entries: [entry(i + k, 64 * 1024)],
          }),
        ),
      );
      await new Promise((r) => setImmediate(r));
    }
    await waitFor("large messages", () => bb.received.length === large, 15_000);
    ms = performance.now() - t0;
    console.log(
      `# throughput: ${large} x 64 KiB app messages in ${ms.toFixed(0)} ms = ${((large * 64) / 1024 / (ms / 1000)).toFixed(0)} MiB/s`,
    );
    assert.equal(peerStats(a, 2).messagesDropped, 0);
  } finally {
    await closeAll(a, b);
  }
});

test("PeerTransport: round-trip latency micro-check (printed, not asserted)", limit, async () => {
  // Proves nothing by itself: prints the loopback round trip of one message through two
  // transports (B echoes each heartbeat back to A), batching turn included.
  let resolveReply: (() => void) | null = null;
  const ts: PeerTransport[] = [];
  try {
    const common = { clusterId: clusterA, onUnreachable() {}, onSnapshotStatus() {} };
    const a = await PeerTransport.start({
      ...common,
      memberId: 1,
      listen: { host: "127.0.0.1", port: 0 },
      onMessage: () => resolveReply?.(),
    });
    ts.push(a);
    const b: PeerTransport = await PeerTransport.start({
      ...common,
      memberId: 2,
      listen: { host: "127.0.0.1", port: 0 },
      onMessage: (m) => b.send([hb(2, 1, m.index)]),
    });
    ts.push(b);
    a.addPeer(2, `http://127.0.0.1:${b.address.port}`);
    b.addPeer(1, `http://127.0.0.1:${a.address.port}`);
    const samples: number[] = [];
    for (let i = 0; i < 2500; i++) {
      const t0 = performance.now();
      await within(
        "an echo",
        new Promise<void>((r) => {
          resolveReply = r;
          a.send([hb(1, 2, i)]);
        }),
        5000,
      );
      if (i >= 500) samples.push((performance.now() - t0) * 1000);
    }
    samples.sort((x, y) => x - y);
    const at = (q: number) => (samples[Math.floor(q * (samples.length - 1))] ?? 0).toFixed(0);
    console.log(
      `# round trip: median ${at(0.5)} µs, p90 ${at(0.9)} µs, p99 ${at(0.99)} µs (2,000 after 500 warm-up)`,
    );
    assert.equal(samples.length, 2000);
  } finally {
    await Promise.all(ts.map((t) => t.close()));
  }
});
