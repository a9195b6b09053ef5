/**
 * The Raft core's {@link Storage} backed by the WAL: a {@link MemoryStorage} filled from recovery
 * and kept in step as the driver persists. The driver sequence:
 *
 * 1. `const wal = await Wal.open(dir)`. A new member of the initial cluster (`wal.recovered.fresh`)
 *    persists `bootstrapRequest(conf)` with `wal.save`, then uses `MemoryStorage.bootstrap(conf)`;
 *    otherwise `storage = storageFromRecovered(wal.recovered)`.
 * 2. `new RawNode({ storage, abstainUntilCaughtUp: wal.recovered.cut, ... })`: if recovery cut a
 *    damaged tail, the node may have lost entries it acknowledged, so it must not vote or
 *    campaign until a leader has caught it up.
 * 3. For each Ready: send `messagesEarly`; `await wal.save(rd)` (a Ready is a
 *    {@link PersistRequest}); `applyPersisted(storage, rd)`; send `messages`; apply
 *    `committedEntries`; `advance()`.
 * 4. To compact: `const snap = storage.createSnapshot(applied, confState, data)`;
 *    `await wal.saveSnapshot(snap)`; then `storage.compact(...)` at or below `applied`.
 */
import { MemoryStorage } from "../raft/storage.js";
import type { ConfState } from "../raft/types.js";
import type { PersistRequest } from "./core.js";
import type { Recovered } from "./recover.js";

/** A {@link MemoryStorage} holding the recovered snapshot, entries and hard state. */
export function storageFromRecovered(r: Recovered): MemoryStorage {
  const snap = r.snapshot;
  const storage =
    snap !== null && snap.metadata.index === 0
      ? MemoryStorage.withConfState(snap.metadata.confState)
      : new MemoryStorage();
  if (snap !== null) storage.applySnapshot(snap);
  storage.append(r.entries);
  storage.setHardState(r.hardState);
  return storage;
}

/** Applies what the WAL has just made durable to the in-memory storage, in the WAL's order. */
export function applyPersisted(storage: MemoryStorage, request: PersistRequest): void {
  if (request.snapshot !== undefined && request.snapshot !== null) storage.applySnapshot(request.snapshot);
  if (request.entries !== undefined && request.entries.length > 0) storage.append(request.entries);
  if (request.hardState !== undefined && request.hardState !== null) storage.setHardState(request.hardState);
}

/**
 * What `MemoryStorage.bootstrap(confState)` holds, as a request to persist: the genesis snapshot
 * at index 1, term 1, with the initial configuration, and a hard state committing it.
 */
export function bootstrapRequest(confState: ConfState): PersistRequest {
  return {
    snapshot: { metadata: { index: 1, term: 1, confState }, data: new Uint8Array(0) },
    hardState: { term: 1, vote: 0, commit: 1 },
  };
}
