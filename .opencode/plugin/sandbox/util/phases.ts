/**
 * Named points in work that must survive a `kill -9` at any moment. Production
 * passes no hook (the plugin face takes one only from a test's environment: test-pause.ts). Tests pass one that stops there and tells them, so a kill lands
 * exactly at that point however fast or slow the machine is.
 */
export type Phase =
  /** The provider made a sandbox; the session's record does not name it yet. */
  | "create:made"
  /** The seed bundle is on the host; the sandbox has not received it. */
  | "seed:bundled"
  /** The sandbox's repository is seeded; the record does not say so yet. */
  | "seed:done"
  /** The sandbox committed and bundled its work; nothing is on the host yet. */
  | "sync:bundled"
  /** The bundle is on the host; the repository's lock is not taken. */
  | "sync:downloaded"
  /** The commits are in the host's object store under a private ref; the branch has not moved. */
  | "sync:fetched"
  /** The fast-forward marker is written; the checked-out work tree is not updated yet. */
  | "sync:worktree-marked"
  /** The checked-out work tree and index hold the new commit; the branch has not moved. */
  | "sync:worktree-updated"
  /** The branch moved; the session's record does not know it yet. */
  | "sync:applied"
  /** A state file's new content is written and flushed under a temporary name; not renamed yet. */
  | "state:written"
  /** An apply into a folder without git staged every new file; the folder is not checked again nor touched yet. */
  | "apply:staged"
  /** A tool call has its session's sandbox and is about to run in it (OpenCode shows it running). */
  | "tool:running";

export type PhaseHook = (phase: Phase) => void | Promise<void>;

/** Calls the hook when there is one. */
export async function reach(hook: PhaseHook | undefined, phase: Phase): Promise<void> {
  if (hook) await hook(phase);
}
