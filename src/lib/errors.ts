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
