/**
 * A deterministic in-memory disk that executes the WAL core's plans (`src/wal/plan.ts`), for the
 * simulator and for crash tests of the pure WAL code.
 *
 * Model (after Pillai et al., OSDI 2014, and LazyFS): each file (inode) has durable bytes and a
 * page cache of unsynced writes, applied in order; the directory has durable entries and a list
 * of unsynced changes (create, rename, unlink). `sync` makes one file's writes durable (not its
 * name); `syncDir` makes the directory changes durable. {@link SimDisk.crash} keeps a random
 * prefix of each file's unsynced writes, may tear the next one at a sector boundary (default
 * 512 bytes), keeps a random prefix of the directory changes, and drops the rest. All choices come
 * from the injected seeded {@link Rng}, so a run replays exactly.
 *
 * API: {@link SimDisk.execute} (run operations, stopping at the first failure),
 * {@link SimDisk.failSyncs} (the next n syncs fail with EIO), `capacityBytes` (writes past it fail
 * with ENOSPC), {@link SimDisk.crash}, and {@link SimDisk.files} (what a reader sees now; after a
 * crash, exactly what survived) to feed `recover()`.
 */
import { assert } from "../lib/assert.js";
import type { Rng } from "../lib/rng.js";
import type { FileOp } from "../wal/plan.js";

/** Options of {@link SimDisk}. */
export interface SimDiskOptions {
  /** Unit of torn writes in bytes; default 512. */
  readonly sectorBytes?: number;
  /** Total bytes the files may hold; a write or zero-fill past it fails with ENOSPC. Default: no limit. */
  readonly capacityBytes?: number;
}

/** The outcome of {@link SimDisk.execute}: all done, or the index of the operation that failed. */
export type SimDiskResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly failedAt: number; readonly error: "EIO" | "ENOSPC" | "ENOENT" };

interface PendingWrite {
  readonly offset: number;
  /** Null for a zero-fill of `length` bytes. */
  readonly bytes: Uint8Array | null;
  readonly length: number;
}

class Inode {
  durable: Uint8Array = new Uint8Array(0);
  current: Uint8Array = new Uint8Array(0);
  pending: PendingWrite[] = [];
}

type DirChange =
  | { readonly kind: "link"; readonly name: string; readonly inode: Inode }
  | { readonly kind: "rename"; readonly from: string; readonly to: string }
  | { readonly kind: "unlink"; readonly name: string };

function applyWrite(target: Uint8Array, w: PendingWrite, length = w.length): Uint8Array {
  const end = w.offset + length;
  let out = target;
  if (end > target.length) {
    out = new Uint8Array(end);
    out.set(target);
  }
  if (w.bytes === null) out.fill(0, w.offset, end);
  else out.set(w.bytes.subarray(0, length), w.offset);
  return out;
}

function applyDir(dir: Map<string, Inode>, c: DirChange): void {
  if (c.kind === "link") dir.set(c.name, c.inode);
  else if (c.kind === "unlink") dir.delete(c.name);
  else {
    const inode = dir.get(c.from);
    if (inode === undefined) return;
    dir.delete(c.from);
    dir.set(c.to, inode);
  }
}

/** A simulated disk; see the module comment. */
export class SimDisk {
  readonly sectorBytes: number;
  readonly capacityBytes: number;
  /** Syncs (file and directory) completed successfully. */
  syncs = 0;
  /** Crashes so far. */
  crashes = 0;
  readonly #rng: Rng;
  #durableDir = new Map<string, Inode>();
  #dir = new Map<string, Inode>();
  #dirPending: DirChange[] = [];
  #failSyncs = 0;

  constructor(rng: Rng, options: SimDiskOptions = {}) {
    this.#rng = rng;
    this.sectorBytes = options.sectorBytes ?? 512;
    this.capacityBytes = options.capacityBytes ?? Number.POSITIVE_INFINITY;
    assert(this.sectorBytes > 0, `SimDisk: 'sectorBytes' must be positive, got ${this.sectorBytes}`);
  }

  /** Makes the next `n` sync or syncDir operations fail with EIO (and change nothing). */
  failSyncs(n = 1): void {
    this.#failSyncs += n;
  }

  /** Runs `ops` in order, stopping at the first failure. */
  execute(ops: readonly FileOp[]): SimDiskResult {
    for (let i = 0; i < ops.length; i++) {
      const error = this.#run(ops[i] as FileOp);
      if (error !== null) return { ok: false, failedAt: i, error };
    }
    return { ok: true };
  }

  #used(): number {
    let n = 0;
    for (const inode of new Set(this.#dir.values())) n += inode.current.length;
    return n;
  }

  #write(file: string, w: PendingWrite): "ENOENT" | "ENOSPC" | null {
    const inode = this.#dir.get(file);
    if (inode === undefined) return "ENOENT";
    const growth = Math.max(0, w.offset + w.length - inode.current.length);
    if (growth > 0 && this.#used() + growth > this.capacityBytes) return "ENOSPC";
    inode.current = applyWrite(inode.current, w);
    inode.pending.push(w);
    return null;
  }

  #run(op: FileOp): "EIO" | "ENOSPC" | "ENOENT" | null {
    switch (op.op) {
      case "create": {
        const c: DirChange = { kind: "link", name: op.file, inode: new Inode() };
        applyDir(this.#dir, c);
        this.#dirPending.push(c);
        return null;
      }
      case "zero":
        return this.#write(op.file, { offset: op.offset, bytes: null, length: op.length });
      case "write":
        return this.#write(op.file, { offset: op.offset, bytes: op.bytes.slice(), length: op.bytes.length });
      case "sync": {
        const inode = this.#dir.get(op.file);
        if (inode === undefined) return "ENOENT";
        if (this.#failSyncs > 0) {
          this.#failSyncs--;
          return "EIO";
        }
        for (const w of inode.pending) inode.durable = applyWrite(inode.durable, w);
        inode.pending = [];
        this.syncs++;
        return null;
      }
      case "rename": {
        if (!this.#dir.has(op.from)) return "ENOENT";
        const c: DirChange = { kind: "rename", from: op.from, to: op.to };
        applyDir(this.#dir, c);
        this.#dirPending.push(c);
        return null;
      }
      case "syncDir":
        if (this.#failSyncs > 0) {
          this.#failSyncs--;
          return "EIO";
        }
        for (const c of this.#dirPending) applyDir(this.#durableDir, c);
        this.#dirPending = [];
        this.syncs++;
        return null;
      case "unlink": {
        const c: DirChange = { kind: "unlink", name: op.file };
        applyDir(this.#dir, c);
        this.#dirPending.push(c);
        return null;
      }
    }
  }

  /**
   * Power loss: every file keeps its durable bytes plus a random prefix of its unsynced writes,
   * the next unsynced write possibly torn at a sector boundary; the directory keeps a random
   * prefix of its unsynced changes. Afterwards {@link files} shows exactly what survived.
   */
  crash(): void {
    this.crashes++;
    const inodes = new Set([...this.#dir.values(), ...this.#durableDir.values()]);
    for (const c of this.#dirPending) if (c.kind === "link") inodes.add(c.inode);
    for (const inode of inodes) {
      const kept = this.#rng.intBelow(inode.pending.length + 1);
      for (let i = 0; i < kept; i++)
        inode.durable = applyWrite(inode.durable, inode.pending[i] as PendingWrite);
      const next = inode.pending[kept];
      if (next !== undefined && this.#rng.float() < 0.5) {
        const firstBoundary = Math.ceil(next.offset / this.sectorBytes) * this.sectorBytes;
        const boundaries = Math.max(
          0,
          Math.ceil((next.offset + next.length - firstBoundary) / this.sectorBytes),
        );
        const cut = firstBoundary + this.sectorBytes * this.#rng.intBelow(boundaries + 1);
        const length = Math.min(next.length, Math.max(0, cut - next.offset));
        if (length > 0) inode.durable = applyWrite(inode.durable, next, length);
      }
      inode.pending = [];
      inode.current = inode.durable.slice();
    }
    const keptDir = this.#rng.intBelow(this.#dirPending.length + 1);
    for (let i = 0; i < keptDir; i++) applyDir(this.#durableDir, this.#dirPending[i] as DirChange);
    this.#dirPending = [];
    this.#dir = new Map(this.#durableDir);
    this.#failSyncs = 0;
  }

  /** The files as a reader sees them now, by name (copies). After {@link crash}: what survived. */
  files(): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    for (const [name, inode] of [...this.#dir.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      out.set(name, inode.current.slice());
    }
    return out;
  }

  /** The durable state: what {@link files} would show after a crash that kept no unsynced change. */
  durableFiles(): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    for (const [name, inode] of [...this.#durableDir.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      out.set(name, inode.durable.slice());
    }
    return out;
  }
}
