/**
 * Ref names and atomic allocation. Every allocation is an `update-ref` transaction
 * whose `create` fails when the ref exists, so two OpenCode processes never get the
 * same number; a hidden `refs/opencode-sandboxed/numbers/...` ref also keeps a number
 * taken after the user deletes the branch (a later session must not reuse it while
 * the old session may still sync).
 */
import { GitSyncError } from "./errors.js";
import type { HostGit } from "./host-git.js";

export const PRIVATE_NS = "refs/opencode-sandboxed";

/** A ref component from an arbitrary id (session ids are `ses_...`, but be safe). */
export function refSafe(id: string): string {
  const s = id.replace(/[^A-Za-z0-9_-]/g, "_");
  return s || "_";
}

/** Where the host keeps the sandbox's latest synced HEAD for one session. */
export const sessionRef = (sessionID: string) => `${PRIVATE_NS}/sessions/${refSafe(sessionID)}`;
/** The seed's ignored files (copyIgnored), named only while the seed bundle is made. */
export const ignoredRef = (sessionID: string) => `${PRIVATE_NS}/ignored/${refSafe(sessionID)}`;
const numberRef = (prefix: string, n: number) => `${PRIVATE_NS}/numbers/${prefix}/${n}`;
export const branchRef = (branch: string) => `refs/heads/${branch}`;
/**
 * Names the branch a session owns, pointing at the commit it was allocated at (the
 * seed's base): lets a lost state file be rebuilt from the repository alone.
 */
export const ownerPrefix = (sessionID: string) => `${PRIVATE_NS}/owners/${refSafe(sessionID)}/`;
const ownerRef = (sessionID: string, branch: string) => `${ownerPrefix(sessionID)}${branch}`;

/** A local branch that makes `<prefix>/<N>` impossible (`opencode` blocks `opencode/1`). */
export async function blockingBranch(git: HostGit, prefix: string): Promise<string | undefined> {
  const parts = prefix.split("/");
  const candidates = parts.map((_, i) => `refs/heads/${parts.slice(0, i + 1).join("/")}`);
  const r = await git.run(["for-each-ref", "--format=%(refname)", ...candidates], { allowFail: true });
  const existing = new Set(r.stdout.split("\n").filter(Boolean));
  const hit = candidates.find((c) => existing.has(c));
  return hit?.slice("refs/heads/".length);
}

export function blockedMessage(blocker: string, prefix: string): string {
  return (
    `A local branch named "${blocker}" exists, so git cannot create branches "${prefix}/<N>" for the sandbox's work: ` +
    `rename it (git branch -m ${blocker} ${blocker}-old) or set the plugin option sync.branchPrefix (e.g. "opencode-sessions"). ` +
    `The sandbox works meanwhile; its work is synced once this is fixed.`
  );
}

async function tryCreate(git: HostGit, refs: string[], commit: string, message: string): Promise<boolean> {
  const input = ["start", ...refs.map((r) => `create ${r} ${commit}`), "prepare", "commit", ""].join("\n");
  const r = await git.run(["update-ref", "-m", message, "--stdin"], { input, allowFail: true });
  return r.code === 0;
}

async function highestNumber(git: HostGit, prefix: string): Promise<number> {
  const r = await git.run(["for-each-ref", "--format=%(refname)", `refs/heads/${prefix}/`, `${PRIVATE_NS}/numbers/${prefix}/`], {
    allowFail: true,
  });
  let max = 0;
  for (const line of r.stdout.split("\n")) {
    const m = /\/(\d+)$/.exec(line);
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max;
}

/** Creates `refs/heads/<prefix>/<N>` at `commit` for the lowest free N above every used one, owned by `sessionID`. */
export async function allocateBranch(
  git: HostGit,
  prefix: string,
  commit: string,
  message: string,
  sessionID: string,
): Promise<{ branchNumber: number; branch: string }> {
  const blocker = await blockingBranch(git, prefix);
  if (blocker) throw new GitSyncError("branch_blocked", blockedMessage(blocker, prefix));
  let n = (await highestNumber(git, prefix)) + 1;
  for (let tries = 0; tries < 1000; tries++, n++) {
    const branch = `${prefix}/${n}`;
    // One transaction: a number is never taken without its owner being named.
    if (await tryCreate(git, [branchRef(branch), numberRef(prefix, n), ownerRef(sessionID, branch)], commit, message))
      return { branchNumber: n, branch };
    // Lost a race (or a stray ref): re-check the blocker so the message stays precise.
    const late = await blockingBranch(git, prefix);
    if (late) throw new GitSyncError("branch_blocked", blockedMessage(late, prefix));
  }
  throw new GitSyncError("git_failed", `could not allocate a branch ${prefix}/<N> after 1000 attempts`);
}

/** A new `<branch>-sandbox-<k>` at `commit`: where the sandbox's work goes when `<branch>` moved on without it. */
export async function allocateSideBranch(git: HostGit, branch: string, commit: string, message: string): Promise<string> {
  for (let k = 1; k < 10_000; k++) {
    const name = `${branch}-sandbox-${k}`;
    if (await tryCreate(git, [branchRef(name)], commit, message)) return name;
  }
  throw new GitSyncError("git_failed", `could not create a branch ${branch}-sandbox-<k>`);
}
