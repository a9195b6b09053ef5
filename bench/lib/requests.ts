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

/** A length-delimited field: tag, length, bytes. */
function lengthDelimited(fieldNo: number, bytes: readonly number[]): number[] {
  return [(fieldNo << 3) | 2, ...varint(bytes.length), ...bytes];
}

/** PutRequest{key, value} with a zero key of `keySize` bytes; `keyAt` is where the key starts. */
function putRequest(keySize: number, value: Uint8Array): { bytes: number[]; keyAt: number } {
  const key = new Array<number>(keySize).fill(0x30);
  const bytes = lengthDelimited(1, key);
  const keyAt = bytes.length - keySize;
  if (value.length > 0) bytes.push(...lengthDelimited(2, [...value]));
  return { bytes, keyAt };
}

/** Framed `etcdserverpb.PutRequest{key, value}` with a fixed-size key and a constant value. */
export class PutTemplate {
  readonly #framed: Buffer;
  readonly #keyAt: number;
  readonly #keySize: number;

  constructor(keySize: number, value: Uint8Array) {
    const { bytes, keyAt } = putRequest(keySize, value);
    this.#framed = Buffer.from(frameMessage(Uint8Array.from(bytes)));
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
    // The body of RequestOp{request_put (field 2)}; each is one TxnRequest.success (field 2).
    const op = lengthDelimited(2, put.bytes);
    const bytes: number[] = [];
    for (let j = 0; j < ops; j++) {
      const start = bytes.length;
      const entry = lengthDelimited(2, op);
      bytes.push(...entry);
      // The put is the innermost, last part of its entry.
      this.#keyAts.push(frameHeaderBytes + start + entry.length - put.bytes.length + put.keyAt);
    }
    this.#framed = Buffer.from(frameMessage(Uint8Array.from(bytes)));
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
