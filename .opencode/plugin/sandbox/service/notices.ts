/**
 * What the service tells the user about, as typed values. The service shows nothing
 * itself: a face (the OpenCode plugin, a CLI) renders each notice — the words below
 * are shared so that every face says the same thing.
 */
import type { ApplyOutcome } from "../git/apply.js";

export type Notice =
  | { kind: "sandbox_ready"; sessionID: string; provider: string }
  /** Getting the session's sandbox (made, seeded, or reconnected) takes a while: told once, so the wait is not silent. */
  | { kind: "sandbox_creating"; sessionID: string }
  /** The session's sandbox was stopped (by its provider, or a restart) and is started again. */
  | { kind: "sandbox_starting"; sessionID: string; archived: boolean }
  /** The session's sandbox was gone; a new one holds its last synced work. */
  | { kind: "sandbox_recreated"; sessionID: string }
  /** Sandboxes of this project that no session uses (kept, not deleted). */
  | { kind: "orphans"; provider: string; ids: string[] }
  /** The state file was unreadable; the map was rebuilt from the provider's labels. */
  | { kind: "state_rebuilt"; found: number }
  | { kind: "sync_off"; why: "not_a_repository" | "no_commits" }
  /** A project without git: sandboxes get a copy of its files; work is kept aside until the user applies it. */
  | { kind: "files_project"; directory: string }
  /** A project without git holds more than the snapshot limit: nothing was copied (the message says what to do). */
  | { kind: "files_too_large"; sessionID: string; message: string }
  | { kind: "submodules_skipped"; sessionID: string; paths: string[] }
  /** A ref blocks the session's branch names (the error says which and how to fix it). */
  | { kind: "branch_blocked"; sessionID: string; message: string }
  /** `files`: a project without git (the work is kept in its private repository, not in the folder). */
  | { kind: "synced"; sessionID: string; title?: string; outcome: ApplyOutcome; files?: boolean }
  | { kind: "sync_failed"; sessionID: string; message: string }
  /** A merge of a host ref into the sandbox stopped on conflicts and was aborted. */
  | { kind: "merge_conflict"; sessionID: string; ref: string; conflicts: string[] }
  /** The final sync of a deleted session failed: its sandbox is kept. */
  | { kind: "delete_kept"; sessionID: string; message: string }
  /** A deleted session's work was synced and its sandbox removed; `branch` holds the work (`files`: in a folder without git's private repository). */
  | { kind: "session_ended"; sessionID: string; branch?: string; files?: boolean }
  /** A server started listening in the session's sandbox (or its link changed): the link the user can open. */
  | { kind: "preview_ready"; sessionID: string; port: number; url: string }
  /** The sandbox's egress policy refused a connection (network "allowlist"): what, why, and the option that allows it. */
  | { kind: "egress_blocked"; sessionID: string; host: string; why: string; option: string };

export type Notify = (notice: Notice) => void;

/** A provider's refused connection as the notice of the session whose sandbox made it (labelled `session`). */
export function egressNotice(e: { sandboxId: string; labels: Record<string, string>; host: string; why: string; option: string }): Notice {
  return { kind: "egress_blocked", sessionID: e.labels.session ?? e.sandboxId, host: e.host, why: e.why, option: e.option };
}

export type Level = "success" | "info" | "warning" | "error";

export interface Words {
  text: string;
  level: Level;
  /** Notices with the same key are told once per process; none: every time. */
  once?: string;
}

const who = (sessionID: string, title?: string) => (title ? `Session "${title}"` : `Session ${sessionID}`);

export function mergeConflictText(ref: string, conflicts: string[]): string {
  return `Merging ${ref} into the sandbox's branch stopped on conflicts in ${conflicts.length} file(s): ${conflicts.join(", ")}. The merge was aborted; nothing was changed.`;
}

function syncedWords(n: Extract<Notice, { kind: "synced" }>): Words | undefined {
  const o = n.outcome;
  const name = who(n.sessionID, n.title);
  if (n.files) {
    if (o.kind === "up_to_date" || o.kind === "waiting") return undefined;
    const kept = o.kind === "diverted" ? o.sideBranch : o.branch;
    return {
      text: `${name}: work saved as ${kept}; your files are untouched. Review it: opencode-sandboxed diff ${kept} · apply it: opencode-sandboxed apply ${kept}`,
      level: "success",
    };
  }
  switch (o.kind) {
    case "advanced": {
      const followed = o.worktree ? ` Your checkout of ${o.branch} was fast-forwarded.` : "";
      return { text: `${name}: work synced to ${o.branch}.${followed} See it: git log ${o.branch} · git checkout ${o.branch}`, level: "success" };
    }
    case "waiting":
      return {
        text:
          `${o.branch} is checked out in ${o.worktree} with local changes (${o.detail}); ` +
          `the session's new work was not applied there. Commit or stash your changes — the next sync brings it.`,
        level: "warning",
        once: `git-waiting:${o.branch}`,
      };
    case "diverted": {
      if (!o.created) return { text: `${name}: work synced to ${o.sideBranch}. See it: git log ${o.sideBranch}`, level: "success" };
      const why =
        o.reason === "user_commits"
          ? `${o.branch} has commits made outside the session; they are kept`
          : `the session's history no longer continues ${o.branch} (the agent reset or switched branches); ${o.branch} is kept`;
      return { text: `${why}. ${name}'s work is on ${o.sideBranch}: git log ${o.sideBranch} · git merge ${o.sideBranch}`, level: "warning" };
    }
    case "held": {
      const shown = o.paths.slice(0, 6).map((p) => `${p.path} (${p.reason})`);
      const more = o.paths.length > shown.length ? `, and ${o.paths.length - shown.length} more` : "";
      return {
        text:
          `${name}'s new work changes files that run code or configure tools on your machine by themselves: ${shown.join(", ")}${more}. ` +
          `Your checkout of ${o.branch} in ${o.worktree} was left as it is; the work waits on ${o.review}. ` +
          `Review it: git diff ${o.branch} ${o.review} · take it: git merge --ff-only ${o.review}`,
        level: "warning",
        once: `git-held:${o.branch}:${o.paths.map((p) => p.path).join("\0")}`,
      };
    }
    case "up_to_date":
      return undefined;
  }
}

/** The words for a notice; undefined when there is nothing worth telling. */
export function words(n: Notice): Words | undefined {
  switch (n.kind) {
    case "sandbox_ready":
      return { text: `Sandbox ready (${n.provider}).`, level: "success", once: `created:${n.sessionID}` };
    case "sandbox_creating":
      return { text: "Starting this session's sandbox…", level: "info", once: `creating:${n.sessionID}` };
    case "sandbox_starting":
      return {
        text: n.archived
          ? "Starting this session's archived sandbox: this takes longer than a stopped one. Servers it ran before are not running."
          : "Starting this session's stopped sandbox. Servers it ran before are not running.",
        level: "info",
      };
    case "sandbox_recreated":
      return {
        text: "This session's sandbox was gone; a new one was created from the session's last synced work.",
        level: "warning",
        once: `recreated:${n.sessionID}`,
      };
    case "orphans":
      return {
        text: `${n.ids.length} ${n.provider} sandbox(es) of this project are used by no session (left by a crash or a lost record): ${n.ids.join(", ")}. They are kept; delete them if you do not need them.`,
        level: "warning",
        once: "orphans",
      };
    case "state_rebuilt":
      return {
        text: `The sandbox state file was unreadable and was moved aside; ${n.found} sandbox(es) were found again.`,
        level: "warning",
        once: "state-corrupt",
      };
    case "sync_off": {
      const why = n.why === "not_a_repository" ? "this project is not a git repository" : "the repository has no commit yet";
      return {
        text:
          `Git sync is off: ${why}. The sandbox works, but its changes are not brought back to your repository. ` +
          `To enable it: git init && git add -A && git commit -m "initial commit", then start a new session.`,
        level: "warning",
        once: "git-sync-off",
      };
    }
    case "files_project":
      return {
        text:
          `${n.directory} is not a git repository: each session's sandbox gets a copy of its files (ignored files left out), ` +
          `and the agent's work is kept aside — never written here by itself. Review it: opencode-sandboxed diff · apply it: opencode-sandboxed apply. ` +
          `For branches opencode/<N> instead: git init && git add -A && git commit -m "initial commit", then start a new session.`,
        level: "info",
        once: "files-project",
      };
    case "files_too_large":
      return { text: n.message, level: "error", once: `files-too-large:${n.message}` };
    case "submodules_skipped":
      return {
        text: `Submodules are not copied into the sandbox (their directories are empty there): ${n.paths.join(", ")}.`,
        level: "warning",
        once: "git-submodules",
      };
    case "branch_blocked":
      return { text: n.message, level: "error", once: "git-branch-blocked" };
    case "synced":
      return syncedWords(n);
    case "sync_failed":
      return { text: `Syncing the session's work failed: ${n.message.split("\n")[0]}`, level: "error", once: `sync-failed:${n.message}` };
    case "merge_conflict":
      return { text: mergeConflictText(n.ref, n.conflicts), level: "warning" };
    case "session_ended":
      return {
        text: !n.branch
          ? "Session deleted: its sandbox is removed."
          : n.files
            ? `Session deleted: its sandbox is removed, its work is kept aside as ${n.branch} (your files are untouched). Review it: opencode-sandboxed diff ${n.branch} · apply it: opencode-sandboxed apply ${n.branch}`
            : `Session deleted: its sandbox is removed, its work stays on ${n.branch} (git log ${n.branch}).`,
        level: "info",
      };
    case "delete_kept":
      return { text: `Could not sync the deleted session's work (${n.message.split("\n")[0]}); its sandbox was kept.`, level: "error" };
    case "preview_ready":
      return { text: `Port ${n.port} is listening in the sandbox: ${n.url}`, level: "info", once: `preview:${n.sessionID}:${n.port}:${n.url}` };
    case "egress_blocked":
      return {
        text: `The sandbox blocked a connection to ${n.host}: ${n.why}. To allow it, add it to ${n.option} in the plugin's options (then restart OpenCode).`,
        level: "warning",
        once: `egress:${n.sessionID}:${n.host}`,
      };
  }
}
