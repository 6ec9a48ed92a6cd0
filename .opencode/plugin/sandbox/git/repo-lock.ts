/**
 * The repository's sync lock: one sync at a time writes refs and work trees in the
 * user's repository, across processes. A `running` marker found on entry means the
 * previous holder was killed mid-way: ref locks it left on the refs sync writes (born
 * after the marker) would block every later sync, so they go.
 */
import { readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { KeyedQueue } from "../util/keyed-queue.js";
import { withLock } from "../util/lock.js";
import type { RepoInfo } from "./host-git.js";

export class RepoLock {
  /** This process's syncs queue here; one at a time takes the lock file. */
  private readonly queue = new KeyedQueue();
  private readonly path: string;

  constructor(
    private readonly repo: RepoInfo,
    private readonly branchPrefix: string,
    private readonly timeoutMs: number,
  ) {
    this.path = join(repo.commonDir, "opencode-sandboxed", "sync");
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.queue.run(this.path, () => withLock(this.path, () => this.marked(fn), { timeoutMs: this.timeoutMs }));
  }

  private async marked<T>(fn: () => Promise<T>): Promise<T> {
    const marker = join(this.repo.commonDir, "opencode-sandboxed", "running");
    const left = await stat(marker).catch(() => undefined);
    if (left) await sweepRefLocks(this.repo, this.branchPrefix, left.mtimeMs - 1000);
    await writeFile(marker, String(process.pid));
    try {
      return await fn();
    } finally {
      await rm(marker, { force: true });
    }
  }
}

/** Removes `*.lock` files newer than `since` under the refs sync writes, packed-refs.lock and index locks. */
async function sweepRefLocks(repo: RepoInfo, prefix: string, since: number): Promise<void> {
  const dirs = [join(repo.commonDir, "refs", "opencode-sandboxed"), join(repo.commonDir, "refs", "heads", ...prefix.split("/"))];
  // Index locks too: the killed holder may have been updating a checked-out branch's files.
  const candidates = [join(repo.commonDir, "packed-refs.lock"), join(repo.commonDir, "index.lock"), join(repo.gitDir, "index.lock")];
  for (const w of await readdir(join(repo.commonDir, "worktrees")).catch(() => [] as string[]))
    candidates.push(join(repo.commonDir, "worktrees", w, "index.lock"));
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory() && depth < 8) await walk(p, depth + 1);
      else if (e.name.endsWith(".lock")) candidates.push(p);
    }
  };
  for (const d of dirs) await walk(d, 0);
  for (const c of candidates) {
    const st = await stat(c).catch(() => undefined);
    if (st && st.mtimeMs >= since) await rm(c, { recursive: true, force: true });
  }
}
