/**
 * A session's synced work applied to its folder without git (apply-files.ts), with
 * what the session's record says: the base is the tip applied last (else the seed),
 * and a successful apply records its tip. Under the private repository's sync lock.
 */
import type { Config } from "../config.js";
import type { SessionRecord } from "../core/state-store.js";
import { applyFiles, type ApplyFilesInput, type FilesApplyOutcome } from "./apply-files.js";
import { GitSyncError } from "./errors.js";
import type { PrivateRepo } from "./private-repo.js";
import { RepoLock } from "./repo-lock.js";
import { userIdentity } from "./snapshot.js";

export interface ApplySessionInput {
  files: PrivateRepo;
  sessionID: string;
  store: {
    get(sessionID: string): Promise<SessionRecord | undefined>;
    patch(sessionID: string, patch: Partial<SessionRecord>): Promise<SessionRecord | undefined>;
  };
  config: Pick<Config, "sync">;
  allow?: ApplyFilesInput["allow"];
  dryRun?: boolean;
  phases?: ApplyFilesInput["phases"];
}

export async function applySession(input: ApplySessionInput): Promise<{ branch: string; outcome: FilesApplyOutcome }> {
  const { files, sessionID, config } = input;
  const lock = new RepoLock(files.repo, config.sync.branchPrefix, 10 * 60_000);
  return lock.run(async () => {
    // Read under the lock: a sync or another apply may have moved things meanwhile.
    const record = await input.store.get(sessionID);
    const branch = record?.sideBranch ?? record?.branch;
    const base = record?.appliedCommit ?? record?.baseCommit;
    const tip = branch && (await files.git.resolve(`refs/heads/${branch}`));
    if (!branch || !base || !tip) throw new GitSyncError("no_repository", `session ${sessionID} has no synced work yet`);
    const outcome = await applyFiles({
      files,
      base,
      theirs: tip,
      identity: await userIdentity(files.git),
      copyIgnored: config.sync.copyIgnored,
      limitBytes: config.sync.filesLimitMb * 1024 * 1024,
      allow: input.allow,
      dryRun: input.dryRun,
      phases: input.phases,
    });
    if (outcome.kind === "applied" && !input.dryRun) await input.store.patch(sessionID, { appliedCommit: outcome.commit });
    return { branch, outcome };
  });
}
