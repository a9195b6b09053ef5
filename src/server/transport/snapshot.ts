/**
 * Reassembly of a snapshot's data from chunks on the receiving side of a peer stream. Pure.
 *
 * A transfer is a snapshotBegin frame (the snap message without its data, and the data's
 * length) followed by snapshotChunk frames carrying the data in order, each at the offset where
 * the previous one ended. The data is reassembled into one buffer, allocated once at begin and
 * bounded by `snapshotBytesMax`, and the complete snap message is then delivered.
 */
import type { Message } from "../../raft/types.js";

/** What happened to a transfer after a begin or chunk frame. */
export type AssemblyOutcome =
  /** More chunks are expected (or the chunk belonged to a rejected transfer and was skipped). */
  | { readonly kind: "more" }
  /** The snapshot is complete: `message` carries its full data. */
  | { readonly kind: "done"; readonly transferId: number; readonly message: Message }
  /** The transfer is refused (too large); the sender is told, the stream goes on. */
  | { readonly kind: "rejected"; readonly transferId: number; readonly reason: string }
  /** The frames break the protocol; the stream must be closed. */
  | { readonly kind: "error"; readonly reason: string };

interface Assembly {
  readonly transferId: number;
  readonly message: Message;
  readonly data: Uint8Array;
  received: number;
}

/** Reassembles one snapshot at a time for one inbound stream. */
export class SnapshotAssembler {
  readonly #bytesMax: number;
  #current: Assembly | null = null;
  /** A transfer refused at begin: its chunks may still be in flight and are skipped. */
  #rejectedId = -1;

  /** `snapshotBytesMax`: the largest snapshot data accepted, in bytes. */
  constructor(snapshotBytesMax: number) {
    this.#bytesMax = snapshotBytesMax;
  }

  /** The transfer in progress, if any. */
  get inProgress(): {
    readonly transferId: number;
    readonly received: number;
    readonly dataBytes: number;
  } | null {
    const c = this.#current;
    return c === null ? null : { transferId: c.transferId, received: c.received, dataBytes: c.data.length };
  }

  /** Starts transfer `transferId` of `dataBytes` bytes for snap message `message`. */
  begin(transferId: number, dataBytes: number, message: Message): AssemblyOutcome {
    if (this.#current !== null) {
      return {
        kind: "error",
        reason: `snapshot transfer ${transferId} began while transfer ${this.#current.transferId} is incomplete`,
      };
    }
    if (message.snapshot === null) return { kind: "error", reason: "snapshot transfer without a snapshot" };
    if (dataBytes > this.#bytesMax) {
      this.#rejectedId = transferId;
      return {
        kind: "rejected",
        transferId,
        reason: `snapshot of ${dataBytes} bytes exceeds snapshotBytesMax (${this.#bytesMax} bytes)`,
      };
    }
    this.#current = { transferId, message, data: new Uint8Array(dataBytes), received: 0 };
    return dataBytes === 0 ? this.#complete() : { kind: "more" };
  }

  /** Adds `data`, which the sender placed at `offset` of transfer `transferId`. */
  chunk(transferId: number, offset: number, data: Uint8Array): AssemblyOutcome {
    const c = this.#current;
    if (c === null || c.transferId !== transferId) {
      if (transferId === this.#rejectedId) return { kind: "more" };
      return { kind: "error", reason: `snapshot chunk for transfer ${transferId}, which is not in progress` };
    }
    if (offset !== c.received) {
      return { kind: "error", reason: `snapshot chunk at offset ${offset}, expected offset ${c.received}` };
    }
    if (data.length === 0 || data.length > c.data.length - c.received) {
      return {
        kind: "error",
        reason: `snapshot chunk of ${data.length} bytes at offset ${offset} of a ${c.data.length}-byte snapshot`,
      };
    }
    c.data.set(data, offset);
    c.received += data.length;
    return c.received === c.data.length ? this.#complete() : { kind: "more" };
  }

  /** Drops the transfer in progress (e.g. the stream closed). */
  abort(): void {
    this.#current = null;
  }

  #complete(): AssemblyOutcome {
    const c = this.#current;
    this.#current = null;
    if (c === null || c.message.snapshot === null)
      return { kind: "error", reason: "no snapshot in progress" };
    const message: Message = {
      ...c.message,
      snapshot: { metadata: c.message.snapshot.metadata, data: c.data },
    };
    return { kind: "done", transferId: c.transferId, message };
  }
}
