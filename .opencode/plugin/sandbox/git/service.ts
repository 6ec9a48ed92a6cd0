/**
 * GitSync: syncs a sandbox's HEAD back to `<prefix>/<N>` and merges host refs into a
 * running sandbox (seeding is seeder.ts). One bundle file each way; the host runs git
 * only in the user's repository (hardened, see host-git.ts), serialized per
 * repository by a lock in its git dir. Per session, one sync at a time.
 */
import { rm } from "node:fs/promises";
import type { Config } from "../config.js";
import type { Logger } from "../core/logger.js";
import type { SessionRecord } from "../core/state-store.js";
import type { Sandbox } from "../providers/provider.js";
import { reach, type PhaseHook } from "../util/phases.js";
import type { Notify } from "../service/notices.js";
import type { ApplyOutcome } from "./apply.js";
import { GitSyncError } from "./errors.js";
import type { HostGit, RepoInfo } from "./host-git.js";
import { HostRepository } from "./host-repo.js";
import { fromSandbox } from "./from-sandbox.js";
import { intoHost } from "./into-host.js";
import { mergeIntoSandbox, type MergeResult } from "./merge.js";
import { sessionRef } from "./refs.js";

export type { MergeResult };

export type SyncReason = "idle" | "delete" | "shutdown" | "manual";

export type SyncResult =
  | { kind: "skipped"; why: string }
  | {
      kind: "synced";
      commit: string;
      outcome: ApplyOutcome;
      bytes: number;
      committed: boolean;
      /** Milliseconds: inside the sandbox (commit + bundle), download, on the host (under the lock). */
      ms: { sandbox: number; download: number; host: number };
    };

export interface GitSyncOptions {
  /** The host project directory (OpenCode's `directory`). */
  directory: string;
  config: Pick<Config, "sync">;
  log: Logger;
  /** What the user is told about; a face renders it. */
  notify: Notify;
  store: {
    get(sessionID: string): Promise<SessionRecord | undefined>;
    patch(sessionID: string, patch: Partial<SessionRecord>): Promise<SessionRecord | undefined>;
  };
  /** The session's live sandbox (may reconnect/start it). */
  sandboxFor: (sessionID: string) => Promise<Sandbox>;
  /** True when this process holds a live handle for the session (idle/shutdown syncs need one). */
  isLive?: (sessionID: string) => boolean;
  /** Session title for commit messages when no event told us yet. */
  titleOf?: (sessionID: string) => Promise<string | undefined>;
  /** How long a sync waits for another one on the same repository (when `host` is not given). */
  lockTimeoutMs?: number;
  /** The repository as the seeder also uses it (one lock queue per process); default: its own. */
  host?: HostRepository;
  /** Tests: stop at named points (see util/phases.ts). */
  phases?: PhaseHook;
}

export class GitSync {
  readonly host: HostRepository;
  private readonly titles = new Map<string, string>();
  private readonly running = new Map<string, Promise<SyncResult>>();
  private readonly queued = new Map<string, Promise<SyncResult>>();
  private readonly all = new Set<Promise<unknown>>();

  constructor(private readonly options: GitSyncOptions) {
    const { directory, config, notify, lockTimeoutMs } = options;
    this.host = options.host ?? new HostRepository({ directory, branchPrefix: config.sync.branchPrefix, notify, lockTimeoutMs });
  }

  /** A session's title from `session.updated`: used in commit messages. */
  noteTitle(sessionID: string, title: string | undefined) {
    if (title) this.titles.set(sessionID, title);
  }

  private async title(sessionID: string, record?: SessionRecord): Promise<string | undefined> {
    const known = this.titles.get(sessionID) ?? record?.title;
    if (known) return known;
    const fetched = await this.options.titleOf?.(sessionID).catch(() => undefined);
    if (fetched) this.titles.set(sessionID, fetched);
    return fetched;
  }

  private async commitMessage(sessionID: string, reason: string, record?: SessionRecord): Promise<string> {
    const title = await this.title(sessionID, record);
    const name = title ? `"${title.replace(/\s+/g, " ").trim()}"` : "(untitled)";
    return `opencode session ${name} (${sessionID})\n\nWork of OpenCode session ${name}, id ${sessionID}; synced on ${reason}.`;
  }

  /**
   * Syncs the session's sandbox HEAD to its branch. Calls for one session are
   * serialized; a call while one runs is coalesced into one follow-up sync.
   * `connect`: reach the sandbox even when this process has no live handle
   * (before a delete, on demand) — idle/shutdown syncs skip sessions not live here.
   */
  sync(sessionID: string, reason: SyncReason = "manual", options: { connect?: boolean } = {}): Promise<SyncResult> {
    const connect = options.connect ?? (reason === "delete" || reason === "manual");
    const queued = this.queued.get(sessionID);
    if (queued) return queued;
    const running = this.running.get(sessionID);
    const start = (): Promise<SyncResult> => {
      this.queued.delete(sessionID);
      const p = this.syncNow(sessionID, reason, connect).finally(() => {
        if (this.running.get(sessionID) === p) this.running.delete(sessionID);
      });
      this.running.set(sessionID, p);
      return p;
    };
    let p: Promise<SyncResult>;
    if (running) {
      p = running.then(start, start);
      this.queued.set(sessionID, p);
    } else p = start();
    this.all.add(p);
    void p.catch(() => {}).finally(() => this.all.delete(p));
    return p;
  }

  /** Resolves when every sync started so far has finished (errors are the callers'). */
  async flush(): Promise<void> {
    while (this.all.size) await Promise.allSettled([...this.all]);
  }

  private async syncNow(sessionID: string, reason: SyncReason, connect: boolean): Promise<SyncResult> {
    const { log } = this.options;
    if (!this.options.config.sync.enabled) return { kind: "skipped", why: "sync is disabled (sync.enabled = false)" };
    const record = await this.options.store.get(sessionID);
    if (!record) return { kind: "skipped", why: "the session has no sandbox" };
    if (record.parentId) return { kind: "skipped", why: "a subagent session: its root session syncs" };
    if (!record.seededAt || !record.baseCommit) return { kind: "skipped", why: "the sandbox's repository was not seeded from git" };
    if (!connect && this.options.isLive && !this.options.isLive(sessionID))
      return { kind: "skipped", why: "no live sandbox in this process" };
    const host = await this.host.open();
    if (!host) return { kind: "skipped", why: "no git repository" };
    const { repo, git } = host;
    const started = Date.now();
    const sandbox = await this.options.sandboxFor(sessionID);
    // A base the host lost is caught when the bundle is fetched (then: a full bundle).
    const base: string | undefined = record.lastSyncedCommit ?? record.baseCommit;
    let result = await this.fromSandbox(sandbox, sessionID, reason, record, host, base);
    const hostStart = performance.now();
    try {
      let outcome = await this.host.locked(repo, () => this.toHost(git, repo, sessionID, record, result.head, result.bundle));
      if (outcome === "need_full") {
        // The host lacks the bundle's base (gc'd, or a rewritten repo): ask for everything.
        log.warn(`host lacks the sync base; requesting a full bundle`, sessionID);
        await rm(result.bundle ?? "", { force: true });
        result = await this.fromSandbox(sandbox, sessionID, reason, record, host, undefined);
        outcome = await this.host.locked(repo, () => this.toHost(git, repo, sessionID, record, result.head, result.bundle));
        if (outcome === "need_full") throw new GitSyncError("bad_bundle", "the sandbox's full bundle still lacks commits the host needs");
      }
      await reach(this.options.phases, "sync:applied");
      await this.options.store.patch(sessionID, { lastSyncedCommit: result.head, lastSyncedAt: new Date().toISOString(), ...outcome.fields });
      this.report(sessionID, outcome.outcome, record, !!host.files);
      log.info(
        `synced (${reason}) ${result.head.slice(0, 12)}: ${outcome.outcome.kind} ${outcome.outcome.branch}; ${result.bytes} bytes in ${Date.now() - started} ms`,
        sessionID,
      );
      const ms = { sandbox: result.sandboxMs, download: result.downloadMs, host: performance.now() - hostStart };
      return { kind: "synced", commit: result.head, outcome: outcome.outcome, bytes: result.bytes, committed: result.committed, ms };
    } finally {
      if (result.bundle) await rm(result.bundle, { force: true });
    }
  }

  /** Commit and bundle inside the sandbox; download the bundle. */
  private async fromSandbox(sandbox: Sandbox, sessionID: string, reason: string, record: SessionRecord, { repo, git }: { repo: RepoInfo; git: HostGit }, base: string | undefined) {
    return fromSandbox({
      sandbox,
      base,
      message: await this.commitMessage(sessionID, reason, record),
      identity: await this.host.who(git),
      tmp: () => this.host.tmp(repo, "sync"),
      budgetBytes: this.budgetBytes(),
      phases: this.options.phases,
    });
  }

  /** Under the lock, with the record as it is now (another process may have synced meanwhile). */
  private async toHost(git: HostGit, repo: RepoInfo, sessionID: string, stale: SessionRecord, head: string, bundle: string | undefined) {
    return intoHost({
      git,
      repo,
      sessionID,
      head,
      bundle,
      record: (await this.options.store.get(sessionID)) ?? stale,
      branchPrefix: this.options.config.sync.branchPrefix,
      budgetBytes: this.budgetBytes(),
      notify: this.options.notify,
      phases: this.options.phases,
    });
  }

  private budgetBytes(): number {
    return this.options.config.sync.sizeBudgetMb * 1024 * 1024;
  }

  private report(sessionID: string, outcome: ApplyOutcome, record: SessionRecord, files: boolean) {
    const title = this.titles.get(sessionID) ?? record.title;
    this.options.notify({ kind: "synced", sessionID, title, outcome, ...(files ? { files: true } : {}) });
  }

  // ---------------------------------------------------------------- host → sandbox

  /**
   * Merges a host ref (branch, tag, commit) into the sandbox's HEAD. Conflicts are
   * never resolved: the merge is aborted and the files are returned.
   */
  async merge(sessionID: string, ref: string): Promise<MergeResult> {
    const host = await this.host.open();
    if (!host || host.files) throw new GitSyncError("no_repository", "this project is not a git repository with commits: nothing to merge");
    const result = await mergeIntoSandbox({
      ...host,
      ref,
      record: await this.options.store.get(sessionID),
      sandbox: await this.options.sandboxFor(sessionID),
      identity: await this.host.who(host.git),
      incoming: `refs/opencode-sandboxed/merge/${sessionRef(sessionID).split("/").pop()}`,
      tmp: () => this.host.tmp(host.repo, "merge"),
      locked: (fn) => this.host.locked(host.repo, fn),
    });
    if (result.kind === "conflict") this.options.notify({ kind: "merge_conflict", sessionID, ref, conflicts: result.conflicts });
    return result;
  }
}
