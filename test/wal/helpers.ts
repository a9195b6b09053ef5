// Shared helpers for the WAL tests: entries, and a WAL core running on the simulated disk.
import { SeededRng } from "../../src/lib/rng.js";
import type { ConfState, Entry, HardState, Snapshot } from "../../src/raft/types.js";
import { SimDisk } from "../../src/testing/simdisk.js";
import { WalCore, type WalCoreOptions, type WalRequest } from "../../src/wal/core.js";
import { type Recovered, type RecoveryError, recover } from "../../src/wal/recover.js";

export const conf3: ConfState = {
  voters: [1, 2, 3],
  votersOutgoing: [],
  learners: [],
  learnersNext: [],
  autoLeave: false,
};

/** The payload of entry `index` in term `term`: recognisable and of varying length. */
export function payload(index: number, term: number, bytes = 8 + (index % 40)): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (index * 31 + term * 7 + i) & 0xff;
  return out;
}

/** Entries `[from, from + n)` in `term`. */
export function entries(from: number, n: number, term: number): Entry[] {
  return Array.from({ length: n }, (_, i) => ({
    index: from + i,
    term,
    type: 0 as const,
    data: payload(from + i, term),
  }));
}

export function snapshotAt(index: number, term: number, conf: ConfState = conf3): Snapshot {
  return { metadata: { index, term, confState: conf }, data: payload(index, term, 100) };
}

export function hs(term: number, commit: number, vote = 0): HardState {
  return { term, vote, commit };
}

/** Recovers from `disk`, failing the test on a recovery error. */
export function mustRecover(files: ReadonlyMap<string, Uint8Array>): Recovered {
  const r = recover(files);
  if (!r.ok) throw new Error(`recovery failed: ${r.message}`);
  return r;
}

/** A WAL core whose plans run on a {@link SimDisk}. */
export class DiskWal {
  readonly disk: SimDisk;
  core: WalCore;
  recovered: Recovered;
  readonly options: WalCoreOptions;

  constructor(
    disk: SimDisk = new SimDisk(new SeededRng(1)),
    options: WalCoreOptions = { segmentBytes: 4096 },
  ) {
    this.disk = disk;
    this.options = options;
    this.recovered = mustRecover(disk.files());
    this.core = new WalCore(this.recovered, options);
    const r = disk.execute(this.core.openPlan().ops);
    if (!r.ok) throw new Error(`open plan failed: ${r.error}`);
  }

  /** The records write of the last plan run by {@link persist}. */
  lastWrite: { file: string; offset: number; length: number } | null = null;

  /** Persists `requests`; true when durable (acknowledged). */
  persist(...requests: WalRequest[]): boolean {
    const plan = this.core.append(requests);
    for (const op of plan.ops) {
      if (op.op === "write") this.lastWrite = { file: op.file, offset: op.offset, length: op.bytes.length };
    }
    if (!this.disk.execute(plan.ops).ok) return false;
    this.disk.execute(plan.cleanup);
    return true;
  }

  /** Recovers from the current files (as after a clean restart). */
  reopen(): Recovered | RecoveryError {
    return recover(this.disk.files());
  }
}
