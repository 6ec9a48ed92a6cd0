export { GitSync, type GitSyncOptions, type SyncReason, type SyncResult, type MergeResult } from "./service.js";
export { GitSyncError, isGitSyncError, type GitSyncErrorKind } from "./errors.js";
export type { ApplyOutcome } from "./apply.js";
