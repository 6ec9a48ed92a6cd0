/**
 * Host side of a sync, run under the repository's sync lock, after the sandbox's
 * commit is in the host's object store: move `<prefix>/<N>` forward — never
 * backwards, never over the user's commits, never over their uncommitted changes.
 */
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { HostGit, RepoInfo } from "./host-git.js";
import { allocateSideBranch, branchRef, refSafe } from "./refs.js";

export type ApplyOutcome =
  /** `branch` moved from `from` (undefined: created) to `to`; `worktree` set when a checkout followed. */
  | { kind: "advanced"; branch: string; from?: string; to: string; worktree?: string }
  /** Nothing to do: the branch has the commit already. */
  | { kind: "up_to_date"; branch: string }
  /** Checked out with local changes: left alone; the next sync tries again. */
  | { kind: "waiting"; branch: string; worktree: string; detail: string }
  /** The branch went elsewhere; the sandbox's work is on `sideBranch`. `created`: a new side branch. */
  | { kind: "diverted"; branch: string; sideBranch: string; created: boolean; reason: "user_commits" | "rewritten" };

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

  const status = await git.run(["status", "--porcelain=v1", "-z", "--untracked-files=no", "--ignore-submodules=none"], { cwd });
  if (status.stdout.length) {
    const files = status.stdout.split("\0").filter(Boolean).length;
    return { kind: "waiting", branch, worktree: cwd, detail: `${files} file(s) with uncommitted changes` };
  }
  const m: Marker = { branch, worktree: cwd, from, to: commit, at: Date.now() };
  await mkdir(join(repo.commonDir, "opencode-sandboxed"), { recursive: true });
  await writeFile(marker, JSON.stringify(m));
  // Two-tree merge: updates index and files from `from` to the commit; refuses to
  // overwrite untracked files in the way (then: wait, like local changes).
  const moved = await git.run(["read-tree", "-m", "-u", from, commit], { cwd, allowFail: true });
  if (moved.code !== 0) {
    await rm(marker, { force: true });
    return { kind: "waiting", branch, worktree: cwd, detail: moved.stderr.trim().split("\n")[0] ?? "read-tree failed" };
  }
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
  await rm(marker, { force: true });
  if (m.from !== from || m.worktree !== cwd) return false;
  const indexMatches = (await git.run(["diff-index", "--cached", "--quiet", m.to, "--"], { cwd, allowFail: true })).code === 0;
  if (!indexMatches) return false;
  await git.run(["update-index", "-q", "--refresh"], { cwd, allowFail: true });
  const filesMatch = (await git.run(["diff-files", "--quiet"], { cwd, allowFail: true })).code === 0;
  if (!filesMatch) return false;
  await git.run(["update-ref", "-m", input.reflog, branchRef(branch), m.to, from]);
  return true;
}
