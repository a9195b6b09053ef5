/**
 * The load generator's gRPC messages, built once: framed requests that never change (a range, a
 * keep-alive), templates for requests whose only variable bytes are keys of a fixed size (put,
 * txn-put: the key's digits are written in place, so a request costs one copy), and response
 * descriptors that decode only the fields the workloads read.
 */
import { frameHeaderBytes, frameMessage } from "../../src/api/etcd/grpc/frames.js";
import { encodeMessage, type MessageDesc, message } from "../../src/api/etcd/proto/codec.js";

/** `desc` encoded and framed for gRPC. */
export function framed(desc: MessageDesc, obj: object): Uint8Array {
  return frameMessage(encodeMessage(desc, obj));
}

/**
 * Writes key number `i` at `out[at, at + size)`: its decimal digits, zero-padded on the left (the
 * bytes of `String(i).padStart(size, "0")`). The caller checks that the digits fit.
 */
export function writeKey(out: Uint8Array, at: number, i: number, size: number): void {
  let n = i;
  for (let p = at + size - 1; p >= at; p--) {
    out[p] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
}

/** The bytes of a protobuf varint (n < 2^31). */
function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
  return out;
}

/** A length-delimited field: tag, length, then `bytes`. */
function lengthDelimited(fieldNo: number, bytes: Uint8Array): Uint8Array {
  const head = [(fieldNo << 3) | 2, ...varint(bytes.length)];
  const out = new Uint8Array(head.length + bytes.length);
  out.set(head);
  out.set(bytes, head.length);
  return out;
}

/** PutRequest{key, value} with a key of `keySize` zeros; `keyAt` is where the key starts. */
function putRequest(keySize: number, value: Uint8Array): { bytes: Uint8Array; keyAt: number } {
  const key = lengthDelimited(1, new Uint8Array(keySize).fill(0x30));
  const rest = value.length > 0 ? lengthDelimited(2, value) : new Uint8Array(0);
  const bytes = new Uint8Array(key.length + rest.length);
  bytes.set(key);
  bytes.set(rest, key.length);
  return { bytes, keyAt: key.length - keySize };
}

/** Framed `etcdserverpb.PutRequest{key, value}` with a fixed-size key and a constant value. */
export class PutTemplate {
  readonly #framed: Buffer;
  readonly #keyAt: number;
  readonly #keySize: number;

  constructor(keySize: number, value: Uint8Array) {
    const { bytes, keyAt } = putRequest(keySize, value);
    this.#framed = Buffer.from(frameMessage(bytes));
    this.#keyAt = frameHeaderBytes + keyAt;
    this.#keySize = keySize;
  }

  /** A new framed request for key number `i`. */
  request(i: number): Uint8Array {
    const out = Buffer.allocUnsafe(this.#framed.length);
    this.#framed.copy(out);
    writeKey(out, this.#keyAt, i, this.#keySize);
    return out;
  }
}

/**
 * Framed `etcdserverpb.TxnRequest` with no compares and `ops` puts in `success` (keys of a fixed
 * size, one constant value).
 */
export class TxnPutTemplate {
  readonly #framed: Buffer;
  readonly #keyAts: number[] = [];
  readonly #keySize: number;

  constructor(keySize: number, value: Uint8Array, ops: number) {
    const put = putRequest(keySize, value);
    // Each op is one TxnRequest.success (field 2) holding RequestOp{request_put (field 2)}.
    const entry = lengthDelimited(2, lengthDelimited(2, put.bytes));
    const message = new Uint8Array(entry.length * ops);
    for (let j = 0; j < ops; j++) {
      message.set(entry, j * entry.length);
      // The put is the innermost, last part of its entry.
      this.#keyAts.push(frameHeaderBytes + (j + 1) * entry.length - put.bytes.length + put.keyAt);
    }
    this.#framed = Buffer.from(frameMessage(message));
    this.#keySize = keySize;
  }

  /** A new framed request whose j-th put has key number `(base + j) mod keySpace`. */
  request(base: number, keySpace: number): Uint8Array {
    const out = Buffer.allocUnsafe(this.#framed.length);
    this.#framed.copy(out);
    for (let j = 0; j < this.#keyAts.length; j++) {
      writeKey(out, this.#keyAts[j] as number, (base + j) % keySpace, this.#keySize);
    }
    return out;
  }
}

const kvValueOnly: MessageDesc = message("bench.KeyValue", [[5, "value", "bytes"]]);
const eventKvOnly: MessageDesc = message("bench.Event", [[2, "kv", () => kvValueOnly]]);

/** `etcdserverpb.WatchResponse` without the header and with events' values only. */
export const watchResponseLite: MessageDesc = message("bench.WatchResponse", [
  [2, "watch_id", "int64"],
  [3, "created", "bool"],
  [4, "canceled", "bool"],
  [6, "cancel_reason", "string"],
  [11, "events", () => eventKvOnly, "repeated"],
]);

/** What {@link watchResponseLite} decodes to. */
export interface WatchResponseLite {
  readonly watchId: number;
  readonly created: boolean;
  readonly canceled: boolean;
  readonly cancelReason: string;
  readonly events: readonly { readonly kv: { readonly value: Uint8Array } | null }[];
}

/** `etcdserverpb.LeaseKeepAliveResponse` without the header. */
export const keepAliveResponseLite: MessageDesc = message("bench.LeaseKeepAliveResponse", [
  [2, "ID", "int64"],
  [3, "TTL", "int64"],
]);

/** What {@link keepAliveResponseLite} decodes to. */
export interface KeepAliveResponseLite {
  readonly ID: number;
  readonly TTL: number;
}
