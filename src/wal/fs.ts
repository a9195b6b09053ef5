/**
 * The small asynchronous file-system interface the WAL shell needs, and its implementation on
 * `node:fs` (callback API on libuv's thread pool, so no call blocks the event loop).
 *
 * Lock: a `LOCK` file created with `O_CREAT | O_EXCL`, holding `<pid> <boot id>`. If it exists,
 * the lock is stale when its boot id differs from this boot's (`/proc/sys/kernel/random/boot_id`)
 * or its pid is not alive (`kill(pid, 0)` fails with ESRCH); a stale lock is taken over. Node has
 * no `flock` without a native addon, so this is the dependency-free choice. Limits: the pid of a
 * dead holder may have been reused by an unrelated process of the same boot (the lock then looks
 * held: delete `LOCK` by hand); processes in other pid namespaces sharing the directory, and
 * network file systems, are not covered; two processes taking over the same stale lock at the same
 * instant is narrowed (each checks that it moved the stale file it read) but not closed.
 */
import diagnostics from "node:diagnostics_channel";
import * as fs from "node:fs";
import { join } from "node:path";
import { ErrorCode, SynodError } from "../lib/errors.js";

/** An open file of the WAL. */
export interface WalFile {
  /** Writes all of `bytes` at `offset`. */
  write(bytes: Uint8Array, offset: number): Promise<void>;
  /** `fdatasync`: the file's data and size are durable when the promise resolves. */
  datasync(): Promise<void>;
  /**
   * Optional: {@link write} then {@link datasync} in one step (on Linux one `pwrite` on a
   * descriptor opened with `O_DSYNC`: one trip to libuv's thread pool instead of two, and no
   * event-loop turn between the write and the sync). It makes durable `bytes` only, so the shell
   * uses it only when nothing unsynced precedes them. Without it the shell calls the two.
   */
  writeDurable?(bytes: Uint8Array, offset: number): Promise<void>;
  close(): Promise<void>;
}

/** The file operations of one data directory; names are relative to it. */
export interface WalFs {
  /** The directory, for messages. */
  readonly dir: string;
  /** Creates the directory (and parents) if missing. */
  ensureDir(): Promise<void>;
  /** Names of the directory's files. */
  list(): Promise<string[]>;
  readFile(name: string): Promise<Uint8Array>;
  /** Opens `name` for writing; with `create`, creates it or truncates it to empty. */
  open(name: string, create: boolean): Promise<WalFile>;
  /** Atomically renames `from` to `to`, replacing `to`. */
  rename(from: string, to: string): Promise<void>;
  /** Removes `name`; a missing file is not an error. */
  unlink(name: string): Promise<void>;
  /** `fsync` of the directory itself. */
  syncDir(): Promise<void>;
  /** Takes the directory's lock, or throws {@link SynodError} `walLocked`. */
  lock(): Promise<void>;
  /** Releases the lock taken by {@link lock}. */
  unlock(): Promise<void>;
}

/** Name of the lock file in the data directory. */
export const lockFileName = "LOCK";

function call<T>(f: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    f((err, value) => (err === null ? resolve(value) : reject(err)));
  });
}

function done(f: (cb: (err: NodeJS.ErrnoException | null) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    f((err) => (err === null ? resolve() : reject(err)));
  });
}

/** What {@link walFsyncChannel} publishes after each completed `fdatasync` of a WAL file. */
export interface WalFsyncEvent {
  /** Milliseconds the sync took (as the member waited for it, an injected test delay included). */
  readonly durationMs: number;
}

/**
 * Diagnostics channel `synod:wal:fsync`: one {@link WalFsyncEvent} per `fdatasync` (metrics and
 * the slow-fsync warning subscribe; nothing is published without a subscriber).
 */
export const walFsyncChannel = diagnostics.channel("synod:wal:fsync");

/**
 * Test only (the chaos harness's slow-disk fault): when the environment variable
 * `SYNOD_TEST_FSYNC_DELAY_FILE` names a file, every `fdatasync` first waits the number of
 * milliseconds written in it (missing, empty or unreadable: no delay). Unset — always, outside the
 * chaos harness — it costs nothing.
 */
const testFsyncDelayFile = process.env.SYNOD_TEST_FSYNC_DELAY_FILE ?? "";

function testFsyncDelayMs(): number {
  if (testFsyncDelayFile === "") return 0;
  try {
    const ms = Number(fs.readFileSync(testFsyncDelayFile, "utf8").trim());
    return Number.isFinite(ms) && ms > 0 ? Math.min(ms, 60_000) : 0;
  } catch {
    return 0;
  }
}

/** `O_DSYNC` where the platform has it (Linux does); elsewhere files have no `writeDurable`. */
const oDsync: number | undefined = fs.constants.O_DSYNC;

async function writeAll(fd: number, bytes: Uint8Array, offset: number): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await call<number>((cb) =>
      fs.write(fd, bytes, written, bytes.length - written, offset + written, cb),
    );
  }
}

class NodeWalFile implements WalFile {
  readonly fd: number;
  constructor(fd: number) {
    this.fd = fd;
  }

  write(bytes: Uint8Array, offset: number): Promise<void> {
    return writeAll(this.fd, bytes, offset);
  }

  datasync(): Promise<void> {
    const startMs = performance.now();
    const sync = (): Promise<void> => done((cb) => fs.fdatasync(this.fd, cb));
    const delayMs = testFsyncDelayMs();
    const synced = delayMs > 0 ? new Promise<void>((r) => setTimeout(r, delayMs)).then(sync) : sync();
    if (!walFsyncChannel.hasSubscribers) return synced;
    return synced.then(() => {
      walFsyncChannel.publish({ durationMs: performance.now() - startMs } satisfies WalFsyncEvent);
    });
  }

  close(): Promise<void> {
    return done((cb) => fs.close(this.fd, cb));
  }
}

/** A {@link NodeWalFile} with a second descriptor opened with `O_DSYNC`, for `writeDurable`. */
class NodeDsyncWalFile extends NodeWalFile {
  readonly #dsyncFd: number;
  constructor(fd: number, dsyncFd: number) {
    super(fd);
    this.#dsyncFd = dsyncFd;
  }

  async writeDurable(bytes: Uint8Array, offset: number): Promise<void> {
    const startMs = performance.now();
    const delayMs = testFsyncDelayMs();
    if (delayMs > 0) await new Promise<void>((r) => setTimeout(r, delayMs));
    await writeAll(this.#dsyncFd, bytes, offset);
    if (walFsyncChannel.hasSubscribers)
      walFsyncChannel.publish({ durationMs: performance.now() - startMs } satisfies WalFsyncEvent);
  }

  override async close(): Promise<void> {
    await done((cb) => fs.close(this.#dsyncFd, cb));
    await super.close();
  }
}

function bootId(): string {
  try {
    return fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "-";
  }
}

/** Whether process `pid` exists (a process we may not signal still exists). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Whether the lock content `text` is held by a live process of this boot. */
function held(text: string, boot: string): { live: boolean; pid: number } {
  const [pidText, lockBoot] = text.trim().split(/\s+/);
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0) return { live: false, pid: 0 };
  if (lockBoot !== undefined && lockBoot !== "-" && boot !== "-" && lockBoot !== boot)
    return { live: false, pid };
  return { live: pid === process.pid || alive(pid), pid };
}

/** {@link WalFs} on the real file system, rooted at `dir`. */
export class NodeWalFs implements WalFs {
  readonly dir: string;
  #lockContent: string | null = null;

  constructor(dir: string) {
    this.dir = dir;
  }

  #path(name: string): string {
    return join(this.dir, name);
  }

  async ensureDir(): Promise<void> {
    await fs.promises.mkdir(this.dir, { recursive: true });
  }

  async list(): Promise<string[]> {
    const names = await fs.promises.readdir(this.dir, { withFileTypes: true });
    return names.filter((d) => d.isFile()).map((d) => d.name);
  }

  async readFile(name: string): Promise<Uint8Array> {
    return new Uint8Array(await fs.promises.readFile(this.#path(name)));
  }

  async open(name: string, create: boolean): Promise<WalFile> {
    const flags = create
      ? fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC
      : fs.constants.O_RDWR;
    const path = this.#path(name);
    const fd = await call<number>((cb) => fs.open(path, flags, 0o600, cb));
    if (oDsync === undefined) return new NodeWalFile(fd);
    // Opened now, by the same path: the file may be renamed later (a spare becoming a segment).
    try {
      const dsyncFd = await call<number>((cb) => fs.open(path, fs.constants.O_WRONLY | oDsync, cb));
      return new NodeDsyncWalFile(fd, dsyncFd);
    } catch (err) {
      await done((cb) => fs.close(fd, cb));
      throw err;
    }
  }

  rename(from: string, to: string): Promise<void> {
    return done((cb) => fs.rename(this.#path(from), this.#path(to), cb));
  }

  async unlink(name: string): Promise<void> {
    try {
      await done((cb) => fs.unlink(this.#path(name), cb));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
  }

  async syncDir(): Promise<void> {
    const fd = await call<number>((cb) => fs.open(this.dir, fs.constants.O_RDONLY, cb));
    try {
      await done((cb) => fs.fsync(fd, cb));
    } finally {
      await done((cb) => fs.close(fd, cb));
    }
  }

  async #tryCreateLock(content: string): Promise<boolean> {
    try {
      await fs.promises.writeFile(this.#path(lockFileName), content, { flag: "wx", mode: 0o600 });
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw err;
    }
  }

  #locked(pid: number): SynodError {
    const path = this.#path(lockFileName);
    return new SynodError(
      ErrorCode.walLocked,
      `Cannot open the data directory '${this.dir}': it is locked by process ${pid} ('${path}'); ` +
        "if no Synod process uses it, delete that file",
    );
  }

  async lock(): Promise<void> {
    const boot = bootId();
    const content = `${process.pid} ${boot}\n`;
    if (await this.#tryCreateLock(content)) {
      this.#lockContent = content;
      return;
    }
    const path = this.#path(lockFileName);
    const stale = await fs.promises.readFile(path, "utf8").catch(() => "");
    const h = held(stale, boot);
    if (h.live) throw this.#locked(h.pid);
    // Take the stale lock over: move it aside, check that what moved is what was judged stale
    // (not a lock another process just took), then create ours.
    const aside = `${lockFileName}.stale-${process.pid}`;
    try {
      await fs.promises.rename(path, this.#path(aside));
    } catch {
      throw this.#locked(h.pid);
    }
    const moved = await fs.promises.readFile(this.#path(aside), "utf8").catch(() => "");
    if (moved !== stale) {
      await fs.promises.rename(this.#path(aside), path).catch(() => undefined);
      throw this.#locked(held(moved, boot).pid);
    }
    await this.unlink(aside);
    if (!(await this.#tryCreateLock(content))) throw this.#locked(0);
    this.#lockContent = content;
  }

  async unlock(): Promise<void> {
    if (this.#lockContent === null) return;
    const path = this.#path(lockFileName);
    const now = await fs.promises.readFile(path, "utf8").catch(() => "");
    if (now === this.#lockContent) await this.unlink(lockFileName);
    this.#lockContent = null;
  }
}
