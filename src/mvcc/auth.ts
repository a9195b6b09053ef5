/**
 * The replicated part of etcd's authentication and role-based access control: whether auth is
 * enabled, the auth revision, users (password hash, roles) and roles (key-range permissions).
 * Every change arrives as a committed {@link AuthCommand} and applies identically on every member;
 * the state is part of the MVCC snapshot. Pure: password hashes are computed by the API layer
 * before a command is proposed, and tokens are minted from a prefix the proposer chose and the
 * log index, so applying needs no clock and no randomness.
 *
 * The auth revision starts at 1 and grows by one with every change except AuthEnable (as etcd).
 * A request checked against the auth state at revision R carries R in its command envelope; if
 * the revision moved before the command applies, it fails with "revision of auth store is old"
 * and the client re-authenticates and retries (see {@link AuthStore.checkGuard}).
 */
import { IntervalSet, intervalOf, type KeyInterval } from "./authperm.js";
import { bytesEqual, compareBytes, utf8 } from "./bytes.js";
import { fail, failure, MvccErrorCode, type MvccFailure, type MvccResult, ok } from "./errors.js";

/** The user and role every enabled cluster needs (etcd's `root`). */
export const rootName = "root";
/** Most users. */
export const authUsersMax = 65_536;
/** Most roles. */
export const authRolesMax = 65_536;
/** Most roles granted to one user. */
export const authRolesPerUserMax = 1024;
/** Most permissions of one role. */
export const authPermissionsPerRoleMax = 4096;
/** Longest user or role name, in UTF-8 bytes. */
export const authNameBytesMax = 4096;
/** Longest stored password hash (the API layer's encoded KDF output), in bytes. */
export const authPasswordHashBytesMax = 1024;
/** Longest token prefix chosen by a proposer. */
export const authTokenPrefixBytesMax = 256;

/** Permission types with etcd's `authpb.Permission.Type` order (READ = 0, WRITE = 1, READWRITE = 2). */
export const PermissionType = { read: "read", write: "write", readwrite: "readwrite" } as const;
/** One of {@link PermissionType}. */
export type PermissionType = (typeof PermissionType)[keyof typeof PermissionType];
/** The permission types in wire order. */
export const permissionTypes: readonly PermissionType[] = ["read", "write", "readwrite"];

/** A key-range permission (etcd's `authpb.Permission`); range conventions in `authperm.ts`. */
export interface AuthPermission {
  readonly type: PermissionType;
  readonly key: Uint8Array;
  readonly rangeEnd: Uint8Array;
}

/** A role and its permissions, sorted by key. */
export interface AuthRole {
  readonly name: string;
  readonly permissions: readonly AuthPermission[];
}

/** A user: its password hash ("" for a user without password) and its roles, sorted. */
export interface AuthUser {
  readonly name: string;
  readonly passwordHash: string;
  readonly noPassword: boolean;
  readonly roles: readonly string[];
}

/** A change to the auth state (one per etcd Auth RPC that writes), as proposed to the log. */
export type AuthCommand =
  | { readonly type: "authEnable" }
  | { readonly type: "authDisable" }
  | { readonly type: "authenticate"; readonly name: string; readonly tokenPrefix: string }
  | {
      readonly type: "userAdd";
      readonly name: string;
      readonly passwordHash: string;
      readonly noPassword: boolean;
    }
  | { readonly type: "userDelete"; readonly name: string }
  | { readonly type: "userChangePassword"; readonly name: string; readonly passwordHash: string }
  | { readonly type: "userGrantRole"; readonly user: string; readonly role: string }
  | { readonly type: "userRevokeRole"; readonly name: string; readonly role: string }
  | { readonly type: "roleAdd"; readonly name: string }
  | { readonly type: "roleDelete"; readonly name: string }
  | { readonly type: "roleGrantPermission"; readonly name: string; readonly permission: AuthPermission }
  | {
      readonly type: "roleRevokePermission";
      readonly name: string;
      readonly key: Uint8Array;
      readonly rangeEnd: Uint8Array;
    };

/** What applying an {@link AuthCommand} produced: the auth revision after it, and a token for Authenticate. */
export interface AuthApplied {
  readonly authRevision: number;
  /** The minted token (`<prefix>.<log index>`, etcd's simple-token form); "" for other commands. */
  readonly token: string;
}

/**
 * What the API layer's token table hears while commands apply: a token minted, a user's tokens
 * invalidated (deleted, or password changed), every token dropped (auth disabled, or the state
 * replaced by a snapshot).
 */
export type AuthEvent =
  | { readonly type: "token"; readonly token: string; readonly user: string }
  | { readonly type: "invalidateUser"; readonly user: string }
  | { readonly type: "dropAll" };

/** The merged grants of one user. */
interface UserGrants {
  readonly root: boolean;
  readonly read: IntervalSet;
  readonly write: IntervalSet;
}

/** The auth state machine; see the file comment. */
export class AuthStore {
  #enabled = false;
  #revision = 1;
  readonly #users = new Map<string, AuthUser>();
  readonly #roles = new Map<string, AuthRole>();
  /** Merged grants by user name, rebuilt lazily after every change. */
  readonly #grants = new Map<string, UserGrants | null>();
  /** Observer of token events; the API layer's token table (null: nobody listens). */
  listener: ((event: AuthEvent) => void) | null = null;

  /** Whether authentication is enabled. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** The auth revision (starts at 1). */
  get revision(): number {
    return this.#revision;
  }

  /** A user, if it exists. */
  user(name: string): AuthUser | undefined {
    return this.#users.get(name);
  }

  /** A role, if it exists. */
  role(name: string): AuthRole | undefined {
    return this.#roles.get(name);
  }

  /** Every user name, sorted. */
  userNames(): string[] {
    return [...this.#users.keys()].sort();
  }

  /** Every role name, sorted. */
  roleNames(): string[] {
    return [...this.#roles.keys()].sort();
  }

  /** Whether `user` exists and holds the root role. */
  isRoot(user: string): boolean {
    return this.#users.get(user)?.roles.includes(rootName) === true;
  }

  /**
   * Whether `user` may read (or write) `[key, rangeEnd)`, etcd's `isOpPermitted` once the caller
   * is known: the root role may do anything; an unknown user nothing; otherwise the union of the
   * user's grants of that type must cover the range. Does not look at {@link enabled}.
   */
  isPermitted(user: string, key: Uint8Array, rangeEnd: Uint8Array, type: "read" | "write"): boolean {
    const g = this.#grantsOf(user);
    if (g === null) return false;
    if (g.root) return true;
    return (type === "read" ? g.read : g.write).covers(intervalOf(key, rangeEnd));
  }

  /**
   * The apply-time half of a permission check: a command checked by the API layer at auth
   * revision `checkedAt` (0: checked while auth was disabled) may apply only if the auth state
   * did not change since. Null when it may apply.
   */
  checkGuard(checkedAt: number): MvccFailure | null {
    if (!this.#enabled) return null;
    if (checkedAt === 0) {
      return failure(MvccErrorCode.authUserEmpty, "auth was enabled after the request was checked");
    }
    if (checkedAt !== this.#revision) {
      return failure(
        MvccErrorCode.authOldRevision,
        `the request was checked at auth revision ${checkedAt}; the auth store is at ${this.#revision}`,
      );
    }
    return null;
  }

  /** Applies one command at log index `index` (used to mint tokens). A failure changes nothing. */
  apply(cmd: AuthCommand, index: number): MvccResult<AuthApplied> {
    const bad = checkShape(cmd);
    if (bad !== null) return fail(bad);
    switch (cmd.type) {
      case "authEnable":
        return this.#enable();
      case "authDisable":
        if (this.#enabled) {
          this.#enabled = false;
          this.#changed();
          this.#emit({ type: "dropAll" });
        }
        return this.#done();
      case "authenticate":
        return this.#authenticate(cmd.name, cmd.tokenPrefix, index);
      case "userAdd":
        return this.#userAdd(cmd.name, cmd.passwordHash, cmd.noPassword);
      case "userDelete":
        return this.#userDelete(cmd.name);
      case "userChangePassword":
        return this.#userChangePassword(cmd.name, cmd.passwordHash);
      case "userGrantRole":
        return this.#userGrantRole(cmd.user, cmd.role);
      case "userRevokeRole":
        return this.#userRevokeRole(cmd.name, cmd.role);
      case "roleAdd":
        return this.#roleAdd(cmd.name);
      case "roleDelete":
        return this.#roleDelete(cmd.name);
      case "roleGrantPermission":
        return this.#grantPermission(cmd.name, cmd.permission);
      case "roleRevokePermission":
        return this.#revokePermission(cmd.name, cmd.key, cmd.rangeEnd);
    }
  }

  /** Replaces the whole state (snapshot restore); emits nothing. */
  restore(enabled: boolean, revision: number, users: readonly AuthUser[], roles: readonly AuthRole[]): void {
    this.#enabled = enabled;
    this.#revision = revision;
    this.#users.clear();
    this.#roles.clear();
    this.#grants.clear();
    for (const u of users) this.#users.set(u.name, u);
    for (const r of roles) this.#roles.set(r.name, r);
  }

  /** Users in name order (snapshots). */
  allUsers(): AuthUser[] {
    return this.userNames().map((n) => this.#users.get(n) as AuthUser);
  }

  /** Roles in name order (snapshots). */
  allRoles(): AuthRole[] {
    return this.roleNames().map((n) => this.#roles.get(n) as AuthRole);
  }

  #enable(): MvccResult<AuthApplied> {
    if (this.#enabled) return this.#done();
    const root = this.#users.get(rootName);
    if (root === undefined) return fail(failure(MvccErrorCode.authRootUserNotExist, "no user 'root'"));
    if (!root.roles.includes(rootName)) {
      return fail(failure(MvccErrorCode.authRootRoleNotExist, "user 'root' lacks the role 'root'"));
    }
    // As etcd, enabling does not move the auth revision; a request checked while auth was off
    // carries 0 and is refused at apply (checkGuard).
    this.#enabled = true;
    this.#grants.clear();
    return this.#done();
  }

  #authenticate(name: string, prefix: string, index: number): MvccResult<AuthApplied> {
    if (!this.#enabled) return fail(failure(MvccErrorCode.authNotEnabled, "authenticate with auth disabled"));
    const u = this.#users.get(name);
    // The password was checked by the proposer against the state at the guarded revision.
    if (u === undefined || u.noPassword) {
      return fail(failure(MvccErrorCode.authFailed, `no user '${name}' with a password`));
    }
    const token = `${prefix}.${index}`;
    this.#emit({ type: "token", token, user: name });
    return ok({ authRevision: this.#revision, token });
  }

  #userAdd(name: string, passwordHash: string, noPassword: boolean): MvccResult<AuthApplied> {
    if (name === "") return fail(failure(MvccErrorCode.authUserEmpty, "user name is empty"));
    if (this.#users.has(name)) return fail(failure(MvccErrorCode.authUserAlreadyExists, `user '${name}'`));
    if (this.#users.size >= authUsersMax) return fail(tooMany(`users (${authUsersMax})`));
    this.#users.set(name, { name, passwordHash: noPassword ? "" : passwordHash, noPassword, roles: [] });
    return this.#changedDone();
  }

  #userDelete(name: string): MvccResult<AuthApplied> {
    if (this.#enabled && name === rootName) {
      return fail(failure(MvccErrorCode.authInvalidMgmt, "cannot delete user 'root' while auth is enabled"));
    }
    if (!this.#users.delete(name)) return fail(userNotFound(name));
    this.#emit({ type: "invalidateUser", user: name });
    return this.#changedDone();
  }

  #userChangePassword(name: string, passwordHash: string): MvccResult<AuthApplied> {
    const u = this.#users.get(name);
    if (u === undefined) return fail(userNotFound(name));
    this.#users.set(name, { ...u, passwordHash: u.noPassword ? "" : passwordHash });
    this.#emit({ type: "invalidateUser", user: name });
    return this.#changedDone();
  }

  #userGrantRole(name: string, role: string): MvccResult<AuthApplied> {
    const u = this.#users.get(name);
    if (u === undefined) return fail(userNotFound(name));
    // As etcd, the root role may be granted before a role named root exists.
    if (role !== rootName && !this.#roles.has(role)) return fail(roleNotFound(role));
    if (u.roles.includes(role)) return this.#done();
    if (u.roles.length >= authRolesPerUserMax)
      return fail(tooMany(`roles per user (${authRolesPerUserMax})`));
    this.#users.set(name, { ...u, roles: [...u.roles, role].sort() });
    return this.#changedDone();
  }

  #userRevokeRole(name: string, role: string): MvccResult<AuthApplied> {
    if (this.#enabled && name === rootName && role === rootName) {
      return fail(failure(MvccErrorCode.authInvalidMgmt, "cannot revoke role 'root' from user 'root'"));
    }
    const u = this.#users.get(name);
    if (u === undefined) return fail(userNotFound(name));
    if (!u.roles.includes(role)) {
      return fail(failure(MvccErrorCode.authRoleNotGranted, `user '${name}' lacks role '${role}'`));
    }
    this.#users.set(name, { ...u, roles: u.roles.filter((r) => r !== role) });
    return this.#changedDone();
  }

  #roleAdd(name: string): MvccResult<AuthApplied> {
    if (name === "") return fail(failure(MvccErrorCode.authRoleEmpty, "role name is empty"));
    if (this.#roles.has(name)) return fail(failure(MvccErrorCode.authRoleAlreadyExists, `role '${name}'`));
    if (this.#roles.size >= authRolesMax) return fail(tooMany(`roles (${authRolesMax})`));
    this.#roles.set(name, { name, permissions: [] });
    return this.#changedDone();
  }

  #roleDelete(name: string): MvccResult<AuthApplied> {
    if (this.#enabled && name === rootName) {
      return fail(failure(MvccErrorCode.authInvalidMgmt, "cannot delete role 'root' while auth is enabled"));
    }
    if (!this.#roles.delete(name)) return fail(roleNotFound(name));
    for (const u of [...this.#users.values()]) {
      if (u.roles.includes(name)) this.#users.set(u.name, { ...u, roles: u.roles.filter((r) => r !== name) });
    }
    return this.#changedDone();
  }

  #grantPermission(name: string, p: AuthPermission): MvccResult<AuthApplied> {
    const role = this.#roles.get(name);
    if (role === undefined) return fail(roleNotFound(name));
    const same = (q: AuthPermission): boolean =>
      bytesEqual(q.key, p.key) && bytesEqual(q.rangeEnd, p.rangeEnd);
    let permissions: AuthPermission[];
    if (role.permissions.some(same)) {
      // Granting a known range again replaces its type (etcd updates it in place).
      permissions = role.permissions.map((q) => (same(q) ? { ...q, type: p.type } : q));
    } else {
      if (role.permissions.length >= authPermissionsPerRoleMax) {
        return fail(tooMany(`permissions per role (${authPermissionsPerRoleMax})`));
      }
      const copy: AuthPermission = { type: p.type, key: p.key.slice(), rangeEnd: p.rangeEnd.slice() };
      permissions = [...role.permissions, copy].sort((a, b) => compareBytes(a.key, b.key));
    }
    this.#roles.set(name, { name, permissions });
    return this.#changedDone();
  }

  #revokePermission(name: string, key: Uint8Array, rangeEnd: Uint8Array): MvccResult<AuthApplied> {
    const role = this.#roles.get(name);
    if (role === undefined) return fail(roleNotFound(name));
    const kept = role.permissions.filter(
      (q) => !(bytesEqual(q.key, key) && bytesEqual(q.rangeEnd, rangeEnd)),
    );
    if (kept.length === role.permissions.length) {
      return fail(failure(MvccErrorCode.authPermissionNotGranted, `role '${name}' has no such permission`));
    }
    this.#roles.set(name, { name, permissions: kept });
    return this.#changedDone();
  }

  #grantsOf(user: string): UserGrants | null {
    const cached = this.#grants.get(user);
    if (cached !== undefined) return cached;
    const u = this.#users.get(user);
    let g: UserGrants | null = null;
    if (u !== undefined) {
      const read: KeyInterval[] = [];
      const write: KeyInterval[] = [];
      for (const roleName of u.roles) {
        for (const p of this.#roles.get(roleName)?.permissions ?? []) {
          const iv = intervalOf(p.key, p.rangeEnd);
          if (p.type !== "write") read.push(iv);
          if (p.type !== "read") write.push(iv);
        }
      }
      g = { root: u.roles.includes(rootName), read: new IntervalSet(read), write: new IntervalSet(write) };
    }
    this.#grants.set(user, g);
    return g;
  }

  #changed(): void {
    this.#revision++;
    this.#grants.clear();
  }

  #changedDone(): MvccResult<AuthApplied> {
    this.#changed();
    return this.#done();
  }

  #done(): MvccResult<AuthApplied> {
    return ok({ authRevision: this.#revision, token: "" });
  }

  #emit(event: AuthEvent): void {
    this.listener?.(event);
  }
}

function userNotFound(name: string): MvccFailure {
  return failure(MvccErrorCode.authUserNotFound, `user '${name}'`);
}

function roleNotFound(name: string): MvccFailure {
  return failure(MvccErrorCode.authRoleNotFound, `role '${name}'`);
}

function tooMany(what: string): MvccFailure {
  return failure(MvccErrorCode.authInvalidMgmt, `too many ${what}`);
}

/** Size limits on the strings and bytes of a command (shared by the decoder's callers). */
function checkShape(cmd: AuthCommand): MvccFailure | null {
  const names: string[] = [];
  switch (cmd.type) {
    case "authenticate":
      names.push(cmd.name);
      if (cmd.tokenPrefix.length > authTokenPrefixBytesMax || cmd.tokenPrefix.includes(".")) {
        return failure(MvccErrorCode.authInvalidMgmt, "token prefix too long or holds a '.'");
      }
      break;
    case "userAdd":
    case "userChangePassword":
      names.push(cmd.name);
      if (cmd.passwordHash.length > authPasswordHashBytesMax) {
        return failure(MvccErrorCode.authInvalidMgmt, "password hash too long");
      }
      break;
    case "userGrantRole":
      names.push(cmd.user, cmd.role);
      break;
    case "userRevokeRole":
      names.push(cmd.name, cmd.role);
      break;
    case "userDelete":
    case "roleAdd":
    case "roleDelete":
    case "roleGrantPermission":
    case "roleRevokePermission":
      names.push(cmd.name);
      break;
    case "authEnable":
    case "authDisable":
      break;
  }
  for (const n of names) {
    if (utf8(n).length > authNameBytesMax) {
      return failure(MvccErrorCode.authInvalidMgmt, `a name is longer than ${authNameBytesMax} bytes`);
    }
  }
  return null;
}
