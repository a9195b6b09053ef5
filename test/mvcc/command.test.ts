// Tests for the versioned command encoding and applyEntry: every command round-trips, malformed
// input is refused with a reason, replays are idempotent, and two members applying the same log
// end with identical hashes and snapshots.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type Command,
  commandRewritesHistory,
  decodeCommand,
  MvccErrorCodes as E,
  encodeCommand,
  encodeSnapshot,
  MvccStore,
  type TxnRequest,
  txnDepthMax,
} from "../../src/mvcc/mod.js";
import { b, must } from "./helpers.js";

const samples: Command[] = [
  {
    type: "range",
    request: {
      key: b("a"),
      rangeEnd: b("z"),
      limit: 10,
      revision: -1,
      sortOrder: "descend",
      sortTarget: "value",
      keysOnly: true,
      countOnly: false,
      minModRevision: 1,
      maxModRevision: 2,
      minCreateRevision: 3,
      maxCreateRevision: 4,
    },
  },
  {
    type: "put",
    request: {
      key: b("k"),
      value: new Uint8Array([0, 255]),
      lease: 2 ** 53 - 1,
      prevKv: true,
      ignoreValue: false,
      ignoreLease: true,
    },
  },
  { type: "deleteRange", request: { key: b("a"), rangeEnd: new Uint8Array([0]), prevKv: true } },
  {
    type: "txn",
    request: {
      compare: [
        { key: b("a"), rangeEnd: b("b"), target: "mod", result: "less", value: -5 },
        { key: b("v"), rangeEnd: new Uint8Array(0), target: "value", result: "notEqual", value: b("x") },
      ],
      success: [
        { type: "empty" },
        {
          type: "txn",
          request: {
            compare: [],
            success: [
              {
                type: "put",
                request: {
                  key: b("n"),
                  value: b("1"),
                  lease: 0,
                  prevKv: false,
                  ignoreValue: false,
                  ignoreLease: false,
                },
              },
            ],
            failure: [
              { type: "deleteRange", request: { key: b("n"), rangeEnd: new Uint8Array(0), prevKv: false } },
            ],
          },
        },
      ],
      failure: [
        {
          type: "range",
          request: {
            key: b("r"),
            rangeEnd: new Uint8Array(0),
            limit: 0,
            revision: 0,
            sortOrder: "none",
            sortTarget: "key",
            keysOnly: false,
            countOnly: true,
            minModRevision: 0,
            maxModRevision: 0,
            minCreateRevision: 0,
            maxCreateRevision: 0,
          },
        },
      ],
    },
  },
  { type: "compact", revision: 123_456_789 },
  { type: "leaseGrant", request: { id: 0, ttl: -3 } },
  { type: "leaseRevoke", id: 77 },
  {
    type: "leaseCheckpoint",
    checkpoints: [
      { id: 1, remainingTtl: 5 },
      { id: 2, remainingTtl: 0 },
    ],
  },
  { type: "alarm", request: { action: "deactivate", memberId: 99, alarm: "noSpace" } },
];

test("encodeCommand/decodeCommand: every command type round-trips exactly", () => {
  // Proves the version-1 encoding carries every field of every command and the request id.
  for (const [i, command] of samples.entries()) {
    const data = encodeCommand({ requestId: 1000 + i, command });
    assert.equal(data[0], 1, "version byte");
    const back = decodeCommand(data);
    assert.deepEqual(back, { requestId: 1000 + i, command }, command.type);
  }
});

test("commandRewritesHistory: true for compactions only, with or without auth, false for garbage", () => {
  // Proves the header peek a member uses to hold compactions back while a snapshot is encoded.
  for (const [i, command] of samples.entries()) {
    for (const auth of [undefined, { revision: 3, user: "alice" }]) {
      const data = encodeCommand(
        auth === undefined ? { requestId: i, command } : { requestId: i, command, auth },
      );
      assert.equal(
        commandRewritesHistory(data),
        command.type === "compact",
        `${command.type} auth=${auth !== undefined}`,
      );
    }
  }
  assert.ok(samples.some((c) => c.type === "compact"));
  const compact = encodeCommand({ requestId: 1, command: { type: "compact", revision: 9 } });
  assert.equal(commandRewritesHistory(compact.subarray(0, 2)), false);
  assert.equal(commandRewritesHistory(new Uint8Array([7, 1, 5])), false);
  assert.equal(commandRewritesHistory(new Uint8Array(0)), false);
});

test("decodeCommand: malformed input is refused with a reason", () => {
  // Proves unknown versions and types, truncation, trailing bytes and over-deep nesting are rejected.
  const good = encodeCommand({
    requestId: 5,
    command: { type: "put", request: { key: b("k"), value: b("v") } },
  });
  const versioned = good.slice();
  versioned[0] = 3;
  assert.equal(decodeCommand(versioned), "unknown command encoding version 3");
  const typed = good.slice();
  typed[2] = 200;
  assert.equal(decodeCommand(typed), "unknown command type 200");
  assert.match(String(decodeCommand(good.subarray(0, good.length - 1))), /malformed command/);
  assert.match(String(decodeCommand(new Uint8Array([...good, 0]))), /trailing bytes/);
  assert.match(String(decodeCommand(new Uint8Array(0))), /malformed command/);
  let deep: TxnRequest = { compare: [], success: [], failure: [] };
  for (let i = 0; i <= txnDepthMax + 1; i++)
    deep = { compare: [], success: [{ type: "txn", request: deep }], failure: [] };
  assert.match(
    String(decodeCommand(encodeCommand({ requestId: 1, command: { type: "txn", request: deep } }))),
    /nested deeper/,
  );
});

test("MvccStore applyEntry: applies commands, skips replays, passes no-ops and returns request ids", () => {
  // Proves the consistent-index rule: re-applying an index at or below the applied index changes nothing.
  const s = new MvccStore();
  const put = encodeCommand({
    requestId: 42,
    command: { type: "put", request: { key: b("k"), value: b("v") } },
  });
  const out = s.applyEntry(1, put);
  assert.ok(out.type === "command");
  assert.equal(out.requestId, 42);
  assert.ok(out.result.ok && out.result.value.type === "put");
  assert.equal(out.result.value.response.revision, 2);
  assert.deepEqual(s.applyEntry(1, put), { type: "skipped" });
  assert.deepEqual(s.applyEntry(2, new Uint8Array(0)), { type: "noop" });
  assert.equal(s.appliedIndex, 2);
  assert.equal(s.currentRevision, 2);
  assert.throws(() => s.applyEntry(3, new Uint8Array([9, 9])), /malformed command/);
});

test("MvccStore applyEntry: a command over the request size limit fails with 'request is too large'", () => {
  // Proves the request-size limit is enforced deterministically at apply time too.
  const s = new MvccStore({ limits: { requestBytesMax: 100 } });
  const big = encodeCommand({
    requestId: 1,
    command: { type: "put", request: { key: b("k"), value: new Uint8Array(200) } },
  });
  const out = s.applyEntry(1, big);
  assert.ok(out.type === "command" && !out.result.ok);
  assert.equal(out.result.error.code, E.requestTooLarge);
  assert.equal(out.result.error.message, "etcdserver: request is too large");
  assert.equal(s.currentRevision, 1);
});

test("MvccStore determinism: two members applying the same log have identical hashes and snapshots", () => {
  // Proves the state machine is deterministic: same commands → same HashKV and byte-identical snapshots.
  const log: Uint8Array[] = [];
  let x = 12345;
  const next = (n: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % n;
  };
  for (let i = 0; i < 3000; i++) {
    const key = b(`k${next(50)}`);
    let command: Command;
    const r = next(20);
    if (r < 10)
      command = { type: "put", request: { key, value: b(`v${i}`), lease: next(4) === 0 ? 1 + next(3) : 0 } };
    else if (r < 13) command = { type: "deleteRange", request: { key, rangeEnd: b(`k${next(50)}`) } };
    else if (r < 15) command = { type: "leaseGrant", request: { id: 1 + next(3), ttl: 10 } };
    else if (r < 16) command = { type: "leaseRevoke", id: 1 + next(3) };
    else if (r < 17) command = { type: "compact", revision: Math.max(1, i - next(200)) };
    else {
      command = {
        type: "txn",
        request: {
          compare: [{ key, target: "version", result: "greater", value: next(3) }],
          success: [{ type: "put", request: { key, value: b("t") } }],
          failure: [{ type: "deleteRange", request: { key } }],
        },
      };
    }
    log.push(encodeCommand({ requestId: i, command }));
  }
  const a = new MvccStore();
  const c = new MvccStore();
  for (const [i, e] of log.entries()) {
    a.applyEntry(i + 1, e);
    c.applyEntry(i + 1, e);
  }
  assert.ok(a.currentRevision > 1000);
  assert.deepEqual(must(a.hashKv()), must(c.hashKv()));
  const bytes = (s: MvccStore): number[] => [...encodeSnapshot(s)].flatMap((chunk) => [...chunk]);
  assert.deepEqual(bytes(a), bytes(c));
});
