// Bad input sent to a real synod process (one member over TCP): etcd's error for each, and the
// member keeps serving.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { GrpcStatus } from "../../src/api/etcd/grpc/status.js";
import { encodeMessage } from "../../src/api/etcd/proto/codec.js";
import { D } from "../../src/api/etcd/proto/messages.js";
import { etcdctl, ProcessCluster, type ProcessMember, waitFor } from "../../src/testing/procs.js";
import { b, rawGrpc } from "../api/etcd/helpers.js";

const mainJs = join(process.cwd(), "dist/src/cli/main.js");

test("synod bad input: malformed protobuf, oversized request, invalid sort, unknown lease, duplicate txn keys, watch below compaction", async () => {
  // Proves the process answers each bad request with etcd's status and text, never crashes, and
  // keeps serving writes and reads afterwards.
  const c = await ProcessCluster.create(1, mainJs, ["--max-request-bytes=4096"]);
  const [m] = c.members as [ProcessMember];
  try {
    c.start(m, "new", `${m.name}=http://127.0.0.1:${m.peerPort}`);
    const ep = c.endpoints([m]);
    await waitFor("the member", async () => (await etcdctl(ep, ["put", "k", "v1"], "1s")).code === 0, 15_000);
    const port = m.clientPort;
    const malformed = await rawGrpc(port, "/etcdserverpb.KV/Put", new Uint8Array([0x0a, 0x10, 0x61]));
    assert.equal(malformed.grpcStatus, GrpcStatus.invalidArgument);
    const big = await rawGrpc(
      port,
      "/etcdserverpb.KV/Put",
      encodeMessage(D.PutRequest, { key: b("big"), value: new Uint8Array(8192) }),
    );
    assert.deepEqual(
      [big.grpcStatus, big.grpcMessage],
      [GrpcStatus.invalidArgument, "etcdserver: request is too large"],
    );
    const sort = await rawGrpc(
      port,
      "/etcdserverpb.KV/Range",
      encodeMessage(D.RangeRequest, { key: b("a"), sortOrder: 9 }),
    );
    assert.deepEqual(
      [sort.grpcStatus, sort.grpcMessage],
      [GrpcStatus.invalidArgument, "etcdserver: invalid sort option"],
    );
    const revoke = await etcdctl(ep, ["lease", "revoke", "123456"]);
    assert.match(revoke.stderr, /etcdserver: requested lease not found/);
    const dup = await etcdctl(ep, ["txn"], "5s", "\nput a 1\nput a 2\n\n\n");
    assert.match(dup.stderr, /etcdserver: duplicate key given in txn request/);
    assert.equal((await etcdctl(ep, ["put", "k", "v2"])).code, 0);
    const rev = Number(JSON.parse((await etcdctl(ep, ["get", "k", "-w", "json"])).stdout).header.revision);
    assert.equal((await etcdctl(ep, ["compaction", String(rev)])).code, 0);
    const watch = await etcdctl(ep, ["watch", "k", "--rev=2"], "2s");
    assert.match(watch.stderr + watch.stdout, /required revision has been compacted/);
    // Still serving.
    assert.equal((await etcdctl(ep, ["put", "after", "ok"])).stdout.trim(), "OK");
    assert.equal((await etcdctl(ep, ["get", "after", "--print-value-only"])).stdout.trim(), "ok");
  } finally {
    await c.destroy();
  }
});
