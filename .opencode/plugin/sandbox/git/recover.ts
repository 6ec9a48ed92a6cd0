/**
 * A session's git fields read back from the repository alone, for a state file that
 * was lost or damaged: the owner ref names its branch and base (refs.ts), the session
 * ref holds the last synced HEAD. Repositories from before owner refs: the branch whose
 * reflog says it was created for the session.
 */
import type { SessionRecord } from "../core/state-store.js";
import type { HostGit } from "./host-git.js";
import { branchRef, ownerPrefix, PRIVATE_NS, sessionRef } from "./refs.js";

export type RecoveredFields = Pick<SessionRecord, "branch" | "branchNumber" | "baseCommit" | "lastSyncedCommit" | "branchTip" | "sideBranch">;

export async function recoverSession(git: HostGit, sessionID: string, prefix: string): Promise<RecoveredFields> {
  const lastSynced = await git.resolve(sessionRef(sessionID));
  const owned = (await ownedBranch(git, sessionID)) ?? (await branchByReflog(git, sessionID, prefix));
  const fields: RecoveredFields = {};
  if (owned) {
    fields.branch = owned.branch;
    fields.branchNumber = owned.number;
    const tip = await git.resolve(branchRef(owned.branch));
    // Only a tip this session's own commits explain counts as what sync set (else: the user's commits).
    if (tip && (tip === lastSynced || tip === owned.base)) fields.branchTip = tip;
    // Work diverted beside the branch keeps moving there (not onto a new `-sandbox-<k+1>`).
    if (lastSynced && tip !== lastSynced) {
      const side = await sideBranchAt(git, owned.branch, lastSynced);
      if (side) fields.sideBranch = side;
    }
  }
  const base = owned?.base ?? lastSynced;
  if (base) fields.baseCommit = base;
  if (lastSynced ?? base) fields.lastSyncedCommit = lastSynced ?? base;
  return fields;
}

interface Owned {
  branch: string;
  number: number;
  base?: string;
}

/** The branch named by the session's owner ref (the highest number if it ever took two). */
async function ownedBranch(git: HostGit, sessionID: string): Promise<Owned | undefined> {
  const prefix = ownerPrefix(sessionID);
  const out = await git.out(["for-each-ref", "--format=%(refname) %(objectname)", prefix]);
  let best: Owned | undefined;
  for (const line of out.split("\n").filter(Boolean)) {
    const [ref, base] = line.split(" ");
    const branch = ref.slice(prefix.length);
    const m = /\/(\d+)$/.exec(branch);
    if (m && (!best || Number(m[1]) > best.number)) best = { branch, number: Number(m[1]), base };
  }
  return best;
}

/** Older repositories: the `<prefix>/<N>` whose oldest reflog entry is this session's seed or first sync. */
async function branchByReflog(git: HostGit, sessionID: string, prefix: string): Promise<Owned | undefined> {
  const numbers = await git.out(["for-each-ref", "--format=%(refname)", `${PRIVATE_NS}/numbers/${prefix}/`]);
  const wanted = [`opencode-sandboxed: seed session ${sessionID}`, `opencode-sandboxed: sync session ${sessionID}`];
  for (const ref of numbers.split("\n").filter(Boolean)) {
    const number = Number(/\/(\d+)$/.exec(ref)?.[1]);
    const branch = `${prefix}/${number}`;
    const log = await git.run(["reflog", "show", "--format=%gs", branchRef(branch), "--"], { allowFail: true });
    const first = log.stdout.trim().split("\n").pop();
    if (log.code === 0 && first && wanted.includes(first)) return { branch, number, base: await git.resolve(ref) };
  }
  return undefined;
}

/** The `<branch>-sandbox-<k>` (highest k) a sync last set to `commit`. */
async function sideBranchAt(git: HostGit, branch: string, commit: string): Promise<string | undefined> {
  const out = await git.out(["for-each-ref", "--format=%(objectname) %(refname:lstrip=2)", `${branchRef(branch)}-sandbox-*`]);
  let best: { name: string; k: number } | undefined;
  for (const line of out.split("\n").filter(Boolean)) {
    const [sha, name] = line.split(" ");
    const k = Number(/-sandbox-(\d+)$/.exec(name)?.[1]);
    if (sha === commit && Number.isInteger(k) && (!best || k > best.k)) best = { name, k };
  }
  return best?.name;
}
