// Child process of crash.test.ts: opens the WAL in argv[2] and appends as fast as it can, with
// several saves in flight (group commit) and a local snapshot now and then, printing
// "ready <lastIndex>" after recovery and then the last index of every acknowledged save.
// The parent kills it with SIGKILL at random moments. Not a test file itself.
import { SeededRng } from "../../src/lib/rng.js";
import type { Entry } from "../../src/raft/types.js";
import { Wal } from "../../src/wal/wal.js";
import { payload, snapshotAt } from "./helpers.js";

const dir = process.argv[2] ?? "";
const rng = new SeededRng(Number(process.argv[3] ?? 1));
const savesInFlightMax = 8;

const wal = await Wal.open(dir, { segmentBytes: 64 * 1024, snapshotsRetained: 2 });
let next = wal.recovered.lastIndex + 1;
let acked = wal.recovered.lastIndex;
let snapshotAtIndex = wal.recovered.snapshot?.metadata.index ?? 0;
process.stdout.write(`ready ${acked}\n`);

let inFlight = 0;
function pump(): void {
  while (inFlight < savesInFlightMax) {
    const n = 1 + rng.intBelow(rng.intBelow(4) === 0 ? 200 : 10);
    const es: Entry[] = Array.from({ length: n }, (_, i) => ({
      index: next + i,
      term: 1,
      type: 0 as const,
      data: payload(next + i, 1),
    }));
    next += n;
    const last = next - 1;
    inFlight++;
    wal.save({ entries: es, hardState: { term: 1, vote: 0, commit: acked } }).then(() => {
      inFlight--;
      acked = last;
      process.stdout.write(`${last}\n`);
      if (acked - snapshotAtIndex > 2000) {
        snapshotAtIndex = acked;
        void wal.saveSnapshot(snapshotAt(acked, 1));
      }
      pump();
    });
  }
}
pump();
