/**
 * sessionID → live sandbox handle. Creates once (concurrent first calls share one
 * creation), maps subagent sessions to their root session's sandbox, reconnects
 * after an OpenCode restart, starts a stopped sandbox, re-creates a vanished one,
 * and retries a call once when the sandbox went away under it.
 */
import { findOrphanInfos } from "./orphans.js";
import { stableHandle } from "./stable-handle.js";
import type { Logger } from "./logger.js";
import { reach, type PhaseHook } from "../util/phases.js";
import type { SessionRecord, StateStore } from "./state-store.js";
import { isSandboxError, SandboxError, type Sandbox, type SandboxProvider } from "../providers/provider.js";
import type { Notify } from "../service/notices.js";

export const LABEL_PLUGIN = "opencode-sandboxed";

export interface SeedContext {
  sessionID: string;
  record: SessionRecord;
  /** The session's previous sandbox vanished: restore its synced work. */
  recreated: boolean;
}

export interface SessionManagerOptions {
  projectId: string;
  store: StateStore;
  log: Logger;
  /** What the user is told about; a face renders it. */
  notify: Notify;
  /** Resolved on first use: the Daytona SDK is heavy, and set-up errors belong to tool calls. */
  provider: () => Promise<SandboxProvider>;
  /** OpenCode's `info.parentID` of a session (undefined for a root session). */
  parentOf?: (sessionID: string) => Promise<string | undefined>;
  /** Seeds a new or re-created sandbox's repository; returns fields to persist. */
  seed?: (sandbox: Sandbox, ctx: SeedContext) => Promise<Partial<SessionRecord> | void>;
  /** A session's git fields as the host repository records them (for a rebuild after a lost state file). */
  recover?: (sessionID: string) => Promise<Partial<SessionRecord>>;
  /** Environment for every command in the sandboxes (configured by the user). */
  env?: Record<string, string>;
  /** Tests: stop at named points (see util/phases.ts). */
  phases?: PhaseHook;
  /** After this long without a sandbox, the user is told one is being started (default 2 s). */
  slowStartMs?: number;
  /** An unmapped sandbox is reported only when still unmapped this much later (default 5 s). */
  orphanConfirmMs?: number;
}

const TOUCH_INTERVAL_MS = 60_000;
const SLOW_START_MS = 2_000;
/**
 * Another OpenCode process on the project records a sandbox a moment after it is made (two
 * processes starting four sessions at once reported each other's): a sandbox still unmapped
 * this much later, and not still being made (Daytona: "creating" can last long), is one
 * nobody records.
 */
const ORPHAN_CONFIRM_MS = 5_000;
const MAX_DEPTH = 16;

export class SessionManager {
  private readonly raw = new Map<string, Sandbox>();
  private readonly wrapped = new Map<string, Sandbox>();
  private readonly inflight = new Map<string, Promise<Sandbox>>();
  private readonly parents = new Map<string, string | null>();
  private readonly touched = new Map<string, number>();
  /** Roots whose stopped sandbox is being started (they have their own notice). */
  private readonly starting = new Set<string>();
  /** Root sessions deleted in this process: a tool call still in flight must not make them a new sandbox. */
  private readonly deleted = new Set<string>();
  private preflighted = false;
  private orphansChecked = false;
  private disposed = false;
  /** The rebuild after a corrupt state file: every session resolving meanwhile waits for it. */
  private rebuilt: Promise<void> | undefined;

  constructor(private readonly options: SessionManagerOptions) {}

  /** Remember a parent learnt from a session event (saves a lookup later). */
  noteParent(sessionID: string, parentID: string | undefined) {
    this.parents.set(sessionID, parentID ?? null);
  }

  async rootOf(sessionID: string): Promise<string> {
    let id = sessionID;
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      const parent = await this.parentOf(id);
      if (!parent || parent === id) return id;
      id = parent;
    }
    return id;
  }

  private async parentOf(sessionID: string): Promise<string | undefined> {
    if (this.parents.has(sessionID)) return this.parents.get(sessionID) ?? undefined;
    const stored = this.raw.has(sessionID) ? undefined : (await this.options.store.get(sessionID))?.parentId;
    const parent = stored ?? (await this.options.parentOf?.(sessionID).catch(() => undefined));
    this.parents.set(sessionID, parent ?? null);
    return parent;
  }

  /** The record of a session's root, without creating anything. */
  async existing(sessionID: string): Promise<SessionRecord | undefined> {
    return this.options.store.get(await this.rootOf(sessionID));
  }

  /** True when this process holds a live handle for the session's sandbox. */
  isLive(rootID: string): boolean {
    return this.raw.has(rootID);
  }

  async sandboxFor(sessionID: string): Promise<Sandbox> {
    const root = await this.rootOf(sessionID);
    if (root !== sessionID) void this.recordSubagent(sessionID, root);
    const raw = await this.rawFor(root);
    let handle = this.wrapped.get(root);
    if (!handle) this.wrapped.set(root, (handle = this.wrap(root, raw)));
    return handle;
  }

  private rawFor(root: string): Promise<Sandbox> {
    if (this.deleted.has(root))
      return Promise.reject(new SandboxError("sandbox_not_found", `Session ${root} was deleted: its sandbox is removed and no new one is made`));
    const cached = this.raw.get(root);
    if (cached) {
      this.touch(root);
      return Promise.resolve(cached);
    }
    let pending = this.inflight.get(root);
    if (!pending) {
      // A creation or seeding that takes a while is told, once: otherwise the first tool call just hangs.
      const slow = setTimeout(() => {
        if (!this.starting.has(root)) this.options.notify({ kind: "sandbox_creating", sessionID: root });
      }, this.options.slowStartMs ?? SLOW_START_MS);
      slow.unref?.();
      pending = this.resolve(root).finally(() => {
        clearTimeout(slow);
        this.starting.delete(root);
        this.inflight.delete(root);
      });
      this.inflight.set(root, pending);
    }
    return pending;
  }

  private async resolve(root: string): Promise<Sandbox> {
    const { store, log } = this.options;
    const provider = await this.options.provider();
    if (!this.preflighted) {
      await provider.preflight();
      this.preflighted = true;
    }
    let record = await store.get(root);
    if (store.takeCorrupt()) {
      const rebuilt: Promise<void> = this.rebuild(provider).catch((error: unknown) => {
        if (this.rebuilt === rebuilt) this.rebuilt = undefined;
        throw error;
      });
      this.rebuilt = rebuilt;
    }
    if (this.rebuilt && !record) {
      await this.rebuilt;
      record = await store.get(root);
    }
    record ??= await store.migrateFromOtherProjects(root);
    let sandbox: Sandbox;
    let recreated = false;
    if (record && record.provider === provider.name) {
      try {
        sandbox = await this.reconnect(provider, record.sandboxId, root);
        log.debug(`reconnected to sandbox ${record.sandboxId}`, root);
      } catch (error) {
        if (!isSandboxError(error, "sandbox_not_found")) throw error;
        log.warn(`sandbox ${record.sandboxId} is gone; creating a new one`, root);
        this.options.notify({ kind: "sandbox_recreated", sessionID: root });
        ({ sandbox, record } = await this.create(provider, root, record));
        recreated = true;
      }
    } else {
      if (record) log.warn(`session was on provider ${record.provider}; now ${provider.name}: new sandbox`, root);
      ({ sandbox, record } = await this.create(provider, root, undefined));
    }
    // The record read (or written) above is passed along, not read again.
    if (!record.seededAt) await this.seed(sandbox, root, record, recreated);
    this.raw.set(root, sandbox);
    // Once per process, when the map is settled (rebuilt if it was corrupt).
    if (!this.orphansChecked) {
      this.orphansChecked = true;
      void this.reportOrphans(provider);
    }
    return sandbox;
  }

  private async reconnect(provider: SandboxProvider, id: string, root: string): Promise<Sandbox> {
    try {
      return await provider.connect(id);
    } catch (error) {
      if (!isSandboxError(error, "not_running")) throw error;
      this.options.log.info(`starting stopped sandbox ${id}${error.state ? ` (${error.state})` : ""}`, root);
      this.starting.add(root);
      this.options.notify({ kind: "sandbox_starting", sessionID: root, archived: error.state === "archived" });
      await provider.start(id);
      return provider.connect(id);
    }
  }

  private async create(
    provider: SandboxProvider,
    root: string,
    previous: SessionRecord | undefined,
  ): Promise<{ sandbox: Sandbox; record: SessionRecord }> {
    const { store, log, projectId } = this.options;
    const sandbox = await provider.create({
      labels: { plugin: LABEL_PLUGIN, project: projectId, session: root },
      env: this.options.env,
    });
    await reach(this.options.phases, "create:made");
    const now = new Date().toISOString();
    // Keep branch and sync fields of a re-created session: its work lives on.
    const record: SessionRecord = {
      ...previous,
      provider: provider.name,
      sandboxId: sandbox.id,
      createdAt: previous?.createdAt ?? now,
      lastUsedAt: now,
      seededAt: undefined,
    };
    await store.set(root, record);
    log.info(`created sandbox ${sandbox.id} (${provider.name})`, root);
    if (!previous) this.options.notify({ kind: "sandbox_ready", sessionID: root, provider: provider.name });
    return { sandbox, record };
  }

  /**
   * Removes every sandbox still labelled for a deleted session: one made by a process
   * killed before it recorded it, or one whose record was lost. Not done at creation:
   * a labelled sandbox nobody recorded may be another process's, in use right now.
   */
  private async removeStrays(provider: SandboxProvider, root: string) {
    const { log, projectId } = this.options;
    try {
      for (const info of await provider.list({ plugin: LABEL_PLUGIN, project: projectId, session: root })) {
        await provider.delete(info.id);
        log.info(`removed sandbox ${info.id}, made for this session but not recorded`, root);
      }
    } catch (error) {
      log.warn(`could not look for unrecorded sandboxes of the session: ${(error as Error).message}`, root);
    }
  }

  private async seed(sandbox: Sandbox, root: string, record: SessionRecord, recreated: boolean) {
    const fields = this.options.seed ? await this.options.seed(sandbox, { sessionID: root, record, recreated }) : undefined;
    await this.options.store.patch(root, { ...fields, seededAt: new Date().toISOString() });
  }

  private async recordSubagent(sessionID: string, root: string) {
    const { store } = this.options;
    if ((await store.get(sessionID))?.parentId) return;
    const rootRecord = await store.get(root);
    if (!rootRecord) return;
    const now = new Date().toISOString();
    await store.set(sessionID, {
      provider: rootRecord.provider,
      sandboxId: rootRecord.sandboxId,
      parentId: root,
      createdAt: now,
      lastUsedAt: now,
    });
  }

  /**
   * Rebuild the map after a corrupt state file: sandboxes from the provider's labels,
   * each session's branch and sync point from the host repository's refs.
   */
  private async rebuild(provider: SandboxProvider) {
    const { store, log, projectId } = this.options;
    const found = await provider.list({ plugin: LABEL_PLUGIN, project: projectId });
    const recovered = new Map<string, Partial<SessionRecord>>();
    for (const info of found) {
      const session = info.labels.session;
      if (!session || recovered.has(session)) continue;
      const fields = await this.options.recover?.(session).catch((error: unknown) => {
        log.warn(`could not read the session's branch back from the repository: ${(error as Error).message}`, session);
        return {};
      });
      recovered.set(session, fields ?? {});
    }
    const now = new Date().toISOString();
    const added: string[] = [];
    await store.update((state) => {
      for (const info of found) {
        const session = info.labels.session;
        if (!session || state.sessions[session]) continue;
        const fields = recovered.get(session) ?? {};
        state.sessions[session] = { ...fields, provider: provider.name, sandboxId: info.id, createdAt: now, lastUsedAt: now, seededAt: now };
        added.push(
          `${session} → sandbox ${info.id}, ` +
            (fields.branch ? `branch ${fields.branch}` : "no branch found") +
            (fields.lastSyncedCommit ? `, last synced ${fields.lastSyncedCommit.slice(0, 12)}` : ""),
        );
      }
    });
    log.warn(`rebuilt the session map from ${found.length} sandbox(es) found by label${added.length ? `; recovered: ${added.join("; ")}` : ""}`);
    this.options.notify({ kind: "state_rebuilt", found: found.length });
  }

  private touch(root: string) {
    const now = Date.now();
    if (now - (this.touched.get(root) ?? 0) < TOUCH_INTERVAL_MS) return;
    this.touched.set(root, now);
    void this.options.store.patch(root, { lastUsedAt: new Date(now).toISOString() }).catch(() => {});
  }

  /** A stable handle: a call that fails because the sandbox went away refreshes it and retries once. */
  private wrap(root: string, initial: Sandbox): Sandbox {
    return stableHandle(initial, {
      current: () => this.rawFor(root),
      gone: (sandbox, error) => {
        this.options.log.warn(`sandbox went away (${error.message}); reconnecting`, root);
        if (this.raw.get(root) === sandbox) this.raw.delete(root);
      },
    });
  }

  private async reportOrphans(provider: SandboxProvider) {
    const unmapped = () => findOrphanInfos(provider, this.options.store, { plugin: LABEL_PLUGIN, project: this.options.projectId });
    try {
      const first = await unmapped();
      if (!first.length) return;
      await new Promise((r) => setTimeout(r, this.options.orphanConfirmMs ?? ORPHAN_CONFIRM_MS).unref?.());
      if (this.disposed) return;
      // A session of this process being created right now (made, not yet recorded) is no orphan. One
      // that has its sandbox may have another, older one: made by a process killed before recording it.
      const again = new Set((await unmapped()).filter((s) => s.state !== "starting" && !this.inflight.has(s.labels.session ?? "")).map((s) => s.id));
      const ids = first.map((s) => s.id).filter((id) => again.has(id));
      if (!ids.length) return;
      this.options.log.warn(`sandboxes of this project used by no session (kept): ${ids.join(", ")}`);
      this.options.notify({ kind: "orphans", provider: provider.name, ids });
    } catch (error) {
      this.options.log.warn(`could not look for unused sandboxes: ${(error as Error).message}`);
    }
  }

  /** Deletes the session's sandbox and mapping. A subagent only loses its mapping. */
  async delete(sessionID: string): Promise<void> {
    const { store, log } = this.options;
    const record = await store.get(sessionID);
    this.parents.delete(sessionID);
    if (!record) return;
    if (record.parentId) {
      await store.remove(sessionID);
      return;
    }
    this.deleted.add(sessionID);
    await this.inflight.get(sessionID)?.catch(() => {});
    const provider = await this.options.provider();
    await provider.delete(record.sandboxId);
    await this.removeStrays(provider, sessionID);
    this.raw.delete(sessionID);
    this.wrapped.delete(sessionID);
    await store.update((state) => {
      for (const [id, r] of Object.entries(state.sessions)) if (id === sessionID || r.parentId === sessionID) delete state.sessions[id];
    });
    log.info(`deleted sandbox ${record.sandboxId}`, sessionID);
  }

  /** Root sessions with a live handle in this process. */
  liveSessions(): string[] {
    return [...this.raw.keys()];
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    await Promise.allSettled([...this.inflight.values()]);
    if (this.raw.size || this.preflighted) await (await this.options.provider()).dispose?.();
  }
}
