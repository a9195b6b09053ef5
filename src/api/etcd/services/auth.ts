/**
 * The etcd Auth service (`etcdserverpb.Auth`): enabling auth, Authenticate (simple tokens), and
 * the management of users, roles and permissions, with etcd's semantics and errors.
 *
 * Changes go through the log as auth commands (`src/mvcc/auth.ts`), checked here at the auth
 * revision they carry. Reads (AuthStatus, UserGet/List, RoleGet/List) wait for a ReadIndex round
 * and read this member's state, as linearizable as etcd's (which sends them through the log).
 * With auth enabled every call but Authenticate needs the root role, except that a user may get
 * itself and the roles it holds (etcd's `authApplierV3`).
 *
 * Passwords are hashed here (scrypt, `auth/password.ts`) before a command is proposed, so no
 * password reaches the log and applying stays pure; a `hashedPassword` sent by a client (an etcd
 * 3.5 bcrypt hash) is ignored and `password` is hashed instead. Authenticate checks the password
 * against this member's state, then proposes the token; if the auth state moved meanwhile the
 * check is made again (etcd's optimistic loop), at most {@link authenticateAttemptsMax} times.
 * Failed attempts are limited per user and client address (`auth/limiter.ts`).
 */
import {
  type AuthCommand,
  type AuthPermission,
  MvccErrorCodes,
  type PermissionType,
  permissionTypes,
  rootName,
} from "../../../mvcc/mod.js";
import { AuthGate, type Caller } from "../auth/gate.js";
import { hashPassword, verifyPassword } from "../auth/password.js";
import { tokenPrefix } from "../auth/tokens.js";
import { EtcdServerErrorCode } from "../backend.js";
import { grpcErrorOf } from "../errors.js";
import { type CallContext, type MethodDef, unary } from "../grpc/server.js";
import type { MessageDesc } from "../proto/codec.js";
import {
  type AuthenticateRequestMsg,
  type AuthenticateResponseMsg,
  type AuthNameRequestMsg,
  type AuthRoleGetResponseMsg,
  type AuthRoleGrantPermissionRequestMsg,
  type AuthRoleListResponseMsg,
  type AuthRoleRevokePermissionRequestMsg,
  type AuthStatusResponseMsg,
  type AuthUserAddRequestMsg,
  type AuthUserChangePasswordRequestMsg,
  type AuthUserGetResponseMsg,
  type AuthUserGrantRoleRequestMsg,
  type AuthUserListResponseMsg,
  type AuthUserRevokeRoleRequestMsg,
  D,
  type HeaderOnlyMsg,
  type PermissionMsg,
} from "../proto/messages.js";
import { type ServiceContext, unwrap } from "./context.js";

/** Password checks Authenticate makes while the auth state keeps changing under it. */
export const authenticateAttemptsMax = 3;

/** etcd's root permission, which RoleGet reports for the root role: read-write on every key. */
const rootPermission: PermissionMsg = { permType: 2, key: new Uint8Array(0), rangeEnd: new Uint8Array([0]) };

function fail(code: Parameters<typeof grpcErrorOf>[0]["code"], detail: string): never {
  throw grpcErrorOf({ code, detail });
}

function permissionMsg(p: AuthPermission): PermissionMsg {
  return { permType: permissionTypes.indexOf(p.type), key: p.key, rangeEnd: p.rangeEnd };
}

/** The Auth service over one member. */
class AuthService {
  readonly #sc: ServiceContext;
  readonly #gate: AuthGate;
  /** A hash that no password matches in practice, checked for unknown users (equal timing). */
  #decoy: Promise<string> | null = null;

  constructor(sc: ServiceContext) {
    this.#sc = sc;
    this.#gate = sc.auth;
  }

  header(): HeaderOnlyMsg {
    return { header: this.#sc.header() };
  }

  /** The caller, who must be allowed admin calls. */
  async admin(ctx: CallContext): Promise<Caller> {
    return this.#sc.requireAdmin(ctx);
  }

  /** Proposes `command` checked with the caller's identity and revision; resolves once applied. */
  async change(caller: Caller, command: AuthCommand): Promise<HeaderOnlyMsg> {
    const auth = { revision: caller.authRevision, user: caller.user ?? "" };
    const r = unwrap(await this.#sc.backend.auth(command, auth));
    return { header: this.#sc.header(r.revision) };
  }

  /** Waits for this member to catch up (ReadIndex) before a read of the auth state. */
  async caughtUp(): Promise<void> {
    unwrap(await this.#sc.backend.readBarrier());
  }

  async hash(password: string): Promise<string> {
    return hashPassword(password, this.#gate.scryptLogN);
  }

  async status(ctx: CallContext): Promise<AuthStatusResponseMsg> {
    await this.admin(ctx);
    await this.caughtUp();
    const store = this.#gate.store;
    return { header: this.#sc.header(), enabled: store.enabled, authRevision: store.revision };
  }

  async authenticate(m: AuthenticateRequestMsg, ctx: CallContext): Promise<AuthenticateResponseMsg> {
    await this.caughtUp();
    const address = ctx.remoteAddress ?? "";
    for (let attempt = 1; ; attempt++) {
      const store = this.#gate.store;
      if (!store.enabled) fail(MvccErrorCodes.authNotEnabled, "authenticate while auth is disabled");
      if (this.#gate.limiter.blocked(m.name, address)) {
        fail(
          EtcdServerErrorCode.tooManyRequests,
          `too many failed attempts for '${m.name}' or from ${address}`,
        );
      }
      const checkedAt = store.revision;
      const user = store.user(m.name);
      const hash = user === undefined || user.noPassword ? await this.#decoyHash() : user.passwordHash;
      const matches = (await verifyPassword(m.password, hash)) && user !== undefined && !user.noPassword;
      if (!matches) {
        this.#gate.limiter.failed(m.name, address);
        fail(MvccErrorCodes.authFailed, `wrong user name or password for '${m.name}'`);
      }
      this.#gate.limiter.succeeded(m.name);
      // Checked at `checkedAt`: a change to the auth state meanwhile refuses it, and we retry.
      const r = await this.#sc.backend.auth(
        { type: "authenticate", name: m.name, tokenPrefix: tokenPrefix() },
        { revision: checkedAt, user: m.name },
      );
      if (r.ok) return { header: this.#sc.header(r.value.revision), token: r.value.token };
      if (r.error.code !== MvccErrorCodes.authOldRevision || attempt >= authenticateAttemptsMax) {
        throw grpcErrorOf(r.error);
      }
    }
  }

  #decoyHash(): Promise<string> {
    this.#decoy ??= hashPassword(tokenPrefix(), this.#gate.scryptLogN);
    return this.#decoy;
  }

  async userGet(m: AuthNameRequestMsg, ctx: CallContext): Promise<AuthUserGetResponseMsg> {
    const caller = await this.#gate.caller(ctx);
    const name = m.name ?? "";
    // As etcd: a user may read itself; anyone else needs the root role.
    if (caller.user !== name) AuthGate.enforce(this.#gate.adminDenial(caller));
    await this.caughtUp();
    const u = this.#gate.store.user(name);
    if (u === undefined) fail(MvccErrorCodes.authUserNotFound, `user '${name}'`);
    return { header: this.#sc.header(), roles: u.roles };
  }

  async roleGet(m: AuthNameRequestMsg, ctx: CallContext): Promise<AuthRoleGetResponseMsg> {
    const caller = await this.#gate.caller(ctx);
    const name = m.role ?? "";
    // As etcd: a user may read the roles it holds; anyone else needs the root role.
    const holds = caller.user !== null && this.#gate.store.user(caller.user)?.roles.includes(name) === true;
    if (!holds) AuthGate.enforce(this.#gate.adminDenial(caller));
    await this.caughtUp();
    const role = this.#gate.store.role(name);
    if (role === undefined) fail(MvccErrorCodes.authRoleNotFound, `role '${name}'`);
    const perm = name === rootName ? [rootPermission] : role.permissions.map(permissionMsg);
    return { header: this.#sc.header(), perm };
  }

  async userList(ctx: CallContext): Promise<AuthUserListResponseMsg> {
    await this.admin(ctx);
    await this.caughtUp();
    return { header: this.#sc.header(), users: this.#gate.store.userNames() };
  }

  async roleList(ctx: CallContext): Promise<AuthRoleListResponseMsg> {
    await this.admin(ctx);
    await this.caughtUp();
    return { header: this.#sc.header(), roles: this.#gate.store.roleNames() };
  }
}

/** The permission type of a wire `permType`; "permission not given" for an unknown one. */
function permissionTypeOf(n: number): PermissionType {
  const t = permissionTypes[n];
  if (t === undefined) fail(MvccErrorCodes.authPermissionNotGiven, `unknown permission type ${n}`);
  return t;
}

/** A unary Auth method whose handler makes one admin-checked change. */
function change<Req>(
  s: AuthService,
  reqDesc: MessageDesc,
  resDesc: MessageDesc,
  command: (m: Req) => AuthCommand | Promise<AuthCommand>,
): MethodDef {
  return unary<Req, HeaderOnlyMsg>(reqDesc, resDesc, async (m, ctx) => {
    const caller = await s.admin(ctx);
    return s.change(caller, await command(m));
  });
}

/** The Auth methods by gRPC path. */
export function authMethods(sc: ServiceContext): Record<string, MethodDef> {
  const s = new AuthService(sc);
  const p = (m: string): string => `/etcdserverpb.Auth/${m}`;
  return {
    [p("AuthEnable")]: change(s, D.AuthEnableRequest, D.AuthEnableResponse, () => ({ type: "authEnable" })),
    [p("AuthDisable")]: change(s, D.AuthDisableRequest, D.AuthDisableResponse, () => ({
      type: "authDisable",
    })),
    [p("AuthStatus")]: unary<Record<string, never>, AuthStatusResponseMsg>(
      D.AuthStatusRequest,
      D.AuthStatusResponse,
      (_m, ctx) => s.status(ctx),
    ),
    [p("Authenticate")]: unary<AuthenticateRequestMsg, AuthenticateResponseMsg>(
      D.AuthenticateRequest,
      D.AuthenticateResponse,
      (m, ctx) => s.authenticate(m, ctx),
    ),
    [p("UserAdd")]: change<AuthUserAddRequestMsg>(
      s,
      D.AuthUserAddRequest,
      D.AuthUserAddResponse,
      async (m) => {
        const noPassword = m.options?.noPassword === true;
        return {
          type: "userAdd",
          name: m.name,
          passwordHash: noPassword ? "" : await s.hash(m.password),
          noPassword,
        };
      },
    ),
    [p("UserGet")]: unary<AuthNameRequestMsg, AuthUserGetResponseMsg>(
      D.AuthUserGetRequest,
      D.AuthUserGetResponse,
      (m, ctx) => s.userGet(m, ctx),
    ),
    [p("UserList")]: unary<Record<string, never>, AuthUserListResponseMsg>(
      D.AuthUserListRequest,
      D.AuthUserListResponse,
      (_m, ctx) => s.userList(ctx),
    ),
    [p("UserDelete")]: change<AuthNameRequestMsg>(
      s,
      D.AuthUserDeleteRequest,
      D.AuthUserDeleteResponse,
      (m) => ({
        type: "userDelete",
        name: m.name ?? "",
      }),
    ),
    [p("UserChangePassword")]: change<AuthUserChangePasswordRequestMsg>(
      s,
      D.AuthUserChangePasswordRequest,
      D.AuthUserChangePasswordResponse,
      async (m) => ({ type: "userChangePassword", name: m.name, passwordHash: await s.hash(m.password) }),
    ),
    [p("UserGrantRole")]: change<AuthUserGrantRoleRequestMsg>(
      s,
      D.AuthUserGrantRoleRequest,
      D.AuthUserGrantRoleResponse,
      (m) => ({ type: "userGrantRole", user: m.user, role: m.role }),
    ),
    [p("UserRevokeRole")]: change<AuthUserRevokeRoleRequestMsg>(
      s,
      D.AuthUserRevokeRoleRequest,
      D.AuthUserRevokeRoleResponse,
      (m) => ({ type: "userRevokeRole", name: m.name, role: m.role }),
    ),
    [p("RoleAdd")]: change<AuthNameRequestMsg>(s, D.AuthRoleAddRequest, D.AuthRoleAddResponse, (m) => ({
      type: "roleAdd",
      name: m.name ?? "",
    })),
    [p("RoleGet")]: unary<AuthNameRequestMsg, AuthRoleGetResponseMsg>(
      D.AuthRoleGetRequest,
      D.AuthRoleGetResponse,
      (m, ctx) => s.roleGet(m, ctx),
    ),
    [p("RoleList")]: unary<Record<string, never>, AuthRoleListResponseMsg>(
      D.AuthRoleListRequest,
      D.AuthRoleListResponse,
      (_m, ctx) => s.roleList(ctx),
    ),
    [p("RoleDelete")]: change<AuthNameRequestMsg>(
      s,
      D.AuthRoleDeleteRequest,
      D.AuthRoleDeleteResponse,
      (m) => ({
        type: "roleDelete",
        name: m.role ?? "",
      }),
    ),
    [p("RoleGrantPermission")]: change<AuthRoleGrantPermissionRequestMsg>(
      s,
      D.AuthRoleGrantPermissionRequest,
      D.AuthRoleGrantPermissionResponse,
      (m) => {
        if (m.perm === null) fail(MvccErrorCodes.authPermissionNotGiven, "no permission in the request");
        const permission = {
          type: permissionTypeOf(m.perm.permType),
          key: m.perm.key,
          rangeEnd: m.perm.rangeEnd,
        };
        return { type: "roleGrantPermission", name: m.name, permission };
      },
    ),
    [p("RoleRevokePermission")]: change<AuthRoleRevokePermissionRequestMsg>(
      s,
      D.AuthRoleRevokePermissionRequest,
      D.AuthRoleRevokePermissionResponse,
      (m) => ({ type: "roleRevokePermission", name: m.role, key: m.key, rangeEnd: m.rangeEnd }),
    ),
  };
}
