/** WAL file systems for tests that change how files behave (a slow disk, a gated write). */
import type { WalFile, WalFs } from "../wal/fs.js";

/**
 * `inner` with `open` replaced: every other operation goes to `inner` unchanged. `open` gets
 * `inner`'s own open to wrap the file it returns.
 */
export function withOpen(
  inner: WalFs,
  open: (name: string, create: boolean, innerOpen: WalFs["open"]) => Promise<WalFile>,
): WalFs {
  return {
    dir: inner.dir,
    ensureDir: () => inner.ensureDir(),
    list: () => inner.list(),
    readFile: (name) => inner.readFile(name),
    rename: (from, to) => inner.rename(from, to),
    unlink: (name) => inner.unlink(name),
    syncDir: () => inner.syncDir(),
    lock: () => inner.lock(),
    unlock: () => inner.unlock(),
    open: (name, create) => open(name, create, (n, c) => inner.open(n, c)),
  };
}
