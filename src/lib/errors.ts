/**
 * The single catalogue of operating-error codes. Code branches on `code`, never on message text;
 * each front door maps these codes to its own wire errors in one table.
 */
export const ErrorCode = {
  /** No leader is known, so a proposal or read cannot be served here; retry or forward. */
  noLeader: "SYNOD_NO_LEADER",
  /** A leadership transfer is in progress; proposals and reads are refused until it ends. */
  transferInProgress: "SYNOD_TRANSFER_IN_PROGRESS",
  /** The leader's uncommitted log is over its byte limit; retry after it drains. */
  proposalDropped: "SYNOD_PROPOSAL_DROPPED",
  /** A configuration change is already pending (proposed but not applied). */
  confChangePending: "SYNOD_CONF_CHANGE_PENDING",
  /** A configuration change is invalid for the current configuration. */
  confChangeInvalid: "SYNOD_CONF_CHANGE_INVALID",
  /** This member is not (or no longer) a voter or learner of the cluster. */
  notMember: "SYNOD_NOT_MEMBER",
  /** A request argument failed validation. */
  invalidArgument: "SYNOD_INVALID_ARGUMENT",
  /**
   * The write-ahead log or a snapshot is damaged beyond a torn tail (or a segment is missing), so
   * the member refuses to start; the message names the file and offset.
   */
  walCorrupt: "SYNOD_WAL_CORRUPT",
  /** The disk is full: the write failed and nothing after it was acknowledged. */
  walNoSpace: "SYNOD_WAL_NO_SPACE",
  /** Another process holds the data directory's lock. */
  walLocked: "SYNOD_WAL_LOCKED",
  /** A storage I/O error (e.g. a failed fsync) stopped the WAL; nothing after it is acknowledged. */
  walFailed: "SYNOD_WAL_FAILED",
  /** The WAL was closed. */
  walClosed: "SYNOD_WAL_CLOSED",
  /** A request was not applied within its deadline; its outcome is unknown (it may still apply). */
  requestTimeout: "SYNOD_REQUEST_TIMEOUT",
  /** The member is shutting down; the request was not (or may not have been) applied. */
  memberStopped: "SYNOD_MEMBER_STOPPED",
} as const;

/** One of the stable codes of {@link ErrorCode}. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The one error class for expected operating failures; `code` is stable, `message` is for people. */
export class SynodError extends Error {
  override readonly name = "SynodError";
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
