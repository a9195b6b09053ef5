/**
 * The member's diagnostics channels (`node:diagnostics_channel`): the hot paths publish timings
 * here only when someone subscribes; `metrics.ts` subscribes (histograms, slow-apply warnings).
 * The WAL's fsync channel is `walFsyncChannel` in `src/wal/fs.ts`.
 */
import diagnostics from "node:diagnostics_channel";
import type { NodeId } from "../raft/types.js";

/** One applied batch of committed entries (one Ready's worth). */
export interface ApplyEvent {
  readonly member: NodeId;
  /** Entries applied. */
  readonly entries: number;
  /** Milliseconds the batch took to apply. */
  readonly durationMs: number;
  /** Index of the last entry applied. */
  readonly index: number;
}

/** One local snapshot written (state machine encoded, file written and synced, marker logged). */
export interface SnapshotSaveEvent {
  readonly member: NodeId;
  readonly index: number;
  /** Bytes of snapshot data. */
  readonly bytes: number;
  /** From the start of encoding to the file synced. */
  readonly durationMs: number;
  /** Encoding alone (on the encoder thread: the member went on serving and applying meanwhile). */
  readonly encodeMs: number;
  /** Entries this member applied while the snapshot was encoded. */
  readonly appliedWhileEncoding: number;
}

/** `synod:member:apply`: an {@link ApplyEvent} after each applied batch. */
export const applyChannel = diagnostics.channel("synod:member:apply");
/** `synod:member:snapshot`: a {@link SnapshotSaveEvent} after each local snapshot. */
export const snapshotSaveChannel = diagnostics.channel("synod:member:snapshot");
