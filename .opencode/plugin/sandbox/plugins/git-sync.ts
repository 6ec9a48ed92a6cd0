/**
 * When git sync runs: a root session going idle (debounced; `session.status` idle and
 * `session.idle` are one event), before a session is deleted (the cleanup plugin calls
 * `syncSession`), on shutdown (`dispose` awaits every sync: under `opencode run` the
 * process exits right after), and on demand (`syncSession`, for the CLI).
 */
import type { Config } from "../config.js";
import type { Logger } from "../core/logger.js";
import type { SessionManager } from "../core/session-manager.js";
import type { StateStore } from "../core/state-store.js";
import type { Toaster } from "../core/toast.js";
import { isGitSyncError } from "../git/errors.js";
import { GitSync, type SyncReason, type SyncResult } from "../git/service.js";

type Event = { type: string; properties?: Record<string, any> };

export interface GitSyncDeps {
  directory: string;
  config: Pick<Config, "sync">;
  log: Logger;
  toast: Toaster;
  store: Pick<StateStore, "get" | "patch">;
  /** A getter: the manager is built with `gitSync.seed`, so it exists only afterwards. */
  manager: () => Pick<SessionManager, "sandboxFor" | "isLive" | "rootOf" | "liveSessions">;
  /** OpenCode's client: session titles for commit messages. */
  client?: { session: { get(options: { path: { id: string } }): Promise<unknown> } };
}

/** The GitSync service; pass `gitSync.seed` as SessionManagerOptions.seed. */
export function createGitSync(deps: GitSyncDeps): GitSync {
  return new GitSync({
    directory: deps.directory,
    config: deps.config,
    log: deps.log,
    toast: deps.toast,
    store: deps.store,
    sandboxFor: (id) => deps.manager().sandboxFor(id),
    isLive: (id) => deps.manager().isLive(id),
    titleOf: deps.client
      ? async (id) => ((await deps.client!.session.get({ path: { id } })) as { data?: { title?: string } }).data?.title
      : undefined,
  });
}

export interface GitSyncPlugin {
  hooks: { event(input: { event: Event }): Promise<void>; dispose(): Promise<void> };
  /** On-demand sync of a session (its root's sandbox); reaches the sandbox even if not live here. */
  syncSession(sessionID: string, reason?: SyncReason): Promise<SyncResult>;
}

function sessionIdOf(event: Event): string | undefined {
  const p = event.properties ?? {};
  return p.sessionID ?? p.info?.sessionID ?? p.part?.sessionID;
}

export function gitSyncPlugin(ctx: {
  gitSync: GitSync;
  manager: Pick<SessionManager, "isLive" | "rootOf" | "liveSessions">;
  config: Pick<Config, "sync">;
  log: Logger;
  toast: Toaster;
}): GitSyncPlugin {
  const { gitSync, manager, config, log, toast } = ctx;
  const timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Sessions whose current idle was already handled (cleared when they work again). */
  const handled = new Set<string>();
  let disposed = false;

  const run = (sessionID: string, reason: SyncReason, connect?: boolean) =>
    gitSync.sync(sessionID, reason, { connect }).then(
      (result) => {
        if (result.kind === "skipped") log.debug(`sync skipped: ${result.why}`, sessionID);
        return result;
      },
      (error: unknown) => {
        const message = (error as Error).message;
        log.error(`sync (${reason}) failed: ${(error as Error).stack ?? message}`, sessionID);
        // A blocking branch already told the user precisely.
        if (!isGitSyncError(error, "branch_blocked")) toast.show(`Syncing the session's work failed: ${message.split("\n")[0]}`, "error", `sync-failed:${message}`);
        throw error;
      },
    );

  function fire(sessionID: string) {
    timers.delete(sessionID);
    void run(sessionID, "idle").catch(() => {});
  }

  async function onIdle(sessionID: string) {
    if (disposed || handled.has(sessionID) || timers.has(sessionID)) return;
    // A subagent finishing mid-turn is not the end of the user's turn.
    if ((await manager.rootOf(sessionID).catch(() => sessionID)) !== sessionID) return;
    if (!manager.isLive(sessionID)) return; // no tool ran in this process: nothing new to sync
    if (handled.has(sessionID) || timers.has(sessionID)) return;
    handled.add(sessionID);
    timers.set(sessionID, setTimeout(() => fire(sessionID), config.sync.debounceMs));
  }

  function onBusy(sessionID: string) {
    handled.delete(sessionID);
    const timer = timers.get(sessionID);
    if (timer) {
      clearTimeout(timer);
      timers.delete(sessionID);
    }
  }

  return {
    hooks: {
      async event({ event }) {
        const props = event.properties ?? {};
        if (event.type === "session.created" || event.type === "session.updated") {
          if (props.info?.id) gitSync.noteTitle(props.info.id, props.info.title);
          return;
        }
        if (!config.sync.enabled) return;
        const id = sessionIdOf(event);
        if (!id) return;
        if (event.type === "session.idle" || (event.type === "session.status" && props.status?.type === "idle")) await onIdle(id);
        else if (event.type === "session.status") onBusy(id);
        // Activity re-arms the idle trigger, but never cancels a pending sync: message
        // updates also trail the idle event.
        else if (event.type.startsWith("message.")) handled.delete(id);
      },
      async dispose() {
        disposed = true;
        for (const [id, timer] of timers) {
          clearTimeout(timer);
          timers.delete(id);
        }
        if (config.sync.enabled)
          await Promise.allSettled(manager.liveSessions().map((id) => run(id, "shutdown", false)));
        await gitSync.flush();
      },
    },
    async syncSession(sessionID, reason = "manual") {
      const root = await manager.rootOf(sessionID);
      return run(root, reason, true);
    },
  };
}
