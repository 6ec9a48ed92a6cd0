/** Typed failures of git sync; `message` is written for the user (it names the fix). */
export type GitSyncErrorKind =
  /** The project is not a git repository, or it has no commit yet: sync is off. */
  | "no_repository"
  /** A local branch named like the prefix (e.g. `opencode`) blocks `opencode/<N>`. */
  | "branch_blocked"
  /** A host git command failed. */
  | "git_failed"
  /** A command inside the sandbox failed (its output is in the message). */
  | "sandbox_failed"
  /** The bundle from the sandbox is malformed or does not carry what it should. */
  | "bad_bundle"
  /** A merge into the sandbox's branch stopped on conflicts (aborted; files listed). */
  | "merge_conflict"
  /** A project without git holds more than the snapshot limit (the message names the biggest parts and the fix). */
  | "too_large"
  /** One sync would bring more than `sync.sizeBudgetMb`: refused before anything is written; the work stays in the sandbox. */
  | "over_budget";

export class GitSyncError extends Error {
  override readonly name = "GitSyncError";
  constructor(
    readonly kind: GitSyncErrorKind,
    message: string,
    options?: { cause?: unknown; files?: string[] },
  ) {
    super(message, options);
    this.files = options?.files ?? [];
  }
  /** Conflicting files of a `merge_conflict`. */
  readonly files: string[];
}

export function isGitSyncError(error: unknown, ...kinds: GitSyncErrorKind[]): error is GitSyncError {
  return error instanceof GitSyncError && (kinds.length === 0 || kinds.includes(error.kind));
}
