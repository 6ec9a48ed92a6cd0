/**
 * Cross-process exclusive locks (two OpenCode processes on one project). A lock
 * whose holder was killed goes stale and is taken over instead of waited on forever.
 */
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import lockfile from "proper-lockfile";

export interface LockOptions {
  /** A lock not refreshed for this long is taken over (its holder died). */
  staleMs?: number;
  /** Give up after this long. */
  timeoutMs?: number;
}

export class LockTimeoutError extends Error {
  override readonly name = "LockTimeoutError";
}

/** Runs `fn` while holding the lock on `path` (the file need not exist yet). */
export async function withLock<T>(path: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const staleMs = options.staleMs ?? 10_000;
  const timeoutMs = options.timeoutMs ?? 30_000;
  await mkdir(dirname(path), { recursive: true });
  const deadline = Date.now() + timeoutMs;
  let release: (() => Promise<void>) | undefined;
  for (let delay = 5; !release; delay = Math.min(delay * 2, 100)) {
    try {
      release = await lockfile.lock(path, { stale: staleMs, realpath: false, lockfilePath: `${path}.lock` });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ELOCKED") throw error;
      if (Date.now() > deadline) throw new LockTimeoutError(`Timed out after ${timeoutMs} ms waiting for lock ${path}.lock`);
      await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
    }
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => {});
  }
}
