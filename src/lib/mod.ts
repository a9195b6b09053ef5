export { AssertionError, assert, unreachable } from "./assert.js";
export { ErrorCode, SynodError } from "./errors.js";
export { type Logger, MemoryLogger, noopLogger } from "./logger.js";
export { type Rng, SeededRng } from "./rng.js";
