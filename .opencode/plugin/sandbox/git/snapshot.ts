/**
 * A commit of what the user sees — HEAD plus uncommitted tracked changes plus
 * untracked, not-ignored files — built in a temporary index (GIT_INDEX_FILE), so the
 * user's index, stash, branch and working tree are untouched. The only trace is loose
 * objects in the object store. Ignored files the user opted into (`copyIgnored`, e.g.
 * `.env`) are never in it: they ride on a commit of their own (`withIgnored`) that only
 * the sandbox's working tree receives, so no branch carries them.
 */
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { GitSyncError } from "./errors.js";
import type { HostGit, RepoInfo } from "./host-git.js";

export interface Snapshot {
  /** HEAD itself when nothing is uncommitted, else a child commit of HEAD. */
  commit: string;
  head: string;
  /** True when `commit` is an extra commit carrying uncommitted work. */
  dirty: boolean;
  /** Submodule paths (gitlinks): their content is not in the bundle. */
  submodules: string[];
}

/** Pathspecs for `copyIgnored` globs: a glob without "/" matches at any depth, like .gitignore. */
export function ignoredPathspecs(globs: string[]): string[] {
  const specs: string[] = [];
  for (const raw of globs) {
    const g = raw.replace(/^\/+/, "");
    if (!g) continue;
    specs.push(`:(top,glob)${g}`);
    if (!raw.includes("/")) specs.push(`:(top,glob)**/${g}`);
  }
  return specs;
}

/** A temporary index in the repository's own directory, removed after `fn`. */
async function withTempIndex<T>(repo: RepoInfo, fn: (env: { GIT_INDEX_FILE: string }) => Promise<T>): Promise<T> {
  const dir = join(repo.gitDir, "opencode-sandboxed");
  await mkdir(dir, { recursive: true });
  const index = join(dir, `index-${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    return await fn({ GIT_INDEX_FILE: index });
  } finally {
    await rm(index, { force: true });
    await rm(`${index}.lock`, { force: true });
  }
}

export async function snapshot(git: HostGit, repo: RepoInfo, options: { message: string; identity: Identity }): Promise<Snapshot> {
  const head = await git.resolve("HEAD");
  if (!head) throw new GitSyncError("no_repository", "the repository has no commit yet");
  return withTempIndex(repo, async (env) => {
    // Starting from a copy keeps the stat cache: only changed files are re-hashed.
    await copyFile(join(repo.gitDir, "index"), env.GIT_INDEX_FILE).catch(async () => {
      await git.run(["read-tree", "HEAD"], { env });
    });
    // The user's staged-but-uncommitted state is irrelevant: the worktree is what they see.
    await git.run(["add", "-A", "--", ":/"], { env });
    const staged = await git.run(["ls-files", "-s", "-z"], { env });
    const submodules = staged.stdout
      .split("\0")
      .filter((l) => l.startsWith("160000 "))
      .map((l) => l.slice(l.indexOf("\t") + 1));
    const tree = await git.out(["write-tree"], { env });
    const headTree = await git.out(["rev-parse", `${head}^{tree}`]);
    if (tree === headTree) return { commit: head, head, dirty: false, submodules };
    const commit = await git.out(["commit-tree", tree, "-p", head, "-m", options.message], { env: identityEnv(options.identity) });
    return { commit, head, dirty: true, submodules };
  });
}

/**
 * The ignored files matching `copyIgnored` on top of `base`, as a child commit for the
 * sandbox's working tree only (undefined when none match): the seed checks it out and
 * unstages it, so the files are there, still ignored, and never committed by a sync.
 */
export async function withIgnored(
  git: HostGit,
  repo: RepoInfo,
  base: string,
  options: { copyIgnored: string[]; identity: Identity },
): Promise<{ commit: string; files: string[] } | undefined> {
  const specs = ignoredPathspecs(options.copyIgnored);
  if (!specs.length) return undefined;
  const listed = await git.out(["ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--", ...specs]);
  const files = listed.split("\0").filter(Boolean);
  if (!files.length) return undefined;
  return withTempIndex(repo, async (env) => {
    await git.run(["read-tree", base], { env });
    await git.run(["add", "-f", "--pathspec-from-file=-", "--pathspec-file-nul"], { env, input: files.join("\0") + "\0" });
    const tree = await git.out(["write-tree"], { env });
    const commit = await git.out(["commit-tree", tree, "-p", base, "-m", "opencode-sandboxed: ignored files copied into the sandbox (copyIgnored)"], {
      env: identityEnv(options.identity),
    });
    return { commit, files };
  });
}

export interface Identity {
  name: string;
  email: string;
}

export function identityEnv(id: Identity): Record<string, string> {
  return { GIT_AUTHOR_NAME: id.name, GIT_AUTHOR_EMAIL: id.email, GIT_COMMITTER_NAME: id.name, GIT_COMMITTER_EMAIL: id.email };
}

/** The user's git identity, or a stand-in so commits work where none is configured. */
export async function userIdentity(git: HostGit): Promise<Identity> {
  const name = (await git.run(["config", "user.name"], { allowFail: true })).stdout.trim();
  const email = (await git.run(["config", "user.email"], { allowFail: true })).stdout.trim();
  return { name: name || "opencode-sandboxed", email: email || "opencode-sandboxed@localhost" };
}
