/**
 * Host → sandbox: a ref of the user's repository merged into the sandbox's HEAD, by
 * one bundle of what the sandbox lacks (everything, when its bases are gone). Conflicts
 * are never resolved: the merge is aborted and the files are returned.
 */
import { readFile, rm } from "node:fs/promises";
import type { SessionRecord } from "../core/state-store.js";
import type { Sandbox } from "../providers/provider.js";
import { mergeConflictText } from "../service/notices.js";
import { GitSyncError } from "./errors.js";
import type { HostGit, RepoInfo } from "./host-git.js";
import { MERGE_SCRIPT, runScript, sandboxPath } from "./sandbox-git.js";
import type { Identity } from "./snapshot.js";

export interface MergeResult {
  kind: "merged" | "conflict" | "up_to_date";
  /** The sandbox's HEAD after the merge. */
  head?: string;
  conflicts: string[];
  message: string;
}

export interface MergeInput {
  git: HostGit;
  repo: RepoInfo;
  ref: string;
  record: SessionRecord | undefined;
  sandbox: Sandbox;
  identity: Identity;
  /** The host ref the bundle carries. */
  incoming: string;
  /** A fresh temporary bundle path on the host. */
  tmp: () => Promise<string>;
  /** Runs under the repository's sync lock. */
  locked: (fn: () => Promise<void>) => Promise<void>;
}

/** Longer than any ref name or revision a user types (git's own limit is the file system's). */
const MAX_REF_CHARS = 4096;

export async function mergeIntoSandbox(input: MergeInput): Promise<MergeResult> {
  const { git, ref, record, sandbox, identity, incoming } = input;
  // Checked before git sees it: an option, a NUL (no argument can hold one) or a
  // megabyte (no argument list holds it) would fail as a spawn error, not as a ref.
  if (!ref || ref.startsWith("-") || ref.length > MAX_REF_CHARS || /[\0-\x1f\x7f]/.test(ref))
    throw new GitSyncError("git_failed", `not a ref: ${JSON.stringify(ref.length > 80 ? `${ref.slice(0, 77)}...` : ref)}`);
  const commit = await git.resolve(ref);
  if (!commit) throw new GitSyncError("git_failed", `no commit named ${JSON.stringify(ref)} in your repository`);
  const run = async (full: boolean) => {
    const tmp = await input.tmp();
    try {
      const bases = full ? [] : [record?.lastSyncedCommit, record?.baseCommit].filter((c): c is string => !!c);
      const excl: string[] = [];
      for (const b of bases) if (await git.hasCommit(b)) excl.push(`^${b}`);
      let contained = false;
      for (const b of excl) if (await git.isAncestor(commit, b.slice(1))) contained = true;
      const env: Record<string, string> = {
        OC_COMMIT: commit,
        OC_MSG: `Merge ${ref} from the user's repository into the session`,
        OC_NAME: identity.name,
        OC_EMAIL: identity.email,
        OC_BASE: "",
      };
      if (!contained) {
        await input.locked(async () => {
          await git.run(["update-ref", incoming, commit]);
          await git.run(["bundle", "create", "-q", tmp, incoming, ...excl]);
        });
        const remote = sandboxPath(sandbox, "merge.bundle");
        await sandbox.writeFile(remote, await readFile(tmp));
        Object.assign(env, { OC_BUNDLE: remote, OC_REF: incoming });
      }
      return (await runScript(sandbox, MERGE_SCRIPT, env)).marks;
    } finally {
      await rm(tmp, { force: true });
    }
  };
  let marks = await run(false);
  if (marks.has("FETCHFAIL")) marks = await run(true);
  if (marks.has("FETCHFAIL")) throw new GitSyncError("sandbox_failed", `could not bring ${ref} into the sandbox`);
  const conflicts = marks.get("CONFLICT") ?? [];
  if (marks.has("ABORTED")) return { kind: "conflict", conflicts, message: mergeConflictText(ref, conflicts) };
  const head = marks.get("MERGED")?.[0];
  const before = marks.get("HEAD")?.[0];
  const kind = head && before === head ? "up_to_date" : "merged";
  const message =
    kind === "up_to_date" ? `${ref} is already part of the sandbox's branch.` : `Merged ${ref} (${commit.slice(0, 12)}) into the sandbox's branch.`;
  return { kind, head, conflicts: [], message };
}
