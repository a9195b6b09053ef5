/** The Raft consensus core: pure, deterministic, no I/O. See `rawnode.ts` for the Ready contract. */
export { decodeConfChange, encodeConfChange } from "./codec.js";
export { type InjectedBugs, type RaftConfig, ReadOnlyOption } from "./config.js";
export { ProgressState } from "./progress.js";
export { campaignTransferContext } from "./raft.js";
export { type ProgressStatus, RawNode, type Ready, type Status } from "./rawnode.js";
export {
  ENTRIES_COMPACTED,
  emptyConfState,
  MemoryStorage,
  SNAPSHOT_UNAVAILABLE,
  type Storage,
  TERM_COMPACTED,
  TERM_UNAVAILABLE,
} from "./storage.js";
export * from "./types.js";
