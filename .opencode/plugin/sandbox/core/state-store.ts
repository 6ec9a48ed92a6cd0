/**
 * The session → sandbox map: one JSON file per project at
 * `$XDG_DATA_HOME/opencode/storage/daytona/<projectId>.json`. Writes are atomic
 * (temp file + fsync + rename), read-modify-write is locked across processes, and a
 * corrupt file is moved aside (never deleted) so the map can be rebuilt.
 */
import { readdir, readFile, rename } from "node:fs/promises";
import { basename, join } from "node:path";
import { z } from "zod";
import { KeyedQueue } from "../util/keyed-queue.js";
import { withLock } from "../util/lock.js";
import type { Logger } from "./logger.js";
import { stateDir, statePath } from "./paths.js";
import type { PhaseHook } from "../util/phases.js";
import { removeStaleTemps, writeAtomic } from "../util/write-atomic.js";

export const SessionRecordSchema = z
  .object({
    provider: z.string(),
    sandboxId: z.string(),
    /** N of the branch `<prefix>/<N>` this session syncs to. */
    branchNumber: z.number().int().positive().optional(),
    branch: z.string().optional(),
    /** The host commit the sandbox's repository was seeded from. */
    baseCommit: z.string().optional(),
    lastSyncedCommit: z.string().optional(),
    /** When a sync last brought the sandbox's work to the host (ISO time). */
    lastSyncedAt: z.string().optional(),
    /** What sync last set the branch to: tells "the user committed on it" from "the sandbox rewrote history". */
    branchTip: z.string().optional(),
    /** `<branch>-sandbox-<k>` holding work that could not go onto the branch. */
    sideBranch: z.string().optional(),
    /** A project without git: the session's tip last applied to the folder (the next apply's base). */
    appliedCommit: z.string().optional(),
    /** Set once the sandbox's repository was seeded (or seeding is not needed). */
    seededAt: z.string().optional(),
    createdAt: z.string(),
    lastUsedAt: z.string(),
    /** Set for subagent sessions: they use their root session's sandbox. */
    parentId: z.string().optional(),
    title: z.string().optional(),
    /** Whatever the provider needs to find its sandbox again. */
    providerData: z.record(z.string(), z.unknown()).optional(),
  })
  // Keep fields a newer version wrote.
  .loose();

export type SessionRecord = z.infer<typeof SessionRecordSchema>;

export const StateFileSchema = z.object({
  version: z.literal(1),
  projectId: z.string(),
  worktree: z.string(),
  sessions: z.record(z.string(), SessionRecordSchema),
});

export type StateFile = z.infer<typeof StateFileSchema>;

export interface StateStoreOptions {
  projectId: string;
  worktree: string;
  log: Logger;
  /** Override the directory (tests). */
  dir?: string;
  /** Tests: stop at named points (see util/phases.ts). */
  phases?: PhaseHook;
}

export class StateStore {
  readonly path: string;
  private readonly dir: string;
  /** This store's own writers of a file queue here; one at a time takes the file's lock. */
  private readonly writers = new KeyedQueue();
  private corrupt = false;

  constructor(private readonly options: StateStoreOptions) {
    this.dir = options.dir ?? stateDir();
    this.path = options.dir ? join(options.dir, `${options.projectId}.json`) : statePath(options.projectId);
  }

  private empty(): StateFile {
    return { version: 1, projectId: this.options.projectId, worktree: this.options.worktree, sessions: {} };
  }

  /** Reads without the lock: writes are atomic renames, so a reader sees a whole file. */
  async read(): Promise<StateFile> {
    return this.readFrom(this.path, this.options.projectId);
  }

  private async readFrom(path: string, projectId: string): Promise<StateFile> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return { ...this.empty(), projectId };
      throw error;
    }
    try {
      return StateFileSchema.parse(JSON.parse(text));
    } catch (error) {
      const movedTo = `${path}.corrupt-${new Date().toISOString().replace(/[:.]/g, "-")}`;
      await rename(path, movedTo).catch(() => {});
      this.options.log.error(`State file ${path} is unreadable (${(error as Error).message.split("\n")[0]}); moved aside to ${movedTo}`);
      if (path === this.path) this.corrupt = true;
      return { ...this.empty(), projectId };
    }
  }

  /** True once after this project's state file was found corrupt and moved aside: the map needs a rebuild. */
  takeCorrupt(): boolean {
    const corrupt = this.corrupt;
    this.corrupt = false;
    return corrupt;
  }

  /** Locked read-modify-write. `fn` mutates the state in place. */
  async update<T>(fn: (state: StateFile) => T | Promise<T>): Promise<T> {
    return this.updateFile(this.path, this.options.projectId, fn);
  }

  private updateFile<T>(path: string, projectId: string, fn: (state: StateFile) => T | Promise<T>): Promise<T> {
    return this.writers.run(path, () =>
      withLock(path, async () => {
        await removeStaleTemps(path);
        const state = await this.readFrom(path, projectId);
        const result = await fn(state);
        await writeAtomic(path, JSON.stringify(state, null, 2) + "\n", { phases: this.options.phases });
        return result;
      }),
    );
  }

  async get(sessionID: string): Promise<SessionRecord | undefined> {
    return (await this.read()).sessions[sessionID];
  }

  async set(sessionID: string, record: SessionRecord): Promise<void> {
    await this.update((s) => {
      s.sessions[sessionID] = record;
    });
  }

  /** Merges `patch` into an existing record; returns the result (undefined if there is none). */
  async patch(sessionID: string, patch: Partial<SessionRecord>): Promise<SessionRecord | undefined> {
    return this.update((s) => {
      const current = s.sessions[sessionID];
      if (!current) return undefined;
      return (s.sessions[sessionID] = { ...current, ...patch });
    });
  }

  async remove(sessionID: string): Promise<void> {
    await this.update((s) => {
      delete s.sessions[sessionID];
    });
  }

  /**
   * OpenCode re-ids a project when its first commit appears: a session may sit in
   * another project's file (e.g. `global.json`). Move it here if found.
   */
  async migrateFromOtherProjects(sessionID: string): Promise<SessionRecord | undefined> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.endsWith(".json") || name === basename(this.path)) continue;
      const otherId = name.slice(0, -".json".length);
      const path = join(this.dir, name);
      const other = await this.readFrom(path, otherId);
      if (!other.sessions[sessionID]) continue;
      const record = await this.updateFile(path, otherId, (s) => {
        const found = s.sessions[sessionID];
        delete s.sessions[sessionID];
        return found;
      });
      if (!record) continue;
      await this.set(sessionID, record);
      this.options.log.info(`Moved session ${sessionID} from project ${otherId} to ${this.options.projectId}`, sessionID);
      return record;
    }
    return undefined;
  }
}
