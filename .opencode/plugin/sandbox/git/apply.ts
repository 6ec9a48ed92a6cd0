/**
 * Host side of a sync, run under the repository's sync lock, after the sandbox's
 * commit is in the host's object store: move `<prefix>/<N>` forward — never
 * backwards, never over the user's commits, never over their uncommitted changes.
 */
import { createHash } from "node:crypto";
import { lstat, mkdir, readFile, readlink, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { reach, type PhaseHook } from "../util/phases.js";
import type { HostGit, RepoInfo } from "./host-git.js";
import { GitSyncError } from "./errors.js";
import { allocateSideBranch, branchRef, refSafe } from "./refs.js";
import { holdForReview } from "./review.js";
import { inspectUpdate, type FlaggedPath } from "./worktree-guard.js";

export type ApplyOutcome =
  /** `branch` moved from `from` (undefined: created) to `to`; `worktree` set when a checkout followed. */
  | { kind: "advanced"; branch: string; from?: string; to: string; worktree?: string }
  /** Nothing to do: the branch has the commit already. */
  | { kind: "up_to_date"; branch: string }
  /** Checked out with local changes: left alone; the next sync tries again. */
  | { kind: "waiting"; branch: string; worktree: string; detail: string }
  /** The branch went elsewhere; the sandbox's work is on `sideBranch`. `created`: a new side branch. */
  | { kind: "diverted"; branch: string; sideBranch: string; created: boolean; reason: "user_commits" | "rewritten" }
  /**
   * Checked out, and the update touches paths that run or configure something on the
   * host by themselves: neither the branch nor the work tree moved; the work waits on
   * the branch `review` for the user to look at and take.
   */
  | { kind: "held"; branch: string; worktree: string; review: string; to: string; paths: FlaggedPath[] };

export interface ApplyInput {
  git: HostGit;
  repo: RepoInfo;
  branch: string;
  /** Where earlier diverted work went (kept moving forward while it can). */
  sideBranch?: string;
  /** What sync last set `branch` to: tells "the user committed" from "the sandbox rewrote history". */
  branchTip?: string;
  commit: string;
  reflog: string;
  /** Bytes a fast-forward may write into a checked-out work tree (`sync.sizeBudgetMb`); default: no bound. */
  budgetBytes?: number;
  /** Tests: stop at named points (see util/phases.ts). */
  phases?: PhaseHook;
}

interface Worktree {
  path: string;
  branch?: string;
}

export async function worktrees(git: HostGit): Promise<Worktree[]> {
  const out = await git.out(["worktree", "list", "--porcelain"]);
  const list: Worktree[] = [];
  for (const block of out.split("\n\n")) {
    const lines = block.split("\n");
    const path = lines.find((l) => l.startsWith("worktree "))?.slice("worktree ".length);
    if (!path || lines.includes("bare")) continue;
    list.push({ path, branch: lines.find((l) => l.startsWith("branch "))?.slice("branch ".length) });
  }
  return list;
}

export async function applySync(input: ApplyInput): Promise<ApplyOutcome> {
  const { git, branch, commit } = input;
  const tip = await git.resolve(branchRef(branch));
  if (tip === commit) return { kind: "up_to_date", branch };
  if (!tip || (await git.isAncestor(tip, commit))) return advance(input, branch, tip);
  // The branch already contains it (the agent reset back, or the user merged it).
  if (await git.isAncestor(commit, tip)) return { kind: "up_to_date", branch };
  const reason = tip === input.branchTip ? "rewritten" : "user_commits";
  if (input.sideBranch) {
    const side = await git.resolve(branchRef(input.sideBranch));
    if (side === commit) return { kind: "diverted", branch, sideBranch: input.sideBranch, created: false, reason };
    if (side && (await git.isAncestor(side, commit))) {
      const moved = await advance(input, input.sideBranch, side);
      if (moved.kind !== "advanced") return moved;
      return { kind: "diverted", branch, sideBranch: input.sideBranch, created: false, reason };
    }
  }
  const sideBranch = await allocateSideBranch(git, branch, commit, input.reflog);
  return { kind: "diverted", branch, sideBranch, created: true, reason };
}

interface Marker {
  branch: string;
  worktree: string;
  from: string;
  to: string;
  at: number;
}

const markerPath = (repo: RepoInfo, branch: string) => join(repo.commonDir, "opencode-sandboxed", `ff-${refSafe(branch)}.json`);

/** Fast-forward `branch` from `from` to the commit; a checked-out branch's work tree follows only when clean. */
async function advance(input: ApplyInput, branch: string, from: string | undefined): Promise<ApplyOutcome> {
  const { git, repo, commit, reflog } = input;
  const ref = branchRef(branch);
  const wt = (await worktrees(git)).find((w) => w.branch === ref);
  if (!wt || !from) {
    await git.run(["update-ref", "-m", reflog, ref, commit, from ?? ""]);
    return { kind: "advanced", branch, from, to: commit };
  }
  const cwd = wt.path;
  const marker = markerPath(repo, branch);
  // An interrupted earlier update was completed: decide again from the new tip.
  if (await recoverInterrupted(input, branch, marker, wt, from)) return applySync(input);

  // Decided from git's objects before any file is touched: moving HEAD without the
  // files would show the work reversed in `git status` (and `commit -a` would revert it).
  const update = await inspectUpdate(git, from, commit);
  if (input.budgetBytes !== undefined && update.writeBytes > input.budgetBytes) throw overBudget(`would write into your checkout of ${branch}`, update.writeBytes, input.budgetBytes);
  if (update.flagged.length) {
    const review = await holdForReview(git, branch, commit, reflog);
    return { kind: "held", branch, worktree: cwd, review, to: commit, paths: update.flagged };
  }

  // No optional index refresh: a kill here must not leave an index.lock behind.
  const status = await git.run(["status", "--porcelain=v1", "-z", "--untracked-files=no", "--ignore-submodules=none"], {
    cwd,
    env: { GIT_OPTIONAL_LOCKS: "0" },
  });
  if (status.stdout.length) {
    const files = status.stdout.split("\0").filter(Boolean).length;
    return { kind: "waiting", branch, worktree: cwd, detail: `${files} file(s) with uncommitted changes` };
  }
  const m: Marker = { branch, worktree: cwd, from, to: commit, at: Date.now() };
  await mkdir(join(repo.commonDir, "opencode-sandboxed"), { recursive: true });
  await writeFile(marker, JSON.stringify(m));
  await reach(input.phases, "sync:worktree-marked");
  // Two-tree merge: updates index and files from `from` to the commit; refuses to
  // overwrite untracked files in the way (then: wait, like local changes).
  const moved = await git.run(["read-tree", "-m", "-u", from, commit], { cwd, allowFail: true });
  if (moved.code !== 0) {
    await rm(marker, { force: true });
    return { kind: "waiting", branch, worktree: cwd, detail: moved.stderr.trim().split("\n")[0] ?? "read-tree failed" };
  }
  await reach(input.phases, "sync:worktree-updated");
  await git.run(["update-ref", "-m", reflog, ref, commit, from]);
  await rm(marker, { force: true });
  return { kind: "advanced", branch, from, to: commit, worktree: cwd };
}

/**
 * A sync killed during the work-tree update leaves the index/work tree ahead of the
 * branch (and perhaps its index.lock). We hold the repository's sync lock, so a
 * marker means its writer is gone: drop the lock it left, and finish the update when
 * the index and files already match the new commit.
 */
async function recoverInterrupted(input: ApplyInput, branch: string, marker: string, wt: Worktree, from: string): Promise<boolean> {
  const { git } = input;
  let m: Marker;
  try {
    m = JSON.parse(await readFile(marker, "utf8")) as Marker;
  } catch {
    return false;
  }
  const cwd = wt.path;
  const gitDir = await git.out(["rev-parse", "--absolute-git-dir"], { cwd });
  const lock = join(gitDir, "index.lock");
  const lockStat = await stat(lock).catch(() => undefined);
  // Only a lock born within the interrupted update is ours to remove.
  if (lockStat && lockStat.mtimeMs >= m.at - 2000 && lockStat.mtimeMs <= m.at + 10 * 60_000) await rm(lock, { force: true });
  // The marker stays until the update is finished or given up: a sync killed while
  // recovering leaves it for the next one.
  if (m.from !== from || m.worktree !== cwd || !(await onlyHalfUpdated(git, cwd, m.from, m.to))) {
    await rm(marker, { force: true });
    return false;
  }
  // Every changed path holds the old or the new version and nothing else is dirty:
  // finishing the update loses nothing.
  await git.run(["read-tree", "--reset", "-u", m.to], { cwd });
  await git.run(["update-ref", "-m", input.reflog, branchRef(branch), m.to, from]);
  await rm(marker, { force: true });
  return true;
}

/** Paths `from`→`to` changes are each at one of the two versions; no other change anywhere. */
async function onlyHalfUpdated(git: HostGit, cwd: string, from: string, to: string): Promise<boolean> {
  const changed = (await git.out(["diff", "--name-only", "-z", "--no-renames", from, to])).split("\0").filter(Boolean);
  if (!changed.length || changed.length > 5000) return false;
  const set = new Set(changed);
  await git.run(["update-index", "-q", "--refresh"], { cwd, allowFail: true });
  const dirty = [
    ...(await git.out(["diff-files", "--name-only", "-z"], { cwd })).split("\0"),
    ...(await git.out(["diff-index", "--cached", "--name-only", "-z", from, "--"], { cwd })).split("\0"),
  ].filter(Boolean);
  if (dirty.some((p) => !set.has(p))) return false;
  const blobs = async (commit: string) => {
    const map = new Map<string, string>();
    const out = await git.out(["ls-tree", "-r", "-z", "--full-tree", commit, "--", ...changed], { env: { GIT_LITERAL_PATHSPECS: "1" } });
    for (const entry of out.split("\0").filter(Boolean)) {
      const [meta, path] = [entry.slice(0, entry.indexOf("\t")), entry.slice(entry.indexOf("\t") + 1)];
      map.set(path, meta.split(" ")[2]);
    }
    return map;
  };
  const [before, after] = [await blobs(from), await blobs(to)];
  for (const path of changed) {
    const current = await worktreeBlob(join(cwd, path));
    if (current === before.get(path) || current === after.get(path)) continue;
    // A file the killed update had created but not finished writing: a prefix of the new version.
    const want = after.get(path);
    if (!current || !want || current === "not-a-file") return false;
    const data = await readFile(join(cwd, path));
    const full = Buffer.from((await git.run(["cat-file", "blob", want], { encoding: "buffer" })).stdoutBytes ?? []);
    if (data.length >= full.length || !full.subarray(0, data.length).equals(data)) return false;
  }
  return true;
}

/** The blob id a work-tree file would have (SHA-1 repositories), undefined when absent. */
async function worktreeBlob(path: string): Promise<string | undefined> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return undefined;
  let data: Buffer;
  if (st.isSymbolicLink()) data = Buffer.from(await readlink(path));
  else if (st.isFile()) data = await readFile(path);
  else return "not-a-file";
  return createHash("sha1").update(`blob ${data.length}\0`).update(data).digest("hex");
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/** The refusal of a sync beyond `sync.sizeBudgetMb`: what, how much, and the ways out. */
export function overBudget(what: string, bytes: number, budget: number): GitSyncError {
  return new GitSyncError(
    "over_budget",
    `the session's work ${what} ${mib(bytes)}, more than one sync may bring (${mib(budget)}, option sync.sizeBudgetMb). ` +
      `Nothing was brought over; the work stays in the sandbox. Remove the large files there (or add them to .gitignore), or raise sync.sizeBudgetMb.`,
  );
}
