/**
 * What a sandbox is seeded from, decided under the repository's lock: the session's
 * synced work when it has a branch already (its sandbox vanished, or an earlier seed
 * was killed after allocating one), else a commit of what the user sees now — and then
 * a branch `<prefix>/<N>` of its own, recorded at once.
 */
import type { Config } from "../config.js";
import type { Logger } from "../core/logger.js";
import type { SessionRecord } from "../core/state-store.js";
import type { Notify } from "../service/notices.js";
import { isGitSyncError } from "./errors.js";
import { filesSnapshot } from "./files-snapshot.js";
import type { HostGit, RepoInfo } from "./host-git.js";
import type { PrivateRepo } from "./private-repo.js";
import { allocateBranch, branchRef, sessionRef } from "./refs.js";
import { snapshot, type Identity } from "./snapshot.js";

export interface SeedCommitInput {
  git: HostGit;
  repo: RepoInfo;
  sessionID: string;
  record: SessionRecord;
  /** The session's previous sandbox vanished. */
  recreated: boolean;
  sync: Config["sync"];
  identity: Identity;
  reflog: string;
  log: Logger;
  notify: Notify;
  /** Persists fields of the session's record now. */
  persist: (fields: Partial<SessionRecord>) => Promise<unknown>;
  /** A project without git: the seed is a snapshot of its folder's files, made in this private repository. */
  files?: PrivateRepo;
}

export async function seedCommit(input: SeedCommitInput): Promise<{ commit: string; fields: Partial<SessionRecord> }> {
  const { git, record, sessionID } = input;
  if (input.recreated || record.branch) {
    const commit =
      (record.branch && (await git.resolve(branchRef(record.branch)))) ||
      (await git.resolve(sessionRef(sessionID))) ||
      (record.lastSyncedCommit && (await git.hasCommit(record.lastSyncedCommit)) ? record.lastSyncedCommit : undefined);
    if (commit) return { commit, fields: { lastSyncedCommit: commit, baseCommit: record.baseCommit ?? commit } };
  }
  const snap = input.files ? await snapshotFiles(input, input.files) : await snapshot(git, input.repo, {
    message: `opencode-sandboxed: uncommitted changes at the start of session ${sessionID}`,
    identity: input.identity,
  });
  const commit = snap.commit;
  if (snap.submodules.length) input.notify({ kind: "submodules_skipped", sessionID, paths: snap.submodules });
  let fields: Partial<SessionRecord> = { baseCommit: commit, lastSyncedCommit: commit };
  if (input.sync.enabled && !record.branch) {
    try {
      const { branch, branchNumber } = await allocateBranch(git, input.sync.branchPrefix, commit, input.reflog, sessionID);
      fields = { ...fields, branch, branchNumber, branchTip: commit };
      // Recorded at once: a seed killed from here on resumes this branch instead of taking another number.
      await input.persist(fields);
      input.log.info(`session syncs to branch ${branch} (base ${commit.slice(0, 12)})`, sessionID);
    } catch (error) {
      if (!isGitSyncError(error, "branch_blocked")) throw error;
      input.notify({ kind: "branch_blocked", sessionID, message: error.message });
    }
  }
  return { commit, fields };
}

/** The folder's files as the session's base; beyond the size limit the user is told why nothing was copied. */
async function snapshotFiles(input: SeedCommitInput, files: PrivateRepo) {
  try {
    return await filesSnapshot(files, {
      copyIgnored: input.sync.copyIgnored,
      limitBytes: input.sync.filesLimitMb * 1024 * 1024,
      message: `opencode-sandboxed: the files of ${files.directory} at the start of session ${input.sessionID}`,
      identity: input.identity,
    });
  } catch (error) {
    if (isGitSyncError(error, "too_large")) input.notify({ kind: "files_too_large", sessionID: input.sessionID, message: error.message });
    throw error;
  }
}
