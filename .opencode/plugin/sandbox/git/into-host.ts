/**
 * The host side of a sync, under the repository's lock: the sandbox's bundle fetched
 * into the session's private ref (its header checked first), then the session's branch
 * moved (apply.ts) — or allocated, when a blocking branch prevented it at seed time.
 */
import type { SessionRecord } from "../core/state-store.js";
import type { Notify } from "../service/notices.js";
import { reach, type PhaseHook } from "../util/phases.js";
import { applySync, overBudget, type ApplyOutcome } from "./apply.js";
import { expectSingleRef, readBundleHeader } from "./bundle.js";
import { GitSyncError, isGitSyncError } from "./errors.js";
import type { HostGit, RepoInfo } from "./host-git.js";
import { fetchQuarantined } from "./quarantine.js";
import { allocateBranch, sessionRef } from "./refs.js";
import { SANDBOX_SYNC_REF } from "./sandbox-git.js";

export interface IntoHostInput {
  git: HostGit;
  repo: RepoInfo;
  sessionID: string;
  /** The session's record as read under the lock. */
  record: SessionRecord;
  /** The sandbox's HEAD the bundle carries. */
  head: string;
  /** The downloaded bundle; none when the sandbox had nothing the host lacks. */
  bundle: string | undefined;
  branchPrefix: string;
  /** Bytes one sync may add (`sync.sizeBudgetMb`); default: no bound. */
  budgetBytes?: number;
  notify: Notify;
  phases?: PhaseHook;
}

/** What happened, and the record fields to persist; "need_full": the host lacks the bundle's base. */
export type IntoHost = { outcome: ApplyOutcome; fields: Partial<SessionRecord> } | "need_full";

export async function intoHost(input: IntoHostInput): Promise<IntoHost> {
  const { git, repo, sessionID, record, head, bundle } = input;
  const reflog = `opencode-sandboxed: sync session ${sessionID}`;
  const privateRef = sessionRef(sessionID);
  if (bundle) {
    // The header is checked here (one ref, the expected commit); fetching from a bundle
    // runs git's own bundle verification (prerequisites present and connected) — a
    // separate `git bundle verify` would repeat that.
    const header = await readBundleHeader(bundle);
    expectSingleRef(header, SANDBOX_SYNC_REF, head);
    const budget = input.budgetBytes;
    // Fetched once, into a quarantine: checked and measured there, moved in only when it passes.
    const quarantined = await fetchQuarantined({
      bundle,
      ref: SANDBOX_SYNC_REF,
      objectsDir: await git.out(["rev-parse", "--path-format=absolute", "--git-path", "objects"]),
      scratch: `${bundle}.q`,
      hasPrerequisites: header.prerequisites.length > 0,
      flags: await git.hardening(),
      check:
        budget === undefined
          ? undefined
          : ({ bytes }) => {
              if (bytes > budget) throw overBudget("would add to your repository's objects", bytes, budget);
            },
    });
    if (quarantined === "need_full") return "need_full";
  } else if (!(await git.hasCommit(head))) return "need_full";
  await git.run(["update-ref", "-m", reflog, privateRef, head]);
  await reach(input.phases, "sync:fetched");
  const branch = record.branch;
  if (!branch) {
    // Allocation failed at seed time (a blocking branch): try again now.
    try {
      const a = await allocateBranch(git, input.branchPrefix, head, reflog, sessionID);
      return { outcome: { kind: "advanced", branch: a.branch, to: head }, fields: { branch: a.branch, branchNumber: a.branchNumber, branchTip: head } };
    } catch (error) {
      if (isGitSyncError(error, "branch_blocked")) input.notify({ kind: "branch_blocked", sessionID, message: error.message });
      throw error;
    }
  }
  const outcome = await applySync({
    git, repo, branch, sideBranch: record.sideBranch, branchTip: record.branchTip, commit: head, reflog, budgetBytes: input.budgetBytes, phases: input.phases,
  });
  const fields: Partial<SessionRecord> = {};
  if (outcome.kind === "advanced" && outcome.branch === branch) fields.branchTip = head;
  if (outcome.kind === "diverted") fields.sideBranch = outcome.sideBranch;
  return { outcome, fields };
}
