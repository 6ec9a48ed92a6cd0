/** Sync triggers: root idle (deduplicated, debounced), not subagents, busy cancels, dispose awaits; OpenCode's events map onto them. */
import { existsSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConfigSchema } from "../../.opencode/plugin/sandbox/config.js";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { filesReposDir } from "../../.opencode/plugin/sandbox/core/paths.js";
import type { GitSync, SyncReason, SyncResult } from "../../.opencode/plugin/sandbox/git/service.js";
import { onEvent, type Event } from "../../.opencode/plugin/sandbox/opencode/events.js";
import type { Notice } from "../../.opencode/plugin/sandbox/service/notices.js";
import { ProjectService } from "../../.opencode/plugin/sandbox/service/project.js";
import { SyncTriggers } from "../../.opencode/plugin/sandbox/service/sync-triggers.js";
import { DirProvider } from "../support/dir-provider.js";

function setup(options: { debounceMs?: number; slowMs?: number } = {}) {
  const calls: { id: string; reason: SyncReason; connect?: boolean }[] = [];
  const noted: { id: string; title?: string }[] = [];
  let inflight: Promise<unknown>[] = [];
  let completed = 0;
  const fake = {
    sync(id: string, reason: SyncReason, o: { connect?: boolean } = {}): Promise<SyncResult> {
      calls.push({ id, reason, connect: o.connect });
      const done = (r: (v: SyncResult) => void) => {
        completed++;
        r({ kind: "skipped", why: "test" });
      };
      const p = new Promise<SyncResult>((r) => (options.slowMs ? setTimeout(() => done(r), options.slowMs) : done(r)));
      inflight.push(p);
      return p;
    },
    async flush() {
      await Promise.all(inflight);
      inflight = [];
    },
  } as unknown as GitSync;
  const parents: Record<string, string> = { sub: "root" };
  const live = new Set(["root", "other"]);
  const triggers = new SyncTriggers({
    gitSync: fake,
    manager: { isLive: (id: string) => live.has(id), rootOf: async (id: string) => parents[id] ?? id, liveSessions: () => [...live] },
    config: ConfigSchema.parse({ sync: { debounceMs: options.debounceMs ?? 20 } }),
    log: silentLogger,
    notify: () => {},
  });
  const service = {
    noteSession: (info: { id: string; title?: string }) => void noted.push({ id: info.id, title: info.title }),
    idle: (id: string) => triggers.idle(id),
    busy: (id: string) => triggers.busy(id),
    active: (id: string) => triggers.active(id),
    deleted: () => {},
  };
  const ev = async (type: string, properties: Record<string, unknown>) => onEvent(service, { type, properties } as Event);
  return { triggers, calls, noted, ev, completed: () => completed };
}

// The debounce runs on fake timers: a stall of the machine between two events must not fire it.
const wait = (ms: number) => vi.advanceTimersByTimeAsync(ms);

describe("git sync triggers", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("one sync per root idle, however many idle events say so", async () => {
    const { calls, ev } = setup();
    await ev("session.status", { sessionID: "root", status: { type: "idle" } });
    await ev("session.idle", { sessionID: "root" });
    await wait(60);
    await ev("session.idle", { sessionID: "root" }); // the same idle, reported late
    await wait(60);
    expect(calls).toEqual([{ id: "root", reason: "idle", connect: undefined }]);
    await ev("session.status", { sessionID: "root", status: { type: "busy" } });
    await ev("session.idle", { sessionID: "root" });
    await wait(60);
    expect(calls.length).toBe(2);
  });

  it("a subagent going idle mid-turn does not sync; nor does a session without a sandbox here", async () => {
    const { calls, ev } = setup();
    await ev("session.idle", { sessionID: "sub" });
    await ev("session.idle", { sessionID: "nosandbox" });
    await wait(60);
    expect(calls).toEqual([]);
  });

  it("busy within the debounce cancels; trailing message updates do not", async () => {
    const { calls, ev } = setup({ debounceMs: 40 });
    await ev("session.idle", { sessionID: "root" });
    await ev("session.status", { sessionID: "root", status: { type: "busy" } });
    await wait(80);
    expect(calls).toEqual([]);
    await ev("session.idle", { sessionID: "root" });
    await ev("message.updated", { info: { sessionID: "root" } });
    await wait(80);
    expect(calls.length).toBe(1);
  });

  it("dispose syncs every live session and waits for the syncs to finish", async () => {
    const { triggers, calls, ev, completed } = setup({ debounceMs: 10_000, slowMs: 50 });
    await ev("session.idle", { sessionID: "root" });
    const disposed = triggers.dispose();
    await wait(50);
    await disposed;
    expect(calls.map((c) => `${c.id}:${c.reason}`).sort()).toEqual(["other:shutdown", "root:shutdown"]);
    expect(completed()).toBe(2);
  });

  it("session events tell titles and parents", async () => {
    const { noted, ev } = setup();
    await ev("session.updated", { info: { id: "root", title: "Fix the login" } });
    expect(noted).toEqual([{ id: "root", title: "Fix the login" }]);
  });
});

describe("ProjectService.sync", () => {
  it("a failed sync is told once: one notice, which the face logs as it renders it", async () => {
    const notices: Notice[] = [];
    const lines: string[] = [];
    const log = { ...silentLogger, error: (m: string) => void lines.push(m), warn: (m: string) => void lines.push(m) };
    const failing = { sync: () => Promise.reject(new Error("disk full")), flush: async () => {} } as unknown as GitSync;
    const triggers = new SyncTriggers({
      gitSync: failing,
      manager: { isLive: () => true, rootOf: async (id: string) => id, liveSessions: () => [] },
      config: ConfigSchema.parse({}),
      log,
      notify: (n) => void notices.push(n),
    });
    await expect(triggers.run("s1", "manual")).rejects.toThrow("disk full");
    expect(notices).toEqual([{ kind: "sync_failed", sessionID: "s1", message: "disk full" }]);
    expect(lines).toEqual([]);
  });

  it("syncs on demand through the root session", async () => {
    const dir = await mkdtemp(join(tmpdir(), "svc-"));
    // A key of its own: the real data home must not gain a private repository for it.
    const projectId = `p-${basename(dir)}`;
    const service = new ProjectService({
      projectId,
      worktree: dir,
      directory: dir,
      config: ConfigSchema.parse({ sync: { debounceMs: 0 } }),
      log: silentLogger,
      notify: () => {},
      parentOf: async (id) => (id === "sub" ? "root" : undefined),
      // Outside the folder: a folder without git is copied into the sandbox.
      provider: async () => new DirProvider(`${dir}-sandboxes`),
      stateDir: `${dir}-state`,
      filesDir: `${dir}-files`,
    });
    await service.sandboxFor("root");
    // The sub session has no sandbox of its own: it syncs the root's (a folder without git:
    // into its private repository; nothing changed since the seed).
    expect(await service.sync("sub")).toMatchObject({ kind: "synced", outcome: { kind: "up_to_date", branch: expect.stringMatching(/^opencode\/\d+$/) } });
    expect(await service.sync("nobody")).toEqual({ kind: "skipped", why: "the session has no sandbox" });
    await service.dispose();
    // The folder's work went to the injected place, never into the real data home.
    expect(existsSync(join(`${dir}-files`, `${projectId}.git`))).toBe(true);
    expect(existsSync(join(filesReposDir(), `${projectId}.git`))).toBe(false);
  });
});
