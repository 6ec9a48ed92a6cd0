/**
 * The work done for one project, whatever face asks for it: the state store, the
 * session manager, git sync and when it runs, and what happens when a session ends.
 * It returns outcomes and reports notices; it shows nothing itself.
 */
import { isAbsolute, posix, relative, sep } from "node:path";
import type { Config, ConfigError } from "../config.js";
import type { Logger } from "../core/logger.js";
import type { PhaseHook } from "../util/phases.js";
import { SessionManager } from "../core/session-manager.js";
import { StateStore } from "../core/state-store.js";
import { filesReposDir } from "../core/paths.js";
import { GLOBAL_PROJECT } from "../core/project-key.js";
import { HostRepository } from "../git/host-repo.js";
import { Seeder } from "../git/seeder.js";
import { GitSync, type MergeResult, type SyncReason, type SyncResult } from "../git/service.js";
import { createProvider, unavailableHint } from "../providers/factory.js";
import { isSandboxError, SandboxError, type Sandbox, type SandboxProvider } from "../providers/provider.js";
import { egressNotice, type Notify } from "./notices.js";
import { applyRetention } from "./retention.js";
import { SyncTriggers } from "./sync-triggers.js";

export interface ProjectServiceOptions {
  projectId: string;
  /** The repository's top level as OpenCode sees it (its `worktree`). */
  worktree: string;
  /** The host project directory (OpenCode's `directory`; may be a subdirectory of `worktree`). */
  directory: string;
  config: Config;
  /** An invalid configuration: every request for a sandbox fails with it. */
  configError?: ConfigError;
  log: Logger;
  notify: Notify;
  /** A session's parent (undefined for a root session), when no event told it yet. */
  parentOf?: (sessionID: string) => Promise<string | undefined>;
  /** A session's title for commit messages, when no event told it yet. */
  titleOf?: (sessionID: string) => Promise<string | undefined>;
  /** Tests: another place for the state file. */
  stateDir?: string;
  /** Tests: another place for private repositories of projects without git. */
  filesDir?: string;
  /** Tests: another provider. */
  provider?: () => Promise<SandboxProvider>;
  /** Tests: stop at named points (see util/phases.ts). */
  phases?: PhaseHook;
}

export class ProjectService {
  readonly store: StateStore;
  readonly manager: SessionManager;
  readonly gitSync: GitSync;
  private readonly triggers: SyncTriggers;
  private readonly subdir: string;
  private readonly endings = new Set<Promise<void>>();
  private readonly host: HostRepository;
  /** The configured provider, made on first use (an invalid configuration is thrown here). */
  readonly provider: () => Promise<SandboxProvider>;

  constructor(private readonly o: ProjectServiceOptions) {
    const { config, log, notify, phases } = o;
    let provider: Promise<SandboxProvider> | undefined;
    this.store = new StateStore({ projectId: o.projectId, worktree: o.worktree, log, phases, dir: o.stateDir });
    // One direction only: the manager seeds through the seeder; git sync reaches sandboxes through the manager.
    // A folder without git keeps its sessions' work in a private repository keyed like
    // its state (never under the shared "global" key: see core/project-key.ts).
    const files = o.projectId === GLOBAL_PROJECT ? undefined : { key: o.projectId, dir: o.filesDir ?? filesReposDir() };
    const host = new HostRepository({ directory: o.directory, branchPrefix: config.sync.branchPrefix, notify, files });
    this.host = host;
    const seeder = new Seeder({ host, config, log, notify, store: this.store, phases });
    const manager = new SessionManager({
      projectId: o.projectId,
      store: this.store,
      log,
      notify,
      env: config.sandboxEnv,
      seed: seeder.seed,
      recover: seeder.recover,
      provider: () => this.provider(),
      parentOf: o.parentOf,
      phases,
    });
    this.provider = () => {
      if (o.configError) return Promise.reject(o.configError);
      // A refused connection is told to the session whose sandbox made it (once per domain: notices.ts).
      return (provider ??= o.provider?.() ?? createProvider(config, log, { egressBlocked: (e) => notify(egressNotice(e)) }));
    };
    this.manager = manager;
    this.gitSync = new GitSync({
      directory: o.directory,
      config,
      log,
      notify,
      store: this.store,
      host,
      sandboxFor: (id) => manager.sandboxFor(id),
      isLive: (id) => manager.isLive(id),
      titleOf: o.titleOf,
      phases,
    });
    this.triggers = new SyncTriggers({ gitSync: this.gitSync, manager: this.manager, config, log, notify });
    this.subdir = projectSubdir(o.worktree, o.directory);
  }

  /**
   * The session's sandbox as tools see it. The sandbox holds the whole repository (git
   * sync seeds its top level); OpenCode may run in a subdirectory of it (a monorepo
   * package), which is then the sandbox's project directory.
   */
  async sandboxFor(sessionID: string): Promise<Sandbox> {
    const sandbox = await this.manager.sandboxFor(sessionID).catch((error: unknown) => {
      const hint = isSandboxError(error, "unavailable") && unavailableHint(this.o.config);
      throw hint ? new SandboxError("unavailable", `${error.message} ${hint}`, { cause: error }) : error;
    });
    return this.subdir ? withProjectDir(sandbox, posix.join(sandbox.projectDir, this.subdir)) : sandbox;
  }

  get projectId(): string {
    return this.o.projectId;
  }

  /** What a session event told about a session. */
  noteSession(info: { id: string; parentID?: string; title?: string }): void {
    this.manager.noteParent(info.id, info.parentID);
    this.gitSync.noteTitle(info.id, info.title);
  }

  idle(sessionID: string): Promise<void> {
    return this.triggers.idle(sessionID);
  }

  busy(sessionID: string): void {
    this.triggers.busy(sessionID);
  }

  active(sessionID: string): void {
    this.triggers.active(sessionID);
  }

  /** Syncs the session's work (its root session's sandbox) now. */
  async sync(sessionID: string, reason: SyncReason = "manual"): Promise<SyncResult> {
    return this.triggers.run(await this.manager.rootOf(sessionID), reason, true);
  }

  /** Merges a ref of the user's repository into the session's sandbox. */
  async merge(sessionID: string, ref: string): Promise<MergeResult> {
    return this.gitSync.merge(await this.manager.rootOf(sessionID), ref);
  }

  /**
   * The session was deleted: its work is synced (never lost by deleting a session),
   * then its sandbox and mapping go; the branch stays. A failed sync keeps the sandbox.
   * Runs in the background; `dispose` waits for it.
   */
  deleted(sessionID: string): void {
    const p = this.end(sessionID)
      .catch((error) => this.o.log.error(`deleting the sandbox failed: ${(error as Error).message}`, sessionID))
      .finally(() => this.endings.delete(p));
    this.endings.add(p);
  }

  /** A folder without git: the work is kept aside in its private repository, not on a branch of the folder. */
  private async keptAside(): Promise<boolean> {
    return this.o.projectId !== GLOBAL_PROJECT && !(await this.host.find().catch(() => undefined));
  }

  private async end(sessionID: string) {
    const record = await this.manager.existing(sessionID).catch(() => undefined);
    if (!record) return; // never used a tool: nothing to sync or delete
    if (!record.parentId) {
      try {
        await this.sync(sessionID, "delete");
      } catch (error) {
        this.o.notify({ kind: "delete_kept", sessionID, message: (error as Error).message });
        return;
      }
    }
    // The branch as the final sync left it (it may have been allocated just now).
    const branch = (await this.manager.existing(sessionID).catch(() => undefined))?.branch ?? record.branch;
    await this.manager.delete(sessionID);
    // Said, because deleting a session otherwise shows nothing of where its work went.
    if (!record.parentId) this.o.notify({ kind: "session_ended", sessionID, branch, ...((await this.keptAside()) ? { files: true } : {}) });
  }

  /**
   * The opt-in retention (config.retention): this project's old sandboxes pruned after
   * their work is synced, in the background; `dispose` waits for it.
   */
  retain(): Promise<void> {
    const { retention } = this.o.config;
    if (this.o.configError || (retention.maxAgeDays === undefined && retention.maxTotalGiB === undefined)) return Promise.resolve();
    const p: Promise<void> = applyRetention(this, retention, this.o.log)
      .then(() => {})
      .catch((error) => this.o.log.warn(`retention: ${(error as Error).message}`))
      .finally(() => this.endings.delete(p));
    this.endings.add(p);
    return p;
  }

  /** Waits for deletions and syncs (a last one of every live session), then lets the provider go. */
  async dispose(): Promise<void> {
    await Promise.allSettled([...this.endings]);
    await this.triggers.dispose();
    await this.manager.dispose().catch((error) => this.o.log.error(`dispose: ${(error as Error).message}`));
  }
}

/** `directory` relative to the repository's top level ("" when it is the top, or not in a repository). */
export function projectSubdir(worktree: string | undefined, directory: string): string {
  if (!worktree || worktree === "/") return "";
  const rel = relative(worktree, directory);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel.split(sep).join("/") : "";
}

/** The same sandbox, with the tools' project directory moved (everything else delegates). */
function withProjectDir(sandbox: Sandbox, projectDir: string): Sandbox {
  return Object.create(sandbox, { projectDir: { value: projectDir, enumerable: true } }) as Sandbox;
}
