/**
 * A commit of a folder without git, made in its private repository (private-repo.ts):
 * every file `git add` would take (`.gitignore` files honoured, ignored files the user
 * opted into with `copyIgnored` added), through a temporary index and GIT_WORK_TREE —
 * nothing is written into the folder. Bounded: beyond `limitBytes` nothing is copied
 * and the error names the biggest parts and the fix.
 */
import { randomBytes } from "node:crypto";
import { copyFile, lstat, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { GitSyncError } from "./errors.js";
import type { PrivateRepo } from "./private-repo.js";
import { identityEnv, ignoredPathspecs, type Identity } from "./snapshot.js";

export interface FilesSnapshotOptions {
  copyIgnored: string[];
  /** Sum of the files' sizes beyond which nothing is copied. */
  limitBytes: number;
  message: string;
  identity: Identity;
  /** The commit this one follows (an apply's "ours" follows the session's base). */
  parent?: string;
}

export interface FilesSnapshot {
  commit: string;
  tree: string;
  /** Nested git repositories: recorded as gitlinks, their content is not copied. */
  submodules: string[];
  copiedIgnored: string[];
  bytes: number;
}

const STAT_BATCH = 64;

export async function filesSnapshot(p: PrivateRepo, o: FilesSnapshotOptions): Promise<FilesSnapshot> {
  const { git, directory } = p;
  const tmp = join(p.repo.gitDir, `index-${process.pid}-${randomBytes(4).toString("hex")}`);
  // The stat cache of the last snapshot: only changed files are hashed again.
  const cache = join(p.repo.gitDir, "files-index");
  const base = { GIT_WORK_TREE: directory };
  const run = (args: string[], index: string, input?: string) => git.run(args, { cwd: directory, env: { ...base, GIT_INDEX_FILE: index }, input });
  try {
    // Listed against an empty index: every file the snapshot would hold.
    const none = `${tmp}.none`;
    const listed = split((await run(["ls-files", "-z", "--others", "--exclude-standard"], none)).stdout);
    const specs = ignoredPathspecs(o.copyIgnored);
    const ignored = specs.length ? split((await run(["ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--", ...specs], none)).stdout) : [];
    const bytes = await sizeOf(directory, [...listed, ...ignored], o.limitBytes);
    await copyFile(cache, tmp).catch(() => {});
    // A file that vanishes while git walks the folder (a log rotated, a lock file)
    // makes `git add` die; the next walk no longer sees it.
    for (let attempt = 1; ; attempt++) {
      try {
        await run(["add", "-A", "--", "."], tmp);
        break;
      } catch (error) {
        if (attempt === 3) throw error;
      }
    }
    // The cache still holds files ignored since (or no longer opted into): they go.
    const opted = new Set(ignored);
    const stale = split((await run(["ls-files", "-z", "--cached", "--ignored", "--exclude-standard"], tmp)).stdout).filter((f) => !opted.has(f));
    if (stale.length) await run(["rm", "-q", "--cached", "--pathspec-from-file=-", "--pathspec-file-nul"], tmp, stale.join("\0") + "\0");
    if (ignored.length) await run(["add", "-f", "--pathspec-from-file=-", "--pathspec-file-nul"], tmp, ignored.join("\0") + "\0");
    const submodules = split((await run(["ls-files", "-s", "-z"], tmp)).stdout)
      .filter((l) => l.startsWith("160000 "))
      .map((l) => l.slice(l.indexOf("\t") + 1));
    const tree = (await run(["write-tree"], tmp)).stdout.trim();
    const parent = o.parent ? ["-p", o.parent] : [];
    const commit = await git.out(["commit-tree", tree, ...parent, "-m", o.message], { env: identityEnv(o.identity) });
    await rename(tmp, cache).catch(() => {});
    return { commit, tree, submodules, copiedIgnored: ignored, bytes };
  } finally {
    await rm(tmp, { force: true });
    await rm(`${tmp}.lock`, { force: true });
  }
}

const split = (out: string) => out.split("\0").filter(Boolean);

/** The files' total size; beyond `limit`, a `too_large` error naming the biggest top-level entries. */
async function sizeOf(directory: string, files: string[], limit: number): Promise<number> {
  const perTop = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < files.length; i += STAT_BATCH) {
    const batch = files.slice(i, i + STAT_BATCH);
    const sizes = await Promise.all(batch.map((f) => lstat(join(directory, f)).then((s) => (s.isFile() ? s.size : 0), () => 0)));
    batch.forEach((f, k) => {
      const slash = f.indexOf("/");
      const top = slash < 0 ? f : f.slice(0, slash + 1);
      perTop.set(top, (perTop.get(top) ?? 0) + sizes[k]);
      total += sizes[k];
    });
  }
  if (total <= limit) return total;
  const biggest = [...perTop.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3);
  throw new GitSyncError(
    "too_large",
    `${directory} is not a git repository, and its files (not counting ignored ones) total ${mb(total)} in ${files.length} file(s) — ` +
      `more than the ${mb(limit)} copied into a sandbox. Biggest: ${biggest.map(([name, size]) => `${name} (${mb(size)})`).join(", ")}. ` +
      `List what the sandbox does not need in a .gitignore file there, or raise the plugin option sync.filesLimitMb.`,
  );
}

const mb = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
