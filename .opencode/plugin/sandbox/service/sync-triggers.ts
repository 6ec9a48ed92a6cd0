/**
 * When git sync runs: a root session going idle (debounced, told once per idle
 * however many events say so), before a session is deleted, on shutdown (`dispose`
 * awaits every sync: under `opencode run` the process exits right after), and on
 * demand. Failures become notices; a blocking branch was already told precisely.
 */
import type { Config } from "../config.js";
import type { Logger } from "../core/logger.js";
import type { SessionManager } from "../core/session-manager.js";
import { isGitSyncError } from "../git/errors.js";
import type { GitSync, SyncReason, SyncResult } from "../git/service.js";
import type { Notify } from "./notices.js";

export interface SyncTriggersOptions {
  gitSync: Pick<GitSync, "sync" | "flush">;
  manager: Pick<SessionManager, "isLive" | "rootOf" | "liveSessions">;
  config: Pick<Config, "sync">;
  log: Logger;
  notify: Notify;
}

export class SyncTriggers {
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  /** Sessions whose current idle was already handled (cleared when they work again). */
  private readonly handled = new Set<string>();
  private disposed = false;

  constructor(private readonly o: SyncTriggersOptions) {}

  /** Syncs the session's root now; `connect` reaches a sandbox not live in this process. */
  run(sessionID: string, reason: SyncReason, connect?: boolean): Promise<SyncResult> {
    const { gitSync, log, notify } = this.o;
    return gitSync.sync(sessionID, reason, { connect }).then(
      (result) => {
        if (result.kind === "skipped") log.debug(`sync skipped: ${result.why}`, sessionID);
        return result;
      },
      (error: unknown) => {
        const message = (error as Error).message;
        // The face logs the notice it renders; the stack is for debugging only.
        log.debug(`sync (${reason}) failed: ${(error as Error).stack ?? message}`, sessionID);
        if (!isGitSyncError(error, "branch_blocked")) notify({ kind: "sync_failed", sessionID, message });
        throw error;
      },
    );
  }

  /** The session went idle (`session.idle` and `session.status` idle are one event). */
  async idle(sessionID: string): Promise<void> {
    if (!this.o.config.sync.enabled || this.disposed || this.pending(sessionID)) return;
    // A subagent finishing mid-turn is not the end of the user's turn.
    if ((await this.o.manager.rootOf(sessionID).catch(() => sessionID)) !== sessionID) return;
    if (!this.o.manager.isLive(sessionID)) return; // no tool ran in this process: nothing new to sync
    if (this.pending(sessionID)) return;
    this.handled.add(sessionID);
    this.timers.set(
      sessionID,
      setTimeout(() => {
        this.timers.delete(sessionID);
        void this.run(sessionID, "idle").catch(() => {});
      }, this.o.config.sync.debounceMs),
    );
  }

  /** The session works again: a sync not started yet is cancelled. */
  busy(sessionID: string): void {
    this.handled.delete(sessionID);
    clearTimeout(this.timers.get(sessionID));
    this.timers.delete(sessionID);
  }

  /** Activity re-arms the idle trigger but never cancels a pending sync: message updates also trail the idle event. */
  active(sessionID: string): void {
    this.handled.delete(sessionID);
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    if (this.o.config.sync.enabled)
      await Promise.allSettled(this.o.manager.liveSessions().map((id) => this.run(id, "shutdown", false)));
    await this.o.gitSync.flush();
  }

  private pending(sessionID: string) {
    return this.handled.has(sessionID) || this.timers.has(sessionID);
  }
}
