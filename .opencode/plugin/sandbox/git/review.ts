/**
 * Where work waits for the user's review when it must not enter a checked-out branch
 * by itself: the branch `<branch>-review` (a branch, so `git log`, `git diff` and
 * `git merge --ff-only` take it as they are). Sync moves it forward, or over a tip it
 * set itself (the sandbox rewrote its history); a tip the user committed on is never
 * moved — the work then waits on `<branch>-review-2`, and so on.
 */
import type { HostGit } from "./host-git.js";
import { GitSyncError } from "./errors.js";
import { branchRef } from "./refs.js";

export const REFLOG_PREFIX = "opencode-sandboxed:";

export const reviewBranch = (branch: string, k = 1) => (k === 1 ? `${branch}-review` : `${branch}-review-${k}`);

/** Whether sync set `ref` to `tip` last (its newest reflog entry is ours and names `tip`). */
async function setBySync(git: HostGit, ref: string, tip: string): Promise<boolean> {
  const r = await git.run(["log", "-g", "-n1", "--format=%H %gs", ref, "--"], { allowFail: true });
  const line = r.stdout.trim();
  return r.code === 0 && line.startsWith(`${tip} ${REFLOG_PREFIX}`);
}

/** Puts `commit` on the first review branch it can take without losing anything; returns its name. */
export async function holdForReview(git: HostGit, branch: string, commit: string, reflog: string): Promise<string> {
  for (let k = 1; k < 1000; k++) {
    const name = reviewBranch(branch, k);
    const ref = branchRef(name);
    const tip = await git.resolve(ref);
    if (tip === commit) return name;
    if (!tip || (await git.isAncestor(tip, commit)) || (await setBySync(git, ref, tip))) {
      // Compare-and-swap: another process moving it meanwhile makes this fail, not overwrite.
      const moved = await git.run(["update-ref", "-m", reflog, ref, commit, tip ?? ""], { allowFail: true });
      if (moved.code === 0) return name;
    }
  }
  throw new GitSyncError("git_failed", `could not create a branch ${reviewBranch(branch)} for the work to review`);
}
