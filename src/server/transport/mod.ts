/**
 * The peer transport: Raft messages between members over framed, checksummed, batched TCP
 * streams with a handshake, bounded queues, reconnect with backoff and chunked snapshot
 * transfer. `frame.ts`, `codec.ts`, `snapshot.ts`, `backoff.ts` and `url.ts` are pure; `transport.ts`,
 * `outbound.ts` and `inbound.ts` own the sockets. See docs/peer-protocol.md.
 */
export { backoffDelayMs } from "./backoff.js";
export {
  type Decoded,
  decodeFrame,
  type Frame,
  type HelloFrame,
  isWireMessage,
  messageProblem,
  messageWireBytes,
  peerChunkOverheadBytes,
  peerConfStateIdsMax,
  peerControlFrameBytesMax,
  peerDetailBytesMax,
  peerFrameBytesMax,
  peerHelloFrameBytesMax,
  peerMessagesPerFrameMax,
  peerProtocolVersion,
  RefuseCode,
  writeHello,
  writeMessages,
  writeRefuse,
  writeSnapshotAck,
  writeSnapshotBegin,
  writeSnapshotChunk,
  writeWelcome,
} from "./codec.js";
export {
  FrameReader,
  FrameType,
  FrameWriter,
  frameName,
  peerFrameHeaderBytes,
  type RawFrame,
} from "./frame.js";
export type { OutboundState, OutboundStats } from "./outbound.js";
export { type AssemblyOutcome, SnapshotAssembler } from "./snapshot.js";
export {
  backoffMaxMsDefault,
  backoffMinMsDefault,
  dialTimeoutMsDefault,
  handshakeTimeoutMsDefault,
  inboundConnectionsMaxDefault,
  PeerTransport,
  type PeerTransportOptions,
  type PeerTransportStats,
  sendQueueBytesMaxDefault,
  sendQueueMessagesMaxDefault,
  snapshotAckTimeoutMsDefault,
  snapshotBytesMaxDefault,
  snapshotChunkBytesDefault,
  snapshotsQueuedMaxDefault,
  writeStallTimeoutMsDefault,
} from "./transport.js";
export { type PeerAddress, parsePeerUrl } from "./url.js";
