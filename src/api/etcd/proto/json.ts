/**
 * The proto3 JSON mapping as etcd's JSON gateway speaks it (grpc-gateway with `OrigName`): field
 * names as in the `.proto` (`create_revision`), default values omitted, 64-bit integers as
 * strings, bytes as base64, enums by name. Input accepts proto names and JSON (lowerCamelCase)
 * names, integers as numbers or strings, enums by name or number, standard or URL-safe base64.
 * Pure: no `node:*` imports.
 */
import {
  createMessage,
  decodeMessage,
  Encoded,
  type EnumDesc,
  type FieldDesc,
  isEnumType,
  isMessageType,
  type MessageDesc,
} from "./codec.js";

const CHUNK = 8192;

/** Standard base64 of `bytes`. */
export function base64Encode(bytes: Uint8Array): string {
  let bin = "";
  for (let at = 0; at < bytes.length; at += CHUNK) {
    bin += String.fromCharCode.apply(null, bytes.subarray(at, at + CHUNK) as unknown as number[]);
  }
  return btoa(bin);
}

/** Decodes standard or URL-safe base64 (padding optional); null if malformed. */
export function base64Decode(text: string): Uint8Array | null {
  let t = text.replace(/-/g, "+").replace(/_/g, "/").replace(/\s+/g, "");
  if (t.length % 4 === 1) return null;
  while (t.length % 4 !== 0) t += "=";
  let bin: string;
  try {
    bin = atob(t);
  } catch {
    return null;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function enumName(e: EnumDesc, n: number): string | number {
  for (const [name, value] of Object.entries(e.values)) if (value === n) return name;
  return n;
}

function scalarToJson(f: FieldDesc, v: unknown): unknown {
  const t = f.type;
  if (isMessageType(t)) {
    if (v instanceof Encoded) {
      const decoded = decodeMessage<object>(t(), v.bytes);
      if (!decoded.ok)
        throw new Error(`toJson: a pre-encoded ${t().name} does not decode: ${decoded.reason}`);
      return toJson(t(), decoded.value);
    }
    return toJson(t(), v as object);
  }
  if (isEnumType(t)) return enumName(t, v as number);
  switch (t) {
    case "bytes":
      return base64Encode(v as Uint8Array);
    case "int64":
    case "uint64":
      return BigInt(Math.trunc(v as number)).toString();
    case "id64":
      return (v as bigint).toString();
    default:
      return v;
  }
}

function isDefaultJson(f: FieldDesc, v: unknown): boolean {
  if (v === undefined || v === null) return true;
  if (f.oneof !== "" || isMessageType(f.type)) return false;
  if (typeof v === "number") return v === 0;
  if (typeof v === "boolean") return !v;
  if (typeof v === "bigint") return v === 0n;
  if (typeof v === "string") return v.length === 0;
  return (v as Uint8Array).length === 0;
}

/** The JSON form (a plain object, ready for `JSON.stringify`) of a `desc` message. */
export function toJson(desc: MessageDesc, obj: object): Record<string, unknown> {
  const rec = obj as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of desc.fields) {
    const v = rec[f.js];
    if (f.repeated) {
      const list = (v ?? []) as readonly unknown[];
      if (list.length > 0) out[f.name] = list.map((item) => scalarToJson(f, item));
    } else if (!isDefaultJson(f, v)) {
      out[f.name] = scalarToJson(f, v);
    }
  }
  return out;
}

class JsonInputError {
  constructor(readonly reason: string) {}
}

function bad(reason: string): never {
  throw new JsonInputError(reason);
}

function integerFromJson(f: FieldDesc, v: unknown): number | bigint {
  let big: bigint;
  if (typeof v === "number" && Number.isInteger(v)) big = BigInt(v);
  else if (typeof v === "string" && /^-?\d+$/.test(v.trim())) big = BigInt(v.trim());
  else return bad(`field ${f.name}: expected an integer, got ${JSON.stringify(v)}`);
  if (f.type === "id64") {
    if (big < 0n || big > 0xffffffffffffffffn) bad(`field ${f.name}: ${big} is not a uint64`);
    return big;
  }
  const unsigned = f.type === "uint64" || f.type === "uint32";
  const bits = f.type === "int32" || f.type === "uint32" ? 32 : 64;
  const min = unsigned ? 0n : -(1n << BigInt(bits - 1));
  const max = unsigned ? (1n << BigInt(bits)) - 1n : (1n << BigInt(bits - 1)) - 1n;
  if (big < min || big > max) bad(`field ${f.name}: ${big} is out of range`);
  return Number(big);
}

function valueFromJson(f: FieldDesc, v: unknown, depth: number): unknown {
  const t = f.type;
  if (isMessageType(t)) {
    if (typeof v !== "object" || v === null || Array.isArray(v)) bad(`field ${f.name}: expected an object`);
    return fromJsonInner(t(), v as Record<string, unknown>, depth + 1);
  }
  if (isEnumType(t)) {
    if (typeof v === "string") {
      const n = t.values[v];
      if (n === undefined) bad(`field ${f.name}: unknown ${t.name} value ${JSON.stringify(v)}`);
      return n;
    }
    return integerFromJson({ ...f, type: "int32" }, v);
  }
  switch (t) {
    case "bool":
      if (typeof v !== "boolean") bad(`field ${f.name}: expected true or false`);
      return v;
    case "string":
      if (typeof v !== "string") bad(`field ${f.name}: expected a string`);
      return v;
    case "bytes": {
      if (typeof v !== "string") bad(`field ${f.name}: expected base64 text`);
      const bytes = base64Decode(v as string);
      if (bytes === null) bad(`field ${f.name}: malformed base64`);
      return bytes;
    }
    default:
      return integerFromJson(f, v);
  }
}

function fromJsonInner(
  desc: MessageDesc,
  json: Record<string, unknown>,
  depth: number,
): Record<string, unknown> {
  if (depth > 100) bad("objects nested too deeply");
  const obj = createMessage(desc);
  for (const [key, v] of Object.entries(json)) {
    const f = desc.fields.find((x) => x.name === key || x.js === key);
    if (f === undefined) bad(`unknown field ${JSON.stringify(key)} in ${desc.name}`);
    if (v === null) continue;
    if (f.repeated) {
      if (!Array.isArray(v)) bad(`field ${f.name}: expected an array`);
      obj[f.js] = (v as unknown[]).map((item) => valueFromJson(f, item, depth));
    } else {
      obj[f.js] = valueFromJson(f, v, depth);
    }
  }
  return obj;
}

/** Reads a `desc` message from parsed JSON; a reason string when it does not fit. */
export function fromJson<T>(
  desc: MessageDesc,
  json: unknown,
): { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string } {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { ok: false, reason: `${desc.name}: expected a JSON object` };
  }
  try {
    return { ok: true, value: fromJsonInner(desc, json as Record<string, unknown>, 0) as T };
  } catch (e) {
    if (e instanceof JsonInputError) return { ok: false, reason: `${desc.name}: ${e.reason}` };
    throw e;
  }
}
