// Tests of the replicated auth state machine (src/mvcc/auth.ts) and its place in the MVCC store:
// etcd's rules for users, roles and enabling, the auth revision, token minting and events, the
// apply-time guard, the command encoding and the snapshot.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type AuthCommand,
  type AuthEvent,
  AuthStore,
  type Command,
  decodeCommand,
  decodeSnapshot,
  MvccErrorCodes as E,
  encodeCommand,
  encodeSnapshot,
  type MvccResult,
  MvccStore,
} from "../../src/mvcc/mod.js";
import { b, must, mustFail } from "./helpers.js";

const ZERO = new Uint8Array([0]);
const NONE = new Uint8Array(0);

/** Applies commands in order at indexes 1, 2, ...; returns the last result. */
function run(a: AuthStore, ...cmds: AuthCommand[]): MvccResult<{ authRevision: number; token: string }> {
  let r: MvccResult<{ authRevision: number; token: string }> = {
    ok: true,
    value: { authRevision: 0, token: "" },
  };
  for (const [i, c] of cmds.entries()) r = a.apply(c, 100 + i);
  return r;
}

/** A store with user root (role root) and password hash "h". */
function withRoot(): AuthStore {
  const a = new AuthStore();
  must(run(a, { type: "userAdd", name: "root", passwordHash: "h", noPassword: false }));
  must(run(a, { type: "userGrantRole", user: "root", role: "root" }));
  return a;
}

test("AuthStore: enabling needs user root with role root; enabling does not move the revision", () => {
  // Proves etcd's AuthEnable preconditions and errors, and that a repeated enable is a no-op.
  const a = new AuthStore();
  assert.equal(a.revision, 1, "the auth revision starts at 1, as etcd");
  assert.equal(mustFail(run(a, { type: "authEnable" })).code, E.authRootUserNotExist);
  must(run(a, { type: "userAdd", name: "root", passwordHash: "h", noPassword: false }));
  assert.equal(mustFail(run(a, { type: "authEnable" })).code, E.authRootRoleNotExist);
  must(run(a, { type: "userGrantRole", user: "root", role: "root" }));
  const rev = a.revision;
  assert.equal(rev, 3);
  must(run(a, { type: "authEnable" }));
  assert.equal(a.enabled, true);
  assert.equal(a.revision, rev, "enable leaves the revision");
  must(run(a, { type: "authEnable" }));
  must(run(a, { type: "authDisable" }));
  assert.equal(a.enabled, false);
  assert.equal(a.revision, rev + 1, "disable moves it");
  must(run(a, { type: "authDisable" }));
  assert.equal(a.revision, rev + 1, "a repeated disable is a no-op");
});

test("AuthStore: user and role lifecycle with etcd's errors; every change moves the revision", () => {
  // Proves UserAdd/Delete/ChangePassword/GrantRole/RevokeRole and RoleAdd/Delete/Grant/Revoke
  // semantics: duplicates, unknown names, empty names, idempotent grants, role deletion cascades.
  const a = new AuthStore();
  const rev = (): number => a.revision;
  assert.equal(
    mustFail(run(a, { type: "userAdd", name: "", passwordHash: "h", noPassword: false })).code,
    E.authUserEmpty,
  );
  assert.equal(mustFail(run(a, { type: "roleAdd", name: "" })).code, E.authRoleEmpty);
  must(run(a, { type: "userAdd", name: "alice", passwordHash: "h1", noPassword: false }));
  assert.equal(rev(), 2);
  assert.equal(
    mustFail(run(a, { type: "userAdd", name: "alice", passwordHash: "x", noPassword: false })).code,
    E.authUserAlreadyExists,
  );
  assert.equal(
    mustFail(run(a, { type: "userGrantRole", user: "alice", role: "app" })).code,
    E.authRoleNotFound,
  );
  assert.equal(
    mustFail(run(a, { type: "userGrantRole", user: "bob", role: "root" })).code,
    E.authUserNotFound,
  );
  must(run(a, { type: "roleAdd", name: "app" }));
  assert.equal(mustFail(run(a, { type: "roleAdd", name: "app" })).code, E.authRoleAlreadyExists);
  must(run(a, { type: "userGrantRole", user: "alice", role: "app" }));
  const afterGrant = rev();
  must(run(a, { type: "userGrantRole", user: "alice", role: "app" }));
  assert.equal(rev(), afterGrant, "granting a held role again changes nothing");
  assert.deepEqual(a.user("alice")?.roles, ["app"]);
  assert.equal(
    mustFail(run(a, { type: "userRevokeRole", name: "alice", role: "ops" })).code,
    E.authRoleNotGranted,
  );
  const perm = { type: "read" as const, key: b("/app/"), rangeEnd: b("/app0") };
  must(run(a, { type: "roleGrantPermission", name: "app", permission: perm }));
  must(run(a, { type: "roleGrantPermission", name: "app", permission: { ...perm, type: "readwrite" } }));
  assert.deepEqual(
    a.role("app")?.permissions.map((p) => p.type),
    ["readwrite"],
    "granting the same range again replaces its type",
  );
  must(
    run(a, {
      type: "roleGrantPermission",
      name: "app",
      permission: { type: "write", key: b("/a"), rangeEnd: NONE },
    }),
  );
  assert.deepEqual(
    a.role("app")?.permissions.map((p) => new TextDecoder().decode(p.key)),
    ["/a", "/app/"],
    "permissions are kept sorted by key",
  );
  assert.equal(
    mustFail(run(a, { type: "roleRevokePermission", name: "app", key: b("/app/"), rangeEnd: NONE })).code,
    E.authPermissionNotGranted,
    "revoking needs the exact key and range end",
  );
  must(run(a, { type: "roleRevokePermission", name: "app", key: b("/app/"), rangeEnd: b("/app0") }));
  assert.equal(
    mustFail(run(a, { type: "roleGrantPermission", name: "x", permission: perm })).code,
    E.authRoleNotFound,
  );
  must(run(a, { type: "roleDelete", name: "app" }));
  assert.deepEqual(a.user("alice")?.roles, [], "deleting a role revokes it from every user");
  assert.equal(mustFail(run(a, { type: "roleDelete", name: "app" })).code, E.authRoleNotFound);
  must(run(a, { type: "userChangePassword", name: "alice", passwordHash: "h2" }));
  assert.equal(a.user("alice")?.passwordHash, "h2");
  assert.equal(
    mustFail(run(a, { type: "userChangePassword", name: "bob", passwordHash: "x" })).code,
    E.authUserNotFound,
  );
  must(run(a, { type: "userAdd", name: "svc", passwordHash: "ignored", noPassword: true }));
  assert.equal(a.user("svc")?.passwordHash, "", "a no-password user stores no hash");
  must(run(a, { type: "userDelete", name: "alice" }));
  assert.equal(mustFail(run(a, { type: "userDelete", name: "alice" })).code, E.authUserNotFound);
  assert.deepEqual(a.userNames(), ["svc"]);
  assert.equal(rev(), 12, "one revision per change, none for failures or no-ops");
});

test("AuthStore: root cannot be deleted or lose the root role while auth is enabled", () => {
  // Proves etcd's ErrInvalidAuthMgmt guards, and that they lift once auth is disabled.
  const a = withRoot();
  must(run(a, { type: "roleAdd", name: "root" }));
  must(run(a, { type: "authEnable" }));
  assert.equal(mustFail(run(a, { type: "userDelete", name: "root" })).code, E.authInvalidMgmt);
  assert.equal(
    mustFail(run(a, { type: "userRevokeRole", name: "root", role: "root" })).code,
    E.authInvalidMgmt,
  );
  assert.equal(mustFail(run(a, { type: "roleDelete", name: "root" })).code, E.authInvalidMgmt);
  must(run(a, { type: "authDisable" }));
  must(run(a, { type: "userRevokeRole", name: "root", role: "root" }));
  must(run(a, { type: "userDelete", name: "root" }));
});

test("AuthStore: authenticate mints '<prefix>.<index>' and token events follow users and auth", () => {
  // Proves tokens are minted deterministically from the proposer's prefix and the log index, only
  // for existing password users with auth on, and that deletions, password changes and disabling
  // invalidate tokens through events.
  const a = withRoot();
  const events: AuthEvent[] = [];
  a.listener = (e) => events.push(e);
  assert.equal(
    mustFail(a.apply({ type: "authenticate", name: "root", tokenPrefix: "p" }, 7)).code,
    E.authNotEnabled,
  );
  must(run(a, { type: "authEnable" }));
  const t = must(a.apply({ type: "authenticate", name: "root", tokenPrefix: "abcDEF" }, 42));
  assert.equal(t.token, "abcDEF.42");
  assert.equal(
    mustFail(a.apply({ type: "authenticate", name: "ghost", tokenPrefix: "p" }, 43)).code,
    E.authFailed,
  );
  must(run(a, { type: "userAdd", name: "svc", passwordHash: "", noPassword: true }));
  assert.equal(
    mustFail(a.apply({ type: "authenticate", name: "svc", tokenPrefix: "p" }, 44)).code,
    E.authFailed,
  );
  assert.equal(
    mustFail(a.apply({ type: "authenticate", name: "root", tokenPrefix: "a.b" }, 45)).code,
    E.authInvalidMgmt,
  );
  must(run(a, { type: "userAdd", name: "u", passwordHash: "h", noPassword: false }));
  must(run(a, { type: "userChangePassword", name: "u", passwordHash: "h2" }));
  must(run(a, { type: "userDelete", name: "u" }));
  must(run(a, { type: "authDisable" }));
  assert.deepEqual(events, [
    { type: "token", token: "abcDEF.42", user: "root" },
    { type: "invalidateUser", user: "u" },
    { type: "invalidateUser", user: "u" },
    { type: "dropAll" },
  ]);
});

test("AuthStore.checkGuard: a request checked at an older auth revision, or with auth off, is refused", () => {
  // Proves the apply-time half of every permission check: stale checks fail with "revision of auth
  // store is old", checks made while auth was disabled fail with "user name is empty".
  const a = withRoot();
  assert.equal(a.checkGuard(0), null, "auth disabled: nothing to check");
  assert.equal(a.checkGuard(1), null);
  must(run(a, { type: "authEnable" }));
  assert.equal(a.checkGuard(a.revision), null);
  assert.equal(a.checkGuard(a.revision - 1)?.code, E.authOldRevision);
  assert.equal(a.checkGuard(0)?.code, E.authUserEmpty);
});

test("MvccStore.applyEntry: a guarded write applies only at the auth revision it was checked at", () => {
  // Proves the guard in the log path: a put checked before an auth change fails and writes nothing;
  // the same put checked at the current revision applies; unguarded commands are not checked.
  const s = new MvccStore();
  let index = 1;
  const apply = (command: Command, authRevision?: number) =>
    s.applyEntry(
      index++,
      encodeCommand(
        authRevision === undefined
          ? { requestId: 1, command }
          : { requestId: 1, command, auth: { revision: authRevision, user: "root" } },
      ),
    );
  for (const c of [
    { type: "userAdd", name: "root", passwordHash: "h", noPassword: false },
    { type: "userGrantRole", user: "root", role: "root" },
    { type: "authEnable" },
  ] as const) {
    apply({ type: "auth", request: c }, 0);
  }
  assert.equal(s.auth.enabled, true);
  const checkedAt = s.auth.revision;
  apply({ type: "auth", request: { type: "roleAdd", name: "x" } }, checkedAt);
  const stale = apply({ type: "put", request: { key: b("k"), value: b("v") } }, checkedAt);
  assert.equal(
    stale.type === "command" && !stale.result.ok ? stale.result.error.code : "",
    E.authOldRevision,
  );
  assert.equal(s.currentRevision, 1, "nothing was written");
  const fresh = apply({ type: "put", request: { key: b("k"), value: b("v") } }, s.auth.revision);
  assert.equal(fresh.type === "command" && fresh.result.ok, true);
  const internal = apply({ type: "put", request: { key: b("k2"), value: b("v") } });
  assert.equal(
    internal.type === "command" && internal.result.ok,
    true,
    "server-internal commands are unchecked",
  );
  const token = apply(
    { type: "auth", request: { type: "authenticate", name: "root", tokenPrefix: "P" } },
    s.auth.revision,
  );
  assert.deepEqual(token.type === "command" && token.result.ok ? token.result.value : null, {
    type: "auth",
    response: { revision: 3, authRevision: s.auth.revision, token: `P.${index - 1}` },
  });
});

test("MvccStore.checkWriteAuth: lease keys are re-checked at apply, for revokes and for puts that attach", () => {
  // Proves etcd's apply-time checkLeasePuts: a key attached to a lease after the API layer checked
  // a revoke (or a put attaching that lease, also inside either txn branch) is checked again, so a
  // user cannot delete or extend a key it may not write; root may.
  const s = new MvccStore();
  for (const [i, request] of [
    { type: "userAdd", name: "root", passwordHash: "h", noPassword: false },
    { type: "userGrantRole", user: "root", role: "root" },
    { type: "roleAdd", name: "app" },
    {
      type: "roleGrantPermission",
      name: "app",
      permission: { type: "readwrite", key: b("/app/"), rangeEnd: b("/app0") },
    },
    { type: "userAdd", name: "w", passwordHash: "h", noPassword: false },
    { type: "userGrantRole", user: "w", role: "app" },
    { type: "authEnable" },
  ].entries()) {
    must(s.applyAuth(request as AuthCommand, i + 1));
  }
  const id = must(s.leaseGrant({ id: 0, ttl: 60 })).id;
  must(s.put({ key: b("/app/mine"), value: b("1"), lease: id }));
  const asW = { revision: s.auth.revision, user: "w" };
  const revoke: Command = { type: "leaseRevoke", id };
  assert.equal(s.checkWriteAuth(revoke, asW), null, "only keys it may write so far");
  must(s.put({ key: b("/secret"), value: b("s"), lease: id }));
  assert.equal(s.checkWriteAuth(revoke, asW)?.code, E.authPermissionDenied);
  const attach: Command = { type: "put", request: { key: b("/app/x"), value: b("2"), lease: id } };
  assert.equal(s.checkWriteAuth(attach, asW)?.code, E.authPermissionDenied);
  const nestedPut = { type: "put", request: { key: b("/app/y"), lease: id } } as const;
  const inTxn: Command = {
    type: "txn",
    request: {
      compare: [],
      success: [],
      failure: [{ type: "txn", request: { compare: [], success: [nestedPut], failure: [] } }],
    },
  };
  assert.equal(s.checkWriteAuth(inTxn, asW)?.code, E.authPermissionDenied);
  assert.equal(s.checkWriteAuth({ type: "put", request: { key: b("/app/z"), value: b("3") } }, asW), null);
  assert.equal(s.checkWriteAuth(revoke, { revision: s.auth.revision, user: "" })?.code, E.authUserEmpty);
  assert.equal(s.checkWriteAuth(revoke, { revision: s.auth.revision, user: "root" }), null);
});

test("encodeCommand/decodeCommand: auth commands and the auth revision round-trip", () => {
  // Proves the version-2 envelope carries the user and auth revision and every auth command's fields.
  const cmds: AuthCommand[] = [
    { type: "authEnable" },
    { type: "authDisable" },
    { type: "authenticate", name: "ü", tokenPrefix: "abc" },
    { type: "userAdd", name: "u", passwordHash: "scrypt$1$2$3$s$h", noPassword: true },
    { type: "userDelete", name: "u" },
    { type: "userChangePassword", name: "u", passwordHash: "x" },
    { type: "userGrantRole", user: "u", role: "r" },
    { type: "userRevokeRole", name: "u", role: "r" },
    { type: "roleAdd", name: "r" },
    { type: "roleDelete", name: "r" },
    { type: "roleGrantPermission", name: "r", permission: { type: "write", key: b("a"), rangeEnd: ZERO } },
    { type: "roleRevokePermission", name: "r", key: b("a"), rangeEnd: new Uint8Array([0xff, 0]) },
  ];
  for (const [i, request] of cmds.entries()) {
    const envelope = {
      requestId: i,
      command: { type: "auth", request } as Command,
      auth: { revision: i * 7, user: `user-${i}` },
    };
    const data = encodeCommand(envelope);
    assert.equal(data[0], 2, "version byte");
    assert.deepEqual(decodeCommand(data), envelope, request.type);
  }
  const plain = encodeCommand({ requestId: 9, command: { type: "compact", revision: 3 } });
  assert.equal(plain[0], 1, "commands without an auth revision keep version 1");
  assert.deepEqual(decodeCommand(plain), { requestId: 9, command: { type: "compact", revision: 3 } });
});

test("encodeSnapshot/decodeSnapshot: the auth state is part of the snapshot", () => {
  // Proves users (hashes, roles, no-password), roles (permissions), the enabled flag and the auth
  // revision survive a snapshot, so a restarted or caught-up member enforces the same rules.
  const s = new MvccStore();
  const a = s.auth;
  must(run(a, { type: "userAdd", name: "root", passwordHash: "hash-root", noPassword: false }));
  must(run(a, { type: "userGrantRole", user: "root", role: "root" }));
  must(run(a, { type: "roleAdd", name: "reader" }));
  must(
    run(a, {
      type: "roleGrantPermission",
      name: "reader",
      permission: { type: "read", key: b("/app/"), rangeEnd: b("/app0") },
    }),
  );
  must(run(a, { type: "userAdd", name: "svc", passwordHash: "", noPassword: true }));
  must(run(a, { type: "userGrantRole", user: "svc", role: "reader" }));
  must(run(a, { type: "authEnable" }));
  must(s.put({ key: b("/app/x"), value: b("1") }));
  const restored = decodeSnapshot(encodeSnapshot(s, 64));
  assert.ok(restored instanceof MvccStore, String(restored));
  const r = restored.auth;
  assert.equal(r.enabled, true);
  assert.equal(r.revision, a.revision);
  assert.deepEqual(r.allUsers(), a.allUsers());
  assert.deepEqual(r.allRoles(), a.allRoles());
  assert.equal(r.isPermitted("svc", b("/app/x"), NONE, "read"), true);
  assert.equal(r.isPermitted("svc", b("/app/x"), NONE, "write"), false);
  assert.equal(restored.currentRevision, 2);
});
