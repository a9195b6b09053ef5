/** The seeded cluster simulator: whole Raft clusters under faults, checked after every step. */
export { type Operation, RegisterHistory } from "./history.js";
export { Invariants, InvariantViolation } from "./invariants.js";
export {
  replayCommand,
  type SimOptions,
  type SimResult,
  type SimStats,
  Simulation,
  simulate,
} from "./simulator.js";
