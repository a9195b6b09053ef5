/**
 * The WAL's I/O shell: runs the pure core's plans on a {@link WalFs}, one plan at a time, and
 * coalesces everything submitted while a write is in flight into the next single write and
 * `fdatasync` (group commit).
 *
 * Failure rules: an error from `fdatasync`/`fsync` (or any write error other than a full disk)
 * calls `onFatal` and is never retried (after a failed fsync the kernel may have dropped the dirty
 * pages and a retry would "succeed"); the default `onFatal` stops the process. A full disk
 * (ENOSPC, EDQUOT) rejects the batch with `walNoSpace`. Either way the WAL then refuses all
 * further work, so nothing after the failure is ever acknowledged.
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import { AssertionError, assert } from "../lib/assert.js";
import { crc32Update } from "../lib/crc32.js";
import { ErrorCode, SynodError } from "../lib/errors.js";
import { type Logger, noopLogger } from "../lib/logger.js";
import type { Snapshot, SnapshotMetadata } from "../raft/types.js";
import { type PersistRequest, WalCore, type WalCoreOptions, type WalRequest } from "./core.js";
import {
  decodeSnapshotFile,
  encodeSnapshotFileHeader,
  parseSegmentName,
  parseSnapshotName,
  snapshotFileTrailer,
  snapshotName,
  tempSuffix,
} from "./format.js";
import { NodeWalFs, type WalFile, type WalFs } from "./fs.js";
import type { FileOp } from "./plan.js";
import { type Recovered, recover } from "./recover.js";

/** Default limit on the bytes of entry data coalesced into one write: 16 MiB. */
export const batchBytesMaxDefault = 16 * 1024 * 1024;
/**
 * Longest time a commit-only save (`sync: false`) waits for a synced save to be written with
 * before it is written alone (an idle member's last commit index).
 */
export const unsyncedFlushDelayMs = 100;
/** Size of the zero buffer used to preallocate segments. */
const zeroChunkBytes = 1024 * 1024;

/** Options of {@link Wal.open}; see also {@link WalCoreOptions}. */
export interface WalOptions extends WalCoreOptions {
  /** The file system; default {@link NodeWalFs} on the directory given to {@link Wal.open}. */
  readonly fs?: WalFs;
  /** Where repairs and cleanup problems are reported; default: nowhere. */
  readonly logger?: Logger;
  /**
   * Called once when a sync (or other I/O other than a full disk) fails. Default: print the error
   * and exit the process with status 1. Tests inject a recorder.
   */
  readonly onFatal?: (err: Error) => void;
  /**
   * Most bytes of entry data coalesced into one write; more waits for the next one. Default
   * {@link batchBytesMaxDefault}; a single request larger than this is written alone.
   */
  readonly batchBytesMax?: number;
  /**
   * Whether to preallocate the next segment in the background (default true), so that rotation
   * does not stall appends while a whole segment is zero-filled. Costs one segment of disk.
   */
  readonly preallocateAhead?: boolean;
}

/** Counters of the work done, for tests and metrics. */
export interface WalStats {
  /** Plans run that carried records (each is one write of records and one `fdatasync`). */
  batches: number;
  /** Requests acknowledged. */
  requests: number;
  /** `fdatasync` calls (of segments, snapshot files and new segments). */
  syncs: number;
  /** Bytes written, preallocation included. */
  bytes: number;
}

function defaultOnFatal(err: Error): void {
  process.stderr.write(`synod: fatal storage error, stopping: ${err.message}\n`);
  process.exit(1);
}

interface Pending {
  readonly request: WalRequest;
  readonly bytes: number;
  /** Whether the request needs a sync of its own (all but commit-only saves). */
  readonly synced: boolean;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}

/** A plan operation that failed, with the operation. */
class OpError extends Error {
  readonly op: FileOp;
  override readonly cause: unknown;
  constructor(op: FileOp, cause: unknown) {
    super(`${op.op} failed: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.op = op;
    this.cause = cause;
  }
}

function needsSync(r: WalRequest): boolean {
  if ("localSnapshot" in r || "writtenSnapshot" in r) return true;
  return r.sync !== false || (r.snapshot ?? null) !== null;
}

function requestBytes(r: WalRequest): number {
  if ("localSnapshot" in r) return r.localSnapshot.data.length;
  if ("writtenSnapshot" in r) return 64;
  let n = r.snapshot?.data.length ?? 0;
  for (const e of r.entries ?? []) n += e.data.length + 48;
  return n + 40;
}

/** Bytes of a snapshot file written between two of its fdatasyncs. */
const snapshotSyncBytes = 8 * 1024 * 1024;
/** Bytes of a snapshot file checksummed in one event-loop turn. */
const snapshotCrcSliceBytes = 1024 * 1024;

/**
 * `parts` as pieces (views, no copy) cut where the running total reaches a multiple of
 * `sliceBytes`, each with whether it ends such a slice.
 */
function* slicesOf(
  parts: readonly Uint8Array[],
  sliceBytes: number,
): Generator<readonly [Uint8Array, boolean], void, undefined> {
  let inSlice = 0;
  for (const part of parts) {
    for (let from = 0; from < part.length; ) {
      const n = Math.min(part.length - from, sliceBytes - inSlice);
      inSlice = (inSlice + n) % sliceBytes;
      yield [part.subarray(from, from + n), inSlice === 0];
      from += n;
    }
  }
}

/** The durable log of one member's data directory. */
export class Wal {
  #recovered: Recovered;

  /** What recovery found when the WAL was opened (without its data after {@link releaseRecovered}). */
  get recovered(): Recovered {
    return this.#recovered;
  }

  /**
   * Drops the recovered snapshot data and entries, once the caller has taken them into its own
   * storage (they can be large: a whole state and a log's tail).
   */
  releaseRecovered(): void {
    const r = this.#recovered;
    this.#recovered = {
      ...r,
      snapshot: r.snapshot === null ? null : { metadata: r.snapshot.metadata, data: new Uint8Array(0) },
      entries: [],
    };
  }
  readonly stats: WalStats = { batches: 0, requests: 0, syncs: 0, bytes: 0 };
  readonly #fs: WalFs;
  readonly #core: WalCore;
  readonly #logger: Logger;
  readonly #onFatal: (err: Error) => void;
  readonly #batchBytesMax: number;
  readonly #files = new Map<string, WalFile>();
  /** Files with bytes written and not yet synced. */
  readonly #dirty = new Set<string>();
  #queue: Pending[] = [];
  /** Requests in {@link #queue} that need a sync. */
  #syncedQueued = 0;
  #flushTimer: NodeJS.Timeout | null = null;
  #running = false;
  #failure: SynodError | null = null;
  #closed = false;
  #idle: (() => void)[] = [];
  readonly #preallocateAhead: boolean;
  #spareTask: Promise<void> | null = null;
  /** The snapshot file being written by {@link saveSnapshotParts}, if any. */
  #snapshotTask: Promise<void> | null = null;

  private constructor(fs: WalFs, core: WalCore, recovered: Recovered, options: WalOptions) {
    this.#fs = fs;
    this.#core = core;
    this.#recovered = recovered;
    this.#logger = options.logger ?? noopLogger;
    this.#onFatal = options.onFatal ?? defaultOnFatal;
    this.#batchBytesMax = options.batchBytesMax ?? batchBytesMaxDefault;
    this.#preallocateAhead = options.preallocateAhead ?? true;
  }

  /**
   * Locks `dir` (created if missing), recovers its contents and carries out the repairs (a torn
   * tail is zeroed and logged with file and offset). Throws {@link SynodError} `walLocked` if
   * another live process holds the directory, `walCorrupt` if recovery finds damage it must not
   * repair (the message names file and offset), `walFailed` on an I/O error.
   */
  static async open(dir: string, options: WalOptions = {}): Promise<Wal> {
    const fs = options.fs ?? new NodeWalFs(dir);
    await fs.ensureDir();
    await fs.lock();
    try {
      const files = new Map<string, Uint8Array>();
      try {
        for (const name of await fs.list()) {
          const wanted = parseSegmentName(name) !== null || parseSnapshotName(name) !== null;
          files.set(name, wanted ? await fs.readFile(name) : new Uint8Array(0));
        }
      } catch (err) {
        const why = (err as Error).message;
        throw new SynodError(
          ErrorCode.walFailed,
          `Cannot open the WAL in '${dir}': reading it failed: ${why}`,
        );
      }
      const rec = recover(files);
      files.clear();
      if (!rec.ok) {
        throw new SynodError(
          ErrorCode.walCorrupt,
          `Cannot open the WAL in '${dir}': ${rec.message} (${rec.code}). The member must not serve ` +
            "from a damaged log: remove its data directory and let it rejoin the cluster from a snapshot",
        );
      }
      const logger = options.logger ?? noopLogger;
      for (const r of rec.repairs) logger.warn(`wal: repair: ${r.reason}`, { ...r, dir });
      for (const note of rec.notes) logger.warn(`wal: ${note}`, { dir });
      const core = new WalCore(rec, options);
      const wal = new Wal(fs, core, rec, options);
      try {
        await wal.#execute(core.openPlan().ops);
      } catch (err) {
        await wal.#closeFiles();
        throw new SynodError(
          ErrorCode.walFailed,
          `Cannot open the WAL in '${dir}': ${(err as Error).message}`,
        );
      }
      wal.#prepareSpare();
      return wal;
    } catch (err) {
      await fs.unlock();
      throw err;
    }
  }

  /**
   * Persists a Ready's `snapshot` (installed from the leader), `entries` and `hardState`, in
   * that order. Resolves once they are durable; requests resolve in submission order. Rejects
   * with `walNoSpace`, `walFailed` or `walClosed`; after a rejection nothing later resolves.
   *
   * A commit-only save (`sync: false`) starts no write of its own: it waits, in its place in the
   * queue, for the next save that needs a sync (or {@link unsyncedFlushDelayMs} without one, or
   * {@link close}) and is written and synced with it. So every write is synced, and a busy member
   * pays no write for the commit index it learns between two appends.
   */
  save(request: PersistRequest): Promise<void> {
    return this.#submit(request);
  }

  /**
   * Persists a snapshot of the local state machine: the file is written under a temporary name,
   * synced, renamed and the directory synced; then its marker is logged. Afterwards snapshots
   * beyond the retention count and segments wholly before the oldest kept snapshot are removed.
   */
  saveSnapshot(snapshot: Snapshot): Promise<void> {
    return this.#submit({ localSnapshot: snapshot });
  }

  /**
   * Persists a snapshot of the local state machine whose data is given in `parts` (joined only on
   * disk), without holding up other saves: the file is written under its temporary name with a
   * handle of its own, in slices of 8 MiB each synced (its CRC taken 1 MiB per event-loop turn
   * while a slice is written), while appends go on; then, in the queue, it is renamed, the
   * directory synced and its marker logged, as {@link saveSnapshot} does. Resolves once all of
   * that is durable. The caller must not change `parts` until then, nor start another one before
   * it settles. Rejects like {@link save}.
   */
  async saveSnapshotParts(metadata: SnapshotMetadata, parts: readonly Uint8Array[]): Promise<void> {
    if (this.#failure !== null) throw this.#failure;
    if (this.#closed) throw new SynodError(ErrorCode.walClosed, "The WAL is closed");
    assert(this.#snapshotTask === null, "Wal.saveSnapshotParts: a snapshot is already being written");
    const task = this.#writeSnapshotFile(metadata, parts);
    this.#snapshotTask = task.catch(() => undefined);
    try {
      await task;
    } catch (err) {
      this.#fail(err, []);
      throw this.#failure ?? err;
    } finally {
      this.#snapshotTask = null;
    }
    return this.#submit({ writtenSnapshot: metadata });
  }

  /** Writes and syncs a snapshot file under its temporary name; throws an {@link OpError}. */
  async #writeSnapshotFile(md: SnapshotMetadata, parts: readonly Uint8Array[]): Promise<void> {
    const file = snapshotName(md.index, md.term) + tempSuffix;
    let dataBytes = 0;
    for (const p of parts) dataBytes += p.length;
    const header = encodeSnapshotFileHeader(md, dataBytes);
    let at = 0;
    const write = async (f: WalFile, bytes: Uint8Array): Promise<void> => {
      try {
        await f.write(bytes, at);
      } catch (err) {
        throw new OpError({ op: "write", file, offset: at, bytes }, err);
      }
      at += bytes.length;
      this.stats.bytes += bytes.length;
    };
    const sync = async (f: WalFile): Promise<void> => {
      try {
        await f.datasync();
      } catch (err) {
        throw new OpError({ op: "sync", file }, err);
      }
      this.stats.syncs++;
    };
    let f: WalFile;
    try {
      f = await this.#fs.open(file, true);
    } catch (err) {
      throw new OpError({ op: "create", file }, err);
    }
    try {
      let crc = crc32Update(0, header);
      await write(f, header);
      // Written and synced a slice at a time: hundreds of megabytes of dirty pages flushed at once
      // would hold up the log's own fdatasyncs (every commit) for the whole flush.
      for (const [p, endsSlice] of slicesOf(parts, snapshotSyncBytes)) {
        // The checksum is taken while the piece is being written, 1 MiB per event-loop turn.
        const written = write(f, p);
        written.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
        for (let i = 0; i < p.length; i += snapshotCrcSliceBytes) {
          crc = crc32Update(crc, p.subarray(i, i + snapshotCrcSliceBytes));
          if (i + snapshotCrcSliceBytes < p.length) await nextTurn();
        }
        await written;
        if (endsSlice) await sync(f);
      }
      await write(f, snapshotFileTrailer(crc));
      await sync(f);
    } finally {
      await f.close().catch(() => undefined);
    }
  }

  /**
   * Reads back the saved snapshot `index`/`term` (its file must still be kept: the newest
   * `snapshotsRetained` are). Resolves with the snapshot, or a reason string when the file is
   * missing or fails its checks.
   */
  async readSnapshot(index: number, term: number): Promise<Snapshot | string> {
    const name = snapshotName(index, term);
    let bytes: Uint8Array;
    try {
      bytes = await this.#fs.readFile(name);
    } catch (e) {
      return `cannot read snapshot ${name}: ${String(e)}`;
    }
    const snap = decodeSnapshotFile(bytes);
    if (typeof snap === "string") return `snapshot ${name}: ${snap}`;
    return snap;
  }

  /** Waits for queued requests, then closes the files and releases the lock. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#flushTimer !== null) clearTimeout(this.#flushTimer);
    this.#flushTimer = null;
    if (!this.#running && this.#queue.length > 0) this.#start(true);
    await this.#snapshotTask;
    if (this.#running) await new Promise<void>((resolve) => this.#idle.push(resolve));
    await this.#spareTask;
    await this.#closeFiles();
    await this.#fs.unlock();
  }

  #submit(request: WalRequest): Promise<void> {
    if (this.#failure !== null) return Promise.reject(this.#failure);
    if (this.#closed) return Promise.reject(new SynodError(ErrorCode.walClosed, "The WAL is closed"));
    return new Promise<void>((resolve, reject) => {
      const synced = needsSync(request);
      this.#queue.push({ request, bytes: requestBytes(request), synced, resolve, reject });
      if (synced) this.#syncedQueued++;
      if (this.#running) return;
      if (synced) this.#start(false);
      else this.#armFlush();
    });
  }

  /** Makes sure commit-only saves left alone in the queue are written within the delay. */
  #armFlush(): void {
    this.#flushTimer ??= setTimeout(() => {
      this.#flushTimer = null;
      if (!this.#running && this.#queue.length > 0 && this.#failure === null && !this.#closed)
        this.#start(true);
    }, unsyncedFlushDelayMs);
  }

  /** Starts draining the queue; `flush`: also when only commit-only saves wait. */
  #start(flush: boolean): void {
    this.#running = true;
    queueMicrotask(() => void this.#drain(flush));
  }

  /** Takes the next group: everything queued, up to the byte limit (at least one request). */
  #take(): Pending[] {
    let bytes = 0;
    let n = 0;
    while (n < this.#queue.length) {
      bytes += (this.#queue[n] as Pending).bytes;
      if (n > 0 && bytes > this.#batchBytesMax) break;
      n++;
    }
    const group = this.#queue.splice(0, n);
    for (const p of group) if (p.synced) this.#syncedQueued--;
    return group;
  }

  async #drain(flush: boolean): Promise<void> {
    while (
      this.#queue.length > 0 &&
      (flush || this.#closed || this.#syncedQueued > 0) &&
      this.#failure === null
    ) {
      const group = this.#take();
      const requests = group.map((p) => p.request);
      const last = requests.length - 1;
      // Every write is synced (see save): a group of commit-only saves alone syncs its last one.
      if (!group.some((p) => p.synced))
        requests[last] = { ...(requests[last] as PersistRequest), sync: true };
      const plan = this.#core.append(requests);
      try {
        await this.#execute(plan.ops);
      } catch (err) {
        this.#fail(err, group);
        break;
      }
      if (plan.ops.length > 0) this.stats.batches++;
      this.stats.requests += group.length;
      for (const p of group) p.resolve();
      await this.#cleanup(plan.cleanup);
      this.#prepareSpare();
    }
    this.#running = false;
    if (this.#queue.length > 0 && this.#failure === null) this.#armFlush();
    for (const resolve of this.#idle.splice(0)) resolve();
  }

  /** Removes old files; failures are logged only, since recovery and later cleanups tolerate leftovers. */
  async #cleanup(ops: readonly FileOp[]): Promise<void> {
    try {
      await this.#execute(ops);
    } catch (err) {
      this.#logger.warn("wal: cleanup failed", { error: (err as Error).message });
    }
  }

  /**
   * Starts preallocating the next segment in the background if the core wants one. The task uses
   * its own file handle and touches only its own file, so appends go on meanwhile. A full disk
   * just drops the spare (the rotation will report it); any other error is fatal like any I/O
   * error of the WAL.
   */
  #prepareSpare(): void {
    if (!this.#preallocateAhead || this.#spareTask !== null || this.#failure !== null || this.#closed) return;
    const plan = this.#core.prepareSpare();
    if (plan === null) return;
    const task = async (): Promise<void> => {
      let ok = true;
      try {
        await this.#executeAlone(plan.ops);
      } catch (err) {
        ok = false;
        const opError = err instanceof OpError ? err : null;
        const code = (opError?.cause as NodeJS.ErrnoException | undefined)?.code;
        const noSpace = (code === "ENOSPC" || code === "EDQUOT") && opError?.op.op !== "sync";
        if (noSpace) this.#logger.warn("wal: could not preallocate the next segment", { error: String(err) });
        else this.#fail(err, []);
      }
      const after = this.#core.spareDone(ok);
      if (!ok) await this.#cleanup(after.cleanup);
    };
    this.#spareTask = task().finally(() => {
      this.#spareTask = null;
    });
  }

  /** Runs `ops` with file handles of its own, closed at the end; throws an {@link OpError}. */
  async #executeAlone(ops: readonly FileOp[]): Promise<void> {
    const files = new Map<string, WalFile>();
    const file = async (name: string): Promise<WalFile> => {
      const f = files.get(name) ?? (await this.#fs.open(name, false));
      files.set(name, f);
      return f;
    };
    try {
      for (const op of ops) {
        assert(
          op.op === "create" || op.op === "zero" || op.op === "sync",
          `a background plan has a ${op.op}`,
        );
        try {
          if (op.op === "create") files.set(op.file, await this.#fs.open(op.file, true));
          else if (op.op === "zero") await this.#zero(await file(op.file), op);
          else if (op.op === "sync") {
            await (await file(op.file)).datasync();
            this.stats.syncs++;
          }
        } catch (err) {
          throw new OpError(op, err);
        }
      }
    } finally {
      for (const f of files.values()) await f.close().catch(() => undefined);
    }
  }

  async #zero(f: WalFile, op: { readonly offset: number; readonly length: number }): Promise<void> {
    const zeros = new Uint8Array(Math.min(zeroChunkBytes, op.length));
    for (let at = 0; at < op.length; at += zeros.length) {
      const n = Math.min(zeros.length, op.length - at);
      await f.write(n === zeros.length ? zeros : zeros.subarray(0, n), op.offset + at);
    }
    this.stats.bytes += op.length;
  }

  #fail(err: unknown, group: Pending[]): void {
    if (err instanceof AssertionError) throw err;
    if (this.#failure !== null) {
      this.#syncedQueued = 0;
      for (const p of [...group, ...this.#queue.splice(0)]) p.reject(this.#failure);
      return;
    }

    const opError = err instanceof OpError ? err : null;
    const code = (opError?.cause as NodeJS.ErrnoException | undefined)?.code;
    const op = opError?.op;
    const file =
      op === undefined ? "?" : "file" in op ? op.file : op.op === "rename" ? op.from : this.#fs.dir;
    const noSpace =
      (code === "ENOSPC" || code === "EDQUOT") && op !== undefined && op.op !== "sync" && op.op !== "syncDir";
    const detail = `${op?.op ?? "operation"} of '${file}' in '${this.#fs.dir}' failed (${code ?? "error"})`;
    this.#failure = noSpace
      ? new SynodError(ErrorCode.walNoSpace, `The disk is full: ${detail}; nothing after it was acknowledged`)
      : new SynodError(
          ErrorCode.walFailed,
          `Storage I/O error: ${detail}; nothing after it was acknowledged`,
        );
    const failure = this.#failure;
    this.#syncedQueued = 0;
    for (const p of [...group, ...this.#queue.splice(0)]) p.reject(failure);
    if (!noSpace) this.#onFatal(err instanceof Error ? err : new Error(String(err)));
  }

  async #file(name: string): Promise<WalFile> {
    let f = this.#files.get(name);
    if (f === undefined) {
      f = await this.#fs.open(name, false);
      this.#files.set(name, f);
    }
    return f;
  }

  async #closeFile(name: string): Promise<void> {
    const f = this.#files.get(name);
    if (f === undefined) return;
    this.#files.delete(name);
    await f.close();
  }

  async #closeFiles(): Promise<void> {
    for (const name of [...this.#files.keys()]) await this.#closeFile(name).catch(() => undefined);
  }

  /**
   * Runs `ops` in order; throws an {@link OpError} for the first that fails. A write followed by
   * a sync of the same file runs as one `writeDurable` where the file has it, unless unsynced
   * bytes of that file precede it (`writeDurable` makes durable its own bytes only; `fdatasync`
   * all of the file's).
   */
  async #execute(ops: readonly FileOp[]): Promise<void> {
    let lastWritten: string | null = null;
    for (let i = 0; i < ops.length; i++) {
      const op = ops[i] as FileOp;
      const next = ops[i + 1];
      try {
        if (op.op === "write" && next?.op === "sync" && next.file === op.file && !this.#dirty.has(op.file)) {
          const f = await this.#file(op.file);
          if (f.writeDurable !== undefined) {
            await f.writeDurable(op.bytes, op.offset);
            this.stats.bytes += op.bytes.length;
            this.stats.syncs++;
            lastWritten = op.file;
            i++;
            continue;
          }
        }
        await this.#run(op);
      } catch (err) {
        throw new OpError(op, err);
      }
      if (op.op === "write") lastWritten = op.file;
    }
    // Keep only the segment being appended to open.
    if (lastWritten !== null) {
      for (const name of [...this.#files.keys()]) if (name !== lastWritten) await this.#closeFile(name);
    }
  }

  /** Keeps {@link #dirty} up to date with `op`. */
  #track(op: FileOp): void {
    switch (op.op) {
      case "write":
      case "zero":
        this.#dirty.add(op.file);
        return;
      case "sync":
      case "create":
      case "unlink":
        this.#dirty.delete(op.file);
        return;
      case "rename":
        if (this.#dirty.delete(op.from)) this.#dirty.add(op.to);
        else this.#dirty.delete(op.to);
        return;
      case "syncDir":
        return;
    }
  }

  async #run(op: FileOp): Promise<void> {
    this.#track(op);
    switch (op.op) {
      case "create":
        await this.#closeFile(op.file);
        this.#files.set(op.file, await this.#fs.open(op.file, true));
        return;
      case "zero":
        await this.#zero(await this.#file(op.file), op);
        return;
      case "write":
        await (await this.#file(op.file)).write(op.bytes, op.offset);
        this.stats.bytes += op.bytes.length;
        return;
      case "sync":
        await (await this.#file(op.file)).datasync();
        this.stats.syncs++;
        return;
      case "rename": {
        await this.#fs.rename(op.from, op.to);
        const f = this.#files.get(op.from);
        if (f !== undefined) {
          this.#files.delete(op.from);
          await this.#closeFile(op.to);
          this.#files.set(op.to, f);
        }
        return;
      }
      case "syncDir":
        await this.#fs.syncDir();
        this.stats.syncs++;
        return;
      case "unlink":
        await this.#closeFile(op.file);
        await this.#fs.unlink(op.file);
        return;
    }
  }

  /** Names of the live segments, oldest first (for tests and operators). */
  get segmentNames(): readonly string[] {
    return this.#core.segmentNames;
  }

  /** Index of the last entry written. */
  get lastIndex(): number {
    return this.#core.lastIndex;
  }
}
