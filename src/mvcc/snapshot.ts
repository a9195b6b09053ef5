import { assert } from "../lib/assert.js";
import { crc32Update } from "../lib/crc32.js";
import { ValueArena } from "./arena.js";
import {
  type AuthPermission,
  type AuthRole,
  type AuthUser,
  authPermissionsPerRoleMax,
  authRolesMax,
  authRolesPerUserMax,
  authUsersMax,
  permissionTypes,
} from "./auth.js";
import { bytesToBinary, concatBytes, EMPTY_BYTES, fromUtf8, utf8 } from "./bytes.js";
import { CodecError, NeedMoreError, Reader, Writer } from "./codec.js";
import { History } from "./history.js";
import { validLeaseId } from "./lessor.js";
import { snapshotChunkBytes } from "./limits.js";
import { MvccStore, type MvccStoreOptions } from "./store.js";
import { type AlarmMember, AlarmType } from "./types.js";

/** First bytes of every snapshot. */
const magic = new TextEncoder().encode("SYNDMVCC");
/** The snapshot format version written by {@link encodeSnapshot} (version 1, without auth, still reads). */
export const snapshotVersion = 2;
const alarmTypes = [AlarmType.none, AlarmType.noSpace, AlarmType.corrupt] as const;
/** Largest key or value accepted from a snapshot (guards memory against a corrupt length). */
const snapshotBytesMax = 64 * 1024 * 1024;

/**
 * Everything a snapshot holds, captured from a store at one moment by {@link snapshotSource}:
 * counters, alarms, auth, leases (copied), the retained records' slots in revision order (a copy)
 * and the history pages and arena chunks they live in (shared memory, not copied). Structured
 * clone keeps it whole, so another thread can encode it with {@link encodeSnapshotSource} while
 * the store goes on with writes, which only append records. A compaction or repack moves records:
 * the store must not compact until the encoding is done.
 */
export interface SnapshotSource {
  readonly appliedIndex: number;
  readonly currentRevision: number;
  readonly compactRevision: number;
  readonly nextLeaseId: number;
  readonly alarms: readonly AlarmMember[];
  readonly authEnabled: boolean;
  readonly authRevision: number;
  readonly users: readonly AuthUser[];
  readonly roles: readonly AuthRole[];
  /** `[id, ttl, remainingTtl]` per lease. */
  readonly leases: readonly (readonly [number, number, number])[];
  /** Record slots in revision order. */
  readonly order: Int32Array;
  readonly pages: readonly Float64Array[];
  readonly chunks: { readonly chunks: readonly Uint8Array[]; readonly own: readonly Uint8Array[] };
}

/** Captures the state of `store` now (see {@link SnapshotSource}); O(records) for the order copy. */
export function snapshotSource(store: MvccStore): SnapshotSource {
  const kv = store.kv;
  const h = kv.history;
  const auth = store.auth;
  return {
    appliedIndex: store.appliedIndex,
    currentRevision: kv.currentRevision,
    compactRevision: kv.compactRevision,
    nextLeaseId: store.lessor.nextId,
    alarms: store.alarms.map((a) => ({ memberId: a.memberId, alarm: a.alarm })),
    authEnabled: auth.enabled,
    authRevision: auth.revision,
    users: auth.allUsers(),
    roles: auth.allRoles(),
    leases: store.lessor.all().map((l) => [l.id, l.ttl, l.remainingTtl] as const),
    order: h.order.slice(0, h.orderLength),
    pages: h.pageList(),
    chunks: kv.arena.chunkLists(),
  };
}

/**
 * Encodes the whole state of `store` as a stream of chunks of about `chunkBytes` (a chunk may
 * exceed it by one record): format version 2, documented in docs/mvcc.md. Memory stays bounded
 * by one chunk. The snapshot is the state as of the first `next()`, which captures a
 * {@link SnapshotSource}. Writes may go on while the rest is consumed (they only append records);
 * a compaction or repack meanwhile moves records: a broken invariant, it throws.
 */
export function* encodeSnapshot(
  store: MvccStore,
  chunkBytes = snapshotChunkBytes,
): Generator<Uint8Array, void, undefined> {
  const kv = store.kv;
  const rewrites = kv.rewrites;
  for (const chunk of encodeSnapshotSource(snapshotSource(store), chunkBytes)) {
    assert(
      kv.rewrites === rewrites,
      "encodeSnapshot: the history was rewritten while a snapshot was being read",
    );
    yield chunk;
  }
}

/** {@link encodeSnapshot} of a captured {@link SnapshotSource} (in any thread). */
export function* encodeSnapshotSource(
  src: SnapshotSource,
  chunkBytes = snapshotChunkBytes,
): Generator<Uint8Array, void, undefined> {
  const rows = History.ofPages(src.pages);
  const bytes = ValueArena.ofChunks(src.chunks);
  const w = new Writer(chunkBytes + 1024);
  let crc = 0;
  const flush = (): Uint8Array => {
    const out = w.take(chunkBytes + 1024);
    crc = crc32Update(crc, out);
    return out;
  };
  w.raw(magic);
  w.u8(snapshotVersion);
  w.uvarint(src.appliedIndex);
  w.uvarint(src.currentRevision);
  w.uvarint(src.compactRevision);
  w.uvarint(src.nextLeaseId);
  w.uvarint(src.alarms.length);
  for (const a of src.alarms) {
    w.uvarint(a.memberId);
    w.u8(alarmTypes.indexOf(a.alarm));
  }
  w.u8(src.authEnabled ? 1 : 0);
  w.uvarint(src.authRevision);
  w.uvarint(src.users.length);
  for (const u of src.users) {
    writeUser(w, u);
    if (w.length >= chunkBytes) yield flush();
  }
  w.uvarint(src.roles.length);
  for (const r of src.roles) {
    writeRole(w, r);
    if (w.length >= chunkBytes) yield flush();
  }
  w.uvarint(src.leases.length);
  for (const [id, ttl, remaining] of src.leases) {
    w.uvarint(id);
    w.uvarint(ttl);
    w.uvarint(remaining);
    if (w.length >= chunkBytes) yield flush();
  }
  const order = src.order;
  const records = order.length;
  w.uvarint(records);
  for (let i = 0; i < records; i++) {
    const slot = order[i] as number;
    const chunk = rows.chunk(slot);
    const offset = rows.offset(slot);
    const keyLen = rows.keyLen(slot);
    w.bytes(bytes.view(chunk, offset, keyLen));
    w.uvarint(rows.main(slot));
    w.uvarint(rows.sub(slot));
    w.uvarint(rows.create(slot));
    w.uvarint(rows.version(slot));
    w.uvarint(rows.lease(slot));
    w.bytes(bytes.view(chunk, offset + keyLen, rows.valLen(slot)));
    if (w.length >= chunkBytes) yield flush();
  }
  const last = w.finish();
  crc = crc32Update(crc, last);
  w.reset();
  w.raw(last);
  w.u32(crc);
  yield w.finish();
}

function writeUser(w: Writer, u: AuthUser): void {
  w.bytes(utf8(u.name));
  w.bytes(utf8(u.passwordHash));
  w.u8(u.noPassword ? 1 : 0);
  w.uvarint(u.roles.length);
  for (const r of u.roles) w.bytes(utf8(r));
}

function writeRole(w: Writer, r: AuthRole): void {
  w.bytes(utf8(r.name));
  w.uvarint(r.permissions.length);
  for (const p of r.permissions) {
    w.u8(permissionTypes.indexOf(p.type));
    w.bytes(p.key);
    w.bytes(p.rangeEnd);
  }
}

type Stage =
  | "header"
  | "alarms"
  | "authHeader"
  | "users"
  | "roles"
  | "leases"
  | "recordCount"
  | "records"
  | "crc"
  | "done";

/**
 * Rebuilds a store from snapshot chunks pushed in order (any split of the byte stream works).
 * Memory is bounded by the restored state plus one chunk and one record. {@link finish} returns
 * the store, or a reason string for a corrupt, truncated or unknown-version snapshot.
 */
export class SnapshotDecoder {
  readonly #store: MvccStore;
  #stage: Stage = "header";
  #buf: Uint8Array = EMPTY_BYTES;
  #parts: Uint8Array[] = [];
  #partsLength = 0;
  /** Bytes of pending input needed before parsing is worth retrying. */
  #needed = 0;
  #crc = 0;
  #error: string | null = null;
  #remaining = 0;
  #current = 0;
  #compacted = 0;
  #lastMain = -1;
  #lastSub = -1;
  #version = 0;
  #authEnabled = false;
  #authRevision = 1;
  #users: AuthUser[] = [];
  #roles: AuthRole[] = [];

  constructor(options: MvccStoreOptions = {}) {
    this.#store = new MvccStore(options);
  }

  /**
   * Feeds the next chunk; returns a reason string once the input is known to be bad. The chunk
   * is not retained after the call returns, so the caller may reuse its buffer.
   */
  push(chunk: Uint8Array): string | null {
    if (this.#error !== null) return this.#error;
    if (this.#stage === "done")
      return chunk.length === 0 ? null : this.#setError("bytes after the end of the snapshot");
    this.#parts.push(chunk);
    this.#partsLength += chunk.length;
    // Parsing again only pays once enough bytes arrived for the unit that ran short.
    if (this.#partsLength < this.#needed) {
      this.#own(chunk);
      return null;
    }
    const buf = this.#parts.length === 1 ? chunk : concatBytes(this.#parts, this.#partsLength);
    this.#buf = buf;
    const r = new Reader(buf);
    let consumed = 0;
    this.#needed = 0;
    try {
      for (;;) {
        consumed = r.pos;
        if (!this.#step(r)) {
          consumed = r.pos;
          break;
        }
      }
    } catch (e) {
      if (e instanceof NeedMoreError) this.#needed = e.needed - consumed;
      else if (e instanceof CodecError) return this.#setError(e.message);
      else throw e;
    }
    if (this.#error !== null) return this.#error;
    if ((this.#stage as Stage) !== "done") this.#crc = crc32Update(this.#crc, buf.subarray(0, consumed));
    const rest = buf.slice(consumed);
    this.#parts = rest.length === 0 ? [] : [rest];
    this.#partsLength = rest.length;
    this.#buf = EMPTY_BYTES;
    return null;
  }

  /** Replaces the last pushed part by a copy, since the caller may reuse its buffer. */
  #own(chunk: Uint8Array): void {
    this.#parts[this.#parts.length - 1] = chunk.slice();
  }

  /** Ends the input; returns the restored store or why it could not be restored. */
  finish(): MvccStore | string {
    if (this.#error !== null) return this.#error;
    if (this.#stage !== "done") return `snapshot truncated (stopped in ${this.#stage})`;
    if (this.#partsLength !== 0) return "bytes after the end of the snapshot";
    return this.#store;
  }

  #setError(reason: string): string {
    this.#error = `corrupt snapshot: ${reason}`;
    return this.#error;
  }

  /** Parses one unit of the current stage; false when the stage machine is finished. */
  #step(r: Reader): boolean {
    switch (this.#stage) {
      case "header":
        this.#header(r);
        return true;
      case "alarms":
        this.#alarm(r);
        return true;
      case "authHeader":
        this.#authEnabled = r.bool();
        this.#authRevision = r.uvarint();
        this.#remaining = countOf(r, authUsersMax, "users");
        this.#stage = "users";
        return true;
      case "users":
        if (this.#remaining === 0) {
          this.#remaining = countOf(r, authRolesMax, "roles");
          this.#stage = "roles";
          return true;
        }
        this.#users.push(readUser(r));
        this.#remaining--;
        return true;
      case "roles":
        if (this.#remaining === 0) {
          this.#store.auth.restore(this.#authEnabled, this.#authRevision, this.#users, this.#roles);
          this.#remaining = r.uvarint();
          this.#stage = "leases";
          return true;
        }
        this.#roles.push(readRole(r));
        this.#remaining--;
        return true;
      case "leases":
        this.#lease(r);
        return true;
      case "recordCount":
        this.#remaining = r.uvarint();
        this.#stage = "records";
        this.#store.kv.keys.beginBulk();
        return true;
      case "records":
        if (this.#remaining === 0) {
          this.#finishRecords();
          this.#stage = "crc";
          return true;
        }
        this.#record(r);
        this.#remaining--;
        return true;
      case "crc": {
        const start = r.pos;
        const expected = r.u32();
        const actual = crc32Update(this.#crc, this.#buf.subarray(0, start));
        if (expected !== actual) throw new CodecError(`checksum mismatch (${expected} != ${actual})`);
        this.#stage = "done";
        return false;
      }
      case "done":
        return false;
    }
  }

  #header(r: Reader): void {
    const m = r.raw(magic.length);
    if (!m.every((b, i) => b === magic[i])) throw new CodecError("not a Synod MVCC snapshot (bad magic)");
    const version = r.u8();
    if (version !== 1 && version !== snapshotVersion)
      throw new CodecError(`unknown snapshot version ${version}`);
    this.#version = version;
    const applied = r.uvarint();
    const current = r.uvarint();
    const compacted = r.uvarint();
    const nextLease = r.uvarint();
    const alarms = r.uvarint();
    if (current < 1 || compacted > current) throw new CodecError(`bad revisions ${current}/${compacted}`);
    this.#store.restoreAppliedIndex(applied);
    this.#store.lessor.restoreNextId(nextLease);
    this.#current = current;
    this.#compacted = compacted;
    this.#remaining = alarms;
    this.#stage = "alarms";
  }

  #alarm(r: Reader): void {
    if (this.#remaining === 0) {
      if (this.#version >= 2) {
        this.#stage = "authHeader";
        return;
      }
      this.#remaining = r.uvarint();
      this.#stage = "leases";
      return;
    }
    const memberId = r.uvarint();
    const alarm = alarmTypes[r.u8()];
    if (alarm === undefined) throw new CodecError("unknown alarm type");
    this.#store.restoreAlarms([{ memberId, alarm }]);
    this.#remaining--;
  }

  #lease(r: Reader): void {
    if (this.#remaining === 0) {
      this.#stage = "recordCount";
      return;
    }
    const lessor = this.#store.lessor;
    const id = r.uvarint();
    const ttl = r.uvarint();
    const remainingTtl = r.uvarint();
    if (!validLeaseId(id) || lessor.lookup(id) !== undefined) throw new CodecError(`bad lease id ${id}`);
    const nextId = lessor.nextId;
    lessor.grant(id, ttl).remainingTtl = remainingTtl;
    lessor.restoreNextId(nextId);
    this.#remaining--;
  }

  #record(r: Reader): void {
    const key = r.bytes(snapshotBytesMax);
    const main = r.uvarint();
    const sub = r.uvarint();
    const create = r.uvarint();
    const version = r.uvarint();
    const lease = r.uvarint();
    const value = r.bytes(snapshotBytesMax);
    if (key.length === 0) throw new CodecError("empty key");
    if (main < 2 || (version > 0 && (create < 2 || create > main))) {
      throw new CodecError(`record revision ${main}.${sub} has create revision ${create}`);
    }
    if (main > this.#current || main < this.#lastMain || (main === this.#lastMain && sub <= this.#lastSub)) {
      throw new CodecError(`record revision ${main}.${sub} out of order`);
    }
    if (version === 0 && (create !== 0 || lease !== 0 || value.length !== 0))
      throw new CodecError("bad tombstone");
    this.#lastMain = main;
    this.#lastSub = sub;
    this.#store.kv.restoreRecord(bytesToBinary(key), key, main, sub, create, version, lease, value);
  }

  #finishRecords(): void {
    const store = this.#store;
    const kv = store.kv;
    kv.keys.endBulk();
    kv.restoreRevisions(this.#current, this.#compacted);
    const h = kv.history;
    kv.keys.forEachId((id) => {
      const slot = kv.keys.head[id] as number;
      const lease = h.lease(slot);
      if (h.version(slot) === 0 || lease === 0) return;
      if (store.lessor.lookup(lease) === undefined)
        throw new CodecError(`key attached to unknown lease ${lease}`);
      store.lessor.attach(lease, kv.keyOf(slot));
    });
  }
}

function countOf(r: Reader, max: number, what: string): number {
  const n = r.uvarint();
  if (n > max) throw new CodecError(`${n} ${what}, more than ${max}`);
  return n;
}

function readUser(r: Reader): AuthUser {
  const name = fromUtf8(r.bytes(snapshotBytesMax));
  const passwordHash = fromUtf8(r.bytes(snapshotBytesMax));
  const noPassword = r.bool();
  const n = countOf(r, authRolesPerUserMax, "roles of a user");
  const roles: string[] = [];
  for (let i = 0; i < n; i++) roles.push(fromUtf8(r.bytes(snapshotBytesMax)));
  return { name, passwordHash, noPassword, roles };
}

function readRole(r: Reader): AuthRole {
  const name = fromUtf8(r.bytes(snapshotBytesMax));
  const n = countOf(r, authPermissionsPerRoleMax, "permissions of a role");
  const permissions: AuthPermission[] = [];
  for (let i = 0; i < n; i++) {
    const type = permissionTypes[r.u8()];
    if (type === undefined) throw new CodecError("unknown permission type");
    permissions.push({ type, key: r.bytes(snapshotBytesMax), rangeEnd: r.bytes(snapshotBytesMax) });
  }
  return { name, permissions };
}

/** Restores a store from an iterable of snapshot chunks; a reason string if it cannot. */
export function decodeSnapshot(
  chunks: Iterable<Uint8Array>,
  options: MvccStoreOptions = {},
): MvccStore | string {
  const d = new SnapshotDecoder(options);
  for (const chunk of chunks) {
    const bad = d.push(chunk);
    if (bad !== null) return bad;
  }
  return d.finish();
}

/** Restores a store from an async iterable of snapshot chunks (a file or network stream). */
export async function decodeSnapshotAsync(
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: MvccStoreOptions = {},
): Promise<MvccStore | string> {
  const d = new SnapshotDecoder(options);
  for await (const chunk of chunks) {
    const bad = d.push(chunk);
    if (bad !== null) return bad;
  }
  return d.finish();
}
