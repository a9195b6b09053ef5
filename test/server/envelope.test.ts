// The proposal envelope: what a member puts in a log entry around an MVCC command.
import assert from "node:assert/strict";
import { test } from "node:test";
import { type CommandEnvelope, encodeCommand, utf8 } from "../../src/mvcc/mod.js";
import { EnvelopeEncoder, unwrapCommand, wrapCommand } from "../../src/server/envelope.js";

test("EnvelopeEncoder: encodes exactly as wrapCommand of encodeCommand, call after call, large or small", () => {
  // Proves the reused writer leaves nothing of one proposal in the next (smaller) one, that a
  // command past the kept-buffer size is encoded whole, and that unwrapCommand reads both back.
  const member = 2 ** 40 + 77;
  const enc = new EnvelopeEncoder(member);
  const envelopes: CommandEnvelope[] = [
    {
      requestId: 1,
      command: { type: "put", request: { key: utf8("a"), value: new Uint8Array(300).fill(7) } },
    },
    { requestId: 2, command: { type: "put", request: { key: utf8("b"), value: utf8("x") } } },
    {
      requestId: 3,
      command: { type: "put", request: { key: utf8("c"), value: new Uint8Array(100_000).fill(9) } },
    },
    { requestId: 4, command: { type: "leaseRevoke", id: 5 }, auth: { user: "u", revision: 3 } },
    { requestId: 5, command: { type: "deleteRange", request: { key: utf8("d") } } },
  ];
  for (const e of envelopes) {
    const got = enc.encode(e);
    assert.deepEqual(got, wrapCommand(member, encodeCommand(e)));
    const back = unwrapCommand(got);
    assert.equal(back.member, member);
    assert.deepEqual(back.command, encodeCommand(e));
  }
});
