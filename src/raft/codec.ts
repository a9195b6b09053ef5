import { type ConfChange, ConfChangeTransition, ConfChangeType, type NodeId } from "./types.js";

/**
 * Binary encoding of {@link ConfChange}, carried in conf-change log entries (version 1):
 * `u8 version=1, u8 transition, u16 count, count × (u8 type, u32 idHigh, u32 idLow),
 *  u32 contextLength, context bytes`, all big-endian.
 */
const VERSION = 1;
const transitions = [
  ConfChangeTransition.auto,
  ConfChangeTransition.jointImplicit,
  ConfChangeTransition.jointExplicit,
];
const types = [ConfChangeType.addNode, ConfChangeType.addLearner, ConfChangeType.removeNode];
/** Most changes one ConfChange may carry. */
export const confChangesMax = 1024;

export function encodeConfChange(cc: ConfChange): Uint8Array {
  const out = new Uint8Array(4 + cc.changes.length * 9 + 4 + cc.context.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, VERSION);
  view.setUint8(1, transitions.indexOf(cc.transition));
  view.setUint16(2, cc.changes.length);
  let at = 4;
  for (const c of cc.changes) {
    view.setUint8(at, types.indexOf(c.type));
    view.setUint32(at + 1, Math.floor(c.nodeId / 2 ** 32));
    view.setUint32(at + 5, c.nodeId >>> 0);
    at += 9;
  }
  view.setUint32(at, cc.context.length);
  out.set(cc.context, at + 4);
  return out;
}

/** Decodes a conf-change entry's data; returns a reason string for malformed input. */
export function decodeConfChange(data: Uint8Array): ConfChange | string {
  if (data.length < 8) return `conf change too short: ${data.length} bytes`;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (view.getUint8(0) !== VERSION) return `unknown conf change version ${view.getUint8(0)}`;
  const transition = transitions[view.getUint8(1)];
  if (transition === undefined) return `unknown conf change transition ${view.getUint8(1)}`;
  const count = view.getUint16(2);
  if (count > confChangesMax) return `conf change has ${count} changes, more than ${confChangesMax}`;
  if (data.length < 4 + count * 9 + 4) return "conf change truncated";
  const changes: { type: ConfChangeType; nodeId: NodeId }[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    const type = types[view.getUint8(at)];
    if (type === undefined) return `unknown conf change type ${view.getUint8(at)}`;
    changes.push({ type, nodeId: view.getUint32(at + 1) * 2 ** 32 + view.getUint32(at + 5) });
    at += 9;
  }
  const len = view.getUint32(at);
  if (data.length !== at + 4 + len) return "conf change context length mismatch";
  return { transition, changes, context: data.slice(at + 4) };
}
