/** Sync triggers: root idle (deduplicated, debounced), not subagents, busy cancels, dispose awaits. */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import type { GitSync, SyncReason, SyncResult } from "../../.opencode/plugin/sandbox/git/service.js";
import { gitSyncPlugin } from "../../.opencode/plugin/sandbox/plugins/git-sync.js";
import { ConfigSchema } from "../../.opencode/plugin/sandbox/config.js";

function setup(options: { debounceMs?: number; slowMs?: number } = {}) {
  const calls: { id: string; reason: SyncReason; connect?: boolean }[] = [];
  const titles = new Map<string, string>();
  let inflight: Promise<unknown>[] = [];
  let completed = 0;
  const fake = {
    noteTitle: (id: string, t?: string) => t && titles.set(id, t),
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
  const plugin = gitSyncPlugin({
    gitSync: fake,
    manager: { isLive: (id: string) => live.has(id), rootOf: async (id: string) => parents[id] ?? id, liveSessions: () => [...live] } as never,
    config: ConfigSchema.parse({ sync: { debounceMs: options.debounceMs ?? 20 } }),
    log: silentLogger,
    toast: { show() {}, flush: async () => {} },
  });
  const ev = (type: string, properties: Record<string, unknown>) => plugin.hooks.event({ event: { type, properties } });
  return { plugin, calls, titles, ev, completed: () => completed };
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
    const { plugin, calls, ev, completed } = setup({ debounceMs: 10_000, slowMs: 50 });
    await ev("session.idle", { sessionID: "root" });
    const disposed = plugin.hooks.dispose();
    await wait(50);
    await disposed;
    expect(calls.map((c) => `${c.id}:${c.reason}`).sort()).toEqual(["other:shutdown", "root:shutdown"]);
    expect(completed()).toBe(2);
  });

  it("remembers titles and syncs on demand through the root session", async () => {
    const { plugin, calls, titles, ev } = setup();
    await ev("session.updated", { info: { id: "root", title: "Fix the login" } });
    expect(titles.get("root")).toBe("Fix the login");
    await plugin.syncSession("sub");
    expect(calls).toEqual([{ id: "root", reason: "manual", connect: true }]);
  });
});
