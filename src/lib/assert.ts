/**
 * Programmer-error check. A false condition means the code itself is wrong, so the process must
 * stop rather than continue from a broken invariant; callers never catch this.
 */
export class AssertionError extends Error {
  override readonly name = "AssertionError";
}

/** Throws {@link AssertionError} with `message` when `condition` is false. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Marks a branch the type system proves unreachable; throws if it is reached at run time. */
export function unreachable(value: never, what: string): never {
  throw new AssertionError(`unreachable: unexpected ${what} ${String(value)}`);
}
