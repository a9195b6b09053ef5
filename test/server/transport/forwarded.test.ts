// Regression test for a disconnect found by the chaos harness: proposals and ReadIndex requests
// forwarded on behalf of another member closed the stream they arrived on.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { test } from "node:test";
import { type Message, MessageType, message } from "../../../src/raft/types.js";
import { FrameWriter, writeHello, writeMessages } from "../../../src/server/transport/mod.js";
import { closeAll, clusterA, entry, logged, type Member, startMember, waitFor } from "./helpers.js";

test("PeerTransport: a proposal or ReadIndex request forwarded for another member is delivered; other kinds from a third member still close the stream", async () => {
  // Proves the inbound check follows Raft's forwarding: a follower forwards a proposal or a
  // ReadIndex request to its leader keeping the original sender (the leader answers the read to
  // that member), and a member deposed a moment ago forwards what it was sent on to the new
  // leader — so member 9's stream may carry member 7's prop and readIndex. Chaos runs saw these
  // close the stream ("prop message from X to Y on the stream from Z"), dropping everything
  // queued on it. A heartbeat from member 7 on member 9's stream is still refused.
  let b: Member | undefined;
  try {
    b = await startMember(2);
    const socket = connect({ host: "127.0.0.1", port: b.t.address.port });
    socket.on("error", () => {});
    // Read (and drop) the welcome, so that the server's close is seen.
    socket.resume();
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    const w = new FrameWriter(256);
    writeHello(w, clusterA, 9, 2);
    const forwarded: Message[] = [
      message({ type: MessageType.prop, from: 7, to: 2, entries: [entry(0, 5)] }),
      message({ type: MessageType.readIndex, from: 7, to: 2, entries: [entry(0, 4)] }),
      message({ type: MessageType.heartbeat, from: 9, to: 2, term: 1, commit: 1 }),
    ];
    writeMessages(w, forwarded, 1 << 20);
    socket.write(w.take());
    const bb = b;
    await waitFor("the three messages", () => bb.received.length === 3);
    assert.deepEqual(
      bb.received.map((m) => [m.type, m.from]),
      [
        [MessageType.prop, 7],
        [MessageType.readIndex, 7],
        [MessageType.heartbeat, 9],
      ],
    );
    const third = new FrameWriter(256);
    writeMessages(third, [message({ type: MessageType.heartbeat, from: 7, to: 2, term: 1 })], 1 << 20);
    socket.write(third.take());
    await closed;
    await waitFor("logged", () =>
      logged(bb.log, "warn", "heartbeat message from 7 to 2 on the stream from 9"),
    );
    assert.equal(bb.received.length, 3, "nothing from the refused frame was delivered");
  } finally {
    await closeAll(b);
  }
});
