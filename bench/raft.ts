// `npm run bench:raft`: how fast the pure Raft core commits, with no I/O in the way.
// A 3-member cluster in one thread: storage is in memory, messages are handed over directly,
// every Ready is processed exactly as a driver would (persist, send, apply, advance).
// Prints committed entries/s for 100-byte proposals at batch sizes 1, 16 and 256 (entries per
// proposal; 4096 entries are proposed per round before the cluster is stabilised, so the core's
// own batching and pipelining apply), one proposal per round trip as a latency-bound floor, and
// the CPU cost per committed entry (all three members together: one core runs the whole cluster).
import { SeededRng } from "../src/lib/rng.js";
import { RawNode } from "../src/raft/rawnode.js";
import { MemoryStorage } from "../src/raft/storage.js";
import type { Message } from "../src/raft/types.js";

const payloadBytes = 100;
/** Entries proposed per round, whatever the batch size. */
const entriesPerRound = 4096;
const secondsPerBatch = Number(process.env.BENCH_SECONDS ?? 3);

interface Member {
  readonly node: RawNode;
  readonly storage: MemoryStorage;
  inbox: Message[];
  applied: number;
}

function cluster(): Member[] {
  const ids = [1, 2, 3];
  const conf = { voters: ids, votersOutgoing: [], learners: [], learnersNext: [], autoLeave: false };
  return ids.map((id) => {
    const storage = MemoryStorage.bootstrap(conf);
    const node = new RawNode({ id, storage, rng: new SeededRng(id), inflightMessagesMax: 256 });
    return { node, storage, inbox: [], applied: 0 };
  });
}

/** Processes Readies and delivers messages until the cluster is idle; returns entries applied on member 0. */
function stabilize(ms: Member[]): number {
  let appliedByLeader = 0;
  for (;;) {
    let busy = false;
    for (const m of ms) {
      if (m.inbox.length > 0) {
        busy = true;
        const inbox = m.inbox;
        m.inbox = [];
        for (const msg of inbox) m.node.step(msg);
      }
      if (!m.node.hasReady()) continue;
      busy = true;
      const rd = m.node.ready();
      for (const msg of rd.messagesEarly) (ms[msg.to - 1] as Member).inbox.push(msg);
      if (rd.snapshot !== null) m.storage.applySnapshot(rd.snapshot);
      m.storage.append(rd.entries);
      if (rd.hardState !== null) m.storage.setHardState(rd.hardState);
      for (const msg of rd.messages) (ms[msg.to - 1] as Member).inbox.push(msg);
      const last = rd.committedEntries[rd.committedEntries.length - 1];
      if (last !== undefined) {
        if (m === ms[0]) appliedByLeader += rd.committedEntries.length;
        m.applied = last.index;
      }
      m.node.advance();
    }
    if (!busy) return appliedByLeader;
  }
}

/** `inFlight`: proposals made per round before the cluster is stabilised (1 = one round trip each). */
function run(
  batch: number,
  inFlight = Math.max(1, Math.floor(entriesPerRound / batch)),
): { entriesPerSec: number; cpuNsPerEntry: number; entries: number } {
  const ms = cluster();
  const leader = ms[0] as Member;
  leader.node.campaign();
  stabilize(ms);
  const payload = new Uint8Array(payloadBytes).fill(7);
  const proposal = Array.from({ length: batch }, () => payload);
  const proposalsPerRound = inFlight;
  let committed = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let rounds = 0;
  while (performance.now() - t0 < secondsPerBatch * 1000) {
    for (let i = 0; i < proposalsPerRound; i++) {
      const res = batch === 1 ? leader.node.propose(payload) : leader.node.proposeBatch(proposal);
      if (!res.ok) throw new Error(`proposal refused: ${res.reason}`);
    }
    committed += stabilize(ms);
    if (++rounds % 16 === 0) for (const m of ms) m.storage.compact(m.applied);
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuNs = (cpu.user + cpu.system) * 1000;
  return { entriesPerSec: committed / (wallMs / 1000), cpuNsPerEntry: cpuNs / committed, entries: committed };
}

console.log(
  `bench:raft — 3 members in one thread, ${payloadBytes}-byte entries, ${secondsPerBatch} s per batch size`,
);
console.log(`node ${process.version}, ${process.platform}/${process.arch}`);
const cases: { label: string; batch: number; inFlight?: number }[] = [
  { label: "batch   1", batch: 1 },
  { label: "batch  16", batch: 16 },
  { label: "batch 256", batch: 256 },
  { label: "batch   1, one proposal per round trip", batch: 1, inFlight: 1 },
];
for (const c of cases) {
  run(c.batch, c.inFlight); // warm-up (JIT), not reported
  const r = run(c.batch, c.inFlight);
  console.log(
    `${c.label}: ${Math.round(r.entriesPerSec).toLocaleString("en-US")} committed entries/s, ` +
      `${(r.cpuNsPerEntry / 1000).toFixed(2)} µs CPU per entry (whole cluster), ${r.entries.toLocaleString("en-US")} entries`,
  );
}
console.log(`target: >= 500,000 committed entries/s at batch 256 on one core`);
