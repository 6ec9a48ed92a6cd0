import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { until } from "../support/until.js";
import { describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { SessionManager, type SeedContext } from "../../.opencode/plugin/sandbox/core/session-manager.js";
import { StateStore } from "../../.opencode/plugin/sandbox/core/state-store.js";
import { words, type Notify } from "../../.opencode/plugin/sandbox/service/notices.js";
import { SandboxError } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { DirProvider } from "../support/dir-provider.js";

interface Setup {
  dir?: string;
  provider?: DirProvider;
  parents?: Record<string, string>;
  slowStartMs?: number;
}

async function setup({ dir, provider, parents = {}, slowStartMs }: Setup = {}) {
  dir ??= await mkdtemp(join(tmpdir(), "sm-"));
  provider ??= new DirProvider(dir);
  const toasts: { message: string; variant: string }[] = [];
  const notify: Notify = (n) => {
    const w = words(n);
    if (w) toasts.push({ message: w.text, variant: w.level });
  };
  const seeds: SeedContext[] = [];
  let manager: SessionManager;
  const store = new StateStore({ projectId: "proj", worktree: "/w", log: silentLogger, dir: join(dir, "state") });
  const parentLookups: string[] = [];
  manager = new SessionManager({
    projectId: "proj",
    store,
    log: silentLogger,
    notify,
    provider: async () => provider!,
    parentOf: async (id) => {
      parentLookups.push(id);
      return parents[id];
    },
    seed: async (_sandbox, ctx) => {
      seeds.push(ctx);
      return { baseCommit: "abc" };
    },
    slowStartMs,
    orphanConfirmMs: 50,
  });
  return { dir, provider, manager, store, toasts, seeds, parentLookups };
}

describe("SessionManager", () => {
  it("20 concurrent first calls create exactly one sandbox", async () => {
    const { manager, provider, seeds } = await setup();
    const handles = await Promise.all(Array.from({ length: 20 }, () => manager.sandboxFor("ses_a")));
    expect(provider.calls.filter((c) => c === "create")).toHaveLength(1);
    expect(new Set(handles.map((h) => h.id)).size).toBe(1);
    expect(seeds).toHaveLength(1);
  });

  it("persists the mapping with a seeded record and toasts once", async () => {
    const { manager, store, toasts } = await setup();
    const sb = await manager.sandboxFor("ses_a");
    await manager.sandboxFor("ses_a");
    expect(await store.get("ses_a")).toMatchObject({ provider: "dir", sandboxId: sb.id, baseCommit: "abc", seededAt: expect.any(String) });
    expect(toasts.filter((t) => t.variant === "success")).toHaveLength(1);
  });

  it("a cached, running handle costs no provider call per tool call", async () => {
    const { manager, provider } = await setup();
    const sb = await manager.sandboxFor("ses_a");
    // Once per process, in the background: the look for unused sandboxes.
    await until(() => provider.calls.includes("list"), "the orphan check");
    const before = provider.calls.length;
    for (let i = 0; i < 10; i++) await (await manager.sandboxFor("ses_a")).stat(sb.projectDir);
    expect(provider.calls.length).toBe(before);
  });

  it("a subagent session works in its root session's sandbox", async () => {
    const { manager, provider, store } = await setup({ parents: { ses_child: "ses_root", ses_grandchild: "ses_child" } });
    const root = await manager.sandboxFor("ses_root");
    const child = await manager.sandboxFor("ses_child");
    const grandchild = await manager.sandboxFor("ses_grandchild");
    expect(child.id).toBe(root.id);
    expect(grandchild.id).toBe(root.id);
    expect(provider.calls.filter((c) => c === "create")).toHaveLength(1);
    // Recorded in the background: wait for it (the bound only catches a hang).
    await vi.waitFor(async () => expect(await store.get("ses_child")).toMatchObject({ parentId: "ses_root", sandboxId: root.id }), { timeout: 30_000 });
  });

  it("sessions are independent", async () => {
    const { manager } = await setup();
    const [a, b] = await Promise.all([manager.sandboxFor("ses_a"), manager.sandboxFor("ses_b")]);
    expect(a.id).not.toBe(b.id);
    await a.writeFile(join(a.projectDir, "f"), "A");
    expect(await b.stat(join(b.projectDir, "f"))).toBeNull();
  });

  it("after a restart the mapping on disk reconnects to the same sandbox", async () => {
    const first = await setup();
    const sb = await first.manager.sandboxFor("ses_a");
    const second = await setup({ dir: first.dir, provider: first.provider });
    const again = await second.manager.sandboxFor("ses_a");
    expect(again.id).toBe(sb.id);
    expect(first.provider.calls.filter((c) => c === "create")).toHaveLength(1);
    expect(second.seeds).toHaveLength(0);
  });

  it("reports sandboxes of the project that no session uses, once, and keeps them", async () => {
    const first = await setup();
    const used = await first.manager.sandboxFor("ses_a");
    const stray = await first.provider.create({ labels: { plugin: "opencode-sandboxed", project: "proj", session: "ses_killed" } });
    await first.provider.create({ labels: { plugin: "opencode-sandboxed", project: "other", session: "ses_x" } });
    const second = await setup({ dir: first.dir, provider: first.provider });
    await second.manager.sandboxFor("ses_a");
    await until(() => second.toasts.some((t) => t.message.includes("used by no session")), "the orphan report");
    const report = second.toasts.filter((t) => t.message.includes("used by no session"));
    expect(report).toEqual([{ message: expect.stringContaining(`1 dir sandbox(es) of this project are used by no session (left by a crash or a lost record): ${stray.id}.`), variant: "warning" }]);
    expect(report[0]!.message).not.toContain(used.id);
    expect(first.provider.calls).not.toContain("delete");
  });

  it("an unrecorded sandbox of a session that has its own is still an orphan (a process killed between making and recording it)", async () => {
    const first = await setup();
    const used = await first.manager.sandboxFor("ses_a");
    const stray = await first.provider.create({ labels: { plugin: "opencode-sandboxed", project: "proj", session: "ses_a" } });
    const second = await setup({ dir: first.dir, provider: first.provider });
    expect((await second.manager.sandboxFor("ses_a")).id).toBe(used.id);
    await until(() => second.toasts.some((t) => t.message.includes("used by no session")), "the orphan report");
    expect(second.toasts.filter((t) => t.message.includes("used by no session"))).toEqual([{ message: expect.stringContaining(`: ${stray.id}.`), variant: "warning" }]);
  });

  it("a sandbox still being made (Daytona's long 'creating') is no orphan yet", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sm-"));
    let making = "";
    const provider = new (class extends DirProvider {
      override async list(labels: Record<string, string>) {
        return (await super.list(labels)).map((s) => (s.id === making ? { ...s, state: "starting" as const } : s));
      }
    })(dir);
    const first = await setup({ dir, provider });
    await first.manager.sandboxFor("ses_a");
    making = (await provider.create({ labels: { plugin: "opencode-sandboxed", project: "proj", session: "ses_theirs" } })).id;
    const second = await setup({ dir, provider });
    const lists = () => provider.calls.filter((c) => c === "list").length;
    const before = lists();
    await second.manager.sandboxFor("ses_a");
    await until(() => lists() >= before + 2, "the orphan check and its confirming look");
    await new Promise((r) => setTimeout(r, 50));
    expect(second.toasts.filter((t) => t.message.includes("used by no session"))).toEqual([]);
  });

  it("a sandbox another OpenCode process records a moment after making it is no orphan (two processes starting at once reported each other's)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sm-"));
    let looks = 0;
    let record: (() => Promise<void>) | undefined;
    // The other process records its sandbox just after this one first looked for unmapped ones.
    const provider = new (class extends DirProvider {
      override async list(labels: Record<string, string>) {
        const found = await super.list(labels);
        if (record && ++looks === 1) await record();
        return found;
      }
    })(dir);
    const first = await setup({ dir, provider });
    await first.manager.sandboxFor("ses_a");
    const theirs = await provider.create({ labels: { plugin: "opencode-sandboxed", project: "proj", session: "ses_theirs" } });
    const now = new Date().toISOString();
    record = () => first.store.set("ses_theirs", { provider: provider.name, sandboxId: theirs.id, createdAt: now, lastUsedAt: now });
    const second = await setup({ dir, provider });
    await second.manager.sandboxFor("ses_a");
    await until(() => looks >= 2, "the orphan check and its confirming look");
    await new Promise((r) => setTimeout(r, 50));
    expect(second.toasts.filter((t) => t.message.includes("used by no session"))).toEqual([]);
  });

  it("a sandbox another session of this process is creating right now is no orphan (50 sessions starting at once reported several)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sm-"));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // ses_b's sandbox exists (labelled) but is not recorded yet while ses_a is ready and its process looks for orphans.
    const provider = new (class extends DirProvider {
      override async create(spec: Parameters<DirProvider["create"]>[0]) {
        const made = await super.create(spec);
        if (spec.labels?.session === "ses_b") await gate;
        return made;
      }
    })(dir);
    const { manager, toasts } = await setup({ dir, provider });
    const b = manager.sandboxFor("ses_b");
    await until(() => provider.calls.includes("create"), "ses_b's sandbox made");
    await manager.sandboxFor("ses_a");
    await until(() => provider.calls.includes("list"), "the orphan check");
    release();
    await b;
    await new Promise((r) => setTimeout(r, 50));
    expect(toasts.filter((t) => t.message.includes("used by no session"))).toEqual([]);
  });

  it("a deleted session gets no new sandbox from a tool call still in flight (50 busy sessions deleted at once left 16 sandboxes behind)", async () => {
    const { manager, provider } = await setup();
    const before = await manager.sandboxFor("ses_a");
    await manager.delete("ses_a");
    // A handle taken before the deletion, and a new request after it: both refuse, typed, and make nothing.
    await expect(before.stat(before.projectDir)).rejects.toMatchObject({ kind: "sandbox_not_found", message: expect.stringContaining("ses_a was deleted") });
    await expect(manager.sandboxFor("ses_a")).rejects.toMatchObject({ kind: "sandbox_not_found" });
    expect(provider.calls.filter((c) => c === "create")).toHaveLength(1);
    expect(await provider.list({ session: "ses_a" })).toEqual([]);
  });

  it("after a restart a stopped sandbox is started", async () => {
    const first = await setup();
    const sb = await first.manager.sandboxFor("ses_a");
    await first.provider.stop(sb.id);
    const second = await setup({ dir: first.dir, provider: first.provider });
    expect((await second.manager.sandboxFor("ses_a")).id).toBe(sb.id);
    expect(first.provider.calls).toContain("start");
    expect(second.toasts).toContainEqual({ message: expect.stringMatching(/^Starting this session's stopped sandbox\. Servers it ran before are not running/), variant: "info" });
  });

  it("a vanished sandbox is re-created from the session's record, with a warning", async () => {
    const first = await setup();
    const sb = await first.manager.sandboxFor("ses_a");
    await first.store.patch("ses_a", { branchNumber: 3, branch: "opencode/3", lastSyncedCommit: "def" });
    first.provider.vanish(sb.id);
    const second = await setup({ dir: first.dir, provider: first.provider });
    const fresh = await second.manager.sandboxFor("ses_a");
    expect(fresh.id).not.toBe(sb.id);
    expect(second.seeds).toEqual([expect.objectContaining({ recreated: true, record: expect.objectContaining({ branch: "opencode/3", lastSyncedCommit: "def" }) })]);
    expect(await second.store.get("ses_a")).toMatchObject({ sandboxId: fresh.id, branchNumber: 3 });
    expect(second.toasts).toEqual([expect.objectContaining({ variant: "warning" })]);
  });

  it("a call that fails because the sandbox went away refreshes the handle and retries once", async () => {
    const { manager, provider } = await setup();
    const sb = await manager.sandboxFor("ses_a");
    const oldId = sb.id;
    // The handle still points at the old sandbox; make its calls fail as a gone sandbox would.
    provider.vanish(oldId);
    let failed = false;
    const raw = (manager as unknown as { raw: Map<string, { exec: Function }> }).raw.get("ses_a")!;
    raw.exec = async () => {
      failed = true;
      throw new SandboxError("sandbox_not_found", "gone");
    };
    const result = await sb.exec("echo hi");
    expect(failed).toBe(true);
    expect(result.output.trim()).toBe("hi");
    expect(sb.id).not.toBe(oldId);
  });

  it("an error that is not about the sandbox is not retried", async () => {
    const { manager } = await setup();
    const sb = await manager.sandboxFor("ses_a");
    await expect(sb.readFile(join(sb.projectDir, "missing"))).rejects.toMatchObject({ kind: "file_not_found" });
  });

  it("a session that never used a tool has no sandbox", async () => {
    const { manager, provider } = await setup();
    expect(await manager.existing("ses_quiet")).toBeUndefined();
    expect(provider.calls).not.toContain("create");
  });

  it("delete removes the sandbox and the mapping of the session and its subagents", async () => {
    const { manager, provider, store } = await setup({ parents: { ses_child: "ses_a" } });
    const { id } = await manager.sandboxFor("ses_a");
    await manager.sandboxFor("ses_child");
    await vi.waitFor(async () => expect(await store.get("ses_child")).toBeDefined(), { timeout: 30_000 });
    await manager.delete("ses_a");
    expect(await provider.list({})).toEqual([]);
    expect((await store.read()).sessions).toEqual({});
    await expect(provider.get(id)).rejects.toMatchObject({ kind: "sandbox_not_found" });
  });

  it("a failing preflight reaches the caller as a typed error and creates nothing", async () => {
    const { manager, provider } = await setup();
    provider.preflight = async () => {
      throw new SandboxError("unavailable", "bubblewrap is not installed: apt-get install bubblewrap");
    };
    await expect(manager.sandboxFor("ses_a")).rejects.toMatchObject({ kind: "unavailable", message: expect.stringContaining("apt-get install bubblewrap") });
    expect(provider.calls).not.toContain("create");
  });

  it("a corrupt state file is rebuilt from the provider's labels", async () => {
    const first = await setup();
    const sb = await first.manager.sandboxFor("ses_a");
    await until(() => first.provider.calls.includes("list"), "the first process's orphan check read the state");
    await writeFile(first.store.path, "garbage");
    const second = await setup({ dir: first.dir, provider: first.provider });
    expect((await second.manager.sandboxFor("ses_a")).id).toBe(sb.id);
    expect(first.provider.calls.filter((c) => c === "create")).toHaveLength(1);
    expect(second.toasts).toEqual([expect.objectContaining({ variant: "warning" })]);
  });
});

/** A provider whose create and start wait until the test opens them. */
class GatedProvider extends DirProvider {
  private opened!: () => void;
  gate = new Promise<void>((r) => (this.opened = r));
  open = () => this.opened();
  override async create(...args: Parameters<DirProvider["create"]>) {
    await this.gate;
    return super.create(...args);
  }
  override async start(id: string) {
    await this.gate;
    return super.start(id);
  }
}

describe("a sandbox that takes a while is told", () => {
  const STARTING = "Starting this session's sandbox…";

  it("a creation still running after the delay: told once, before it is ready", async () => {
    const provider = new GatedProvider(await mkdtemp(join(tmpdir(), "sm-")));
    const { manager, toasts } = await setup({ provider, slowStartMs: 0 });
    const calls = [manager.sandboxFor("ses_a"), manager.sandboxFor("ses_a")];
    await until(() => toasts.some((t) => t.message === STARTING), "the starting notice");
    provider.open();
    await Promise.all(calls);
    expect(toasts.map((t) => t.message)).toEqual([STARTING, "Sandbox ready (dir)."]);
  });

  it("a creation done within the delay: nothing told (the timer ends with it)", async () => {
    const { manager, toasts } = await setup({ slowStartMs: 2_000 });
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      await manager.sandboxFor("ses_a");
      vi.advanceTimersByTime(60_000);
    } finally {
      vi.useRealTimers();
    }
    expect(toasts.map((t) => t.message)).toEqual(["Sandbox ready (dir)."]);
  });

  it("a stopped sandbox being started: its own notice only, not both", async () => {
    const first = await setup();
    const sb = await first.manager.sandboxFor("ses_a");
    const provider = new GatedProvider(first.dir);
    Object.assign(provider, { sandboxes: (first.provider as unknown as { sandboxes: unknown }).sandboxes });
    await provider.stop(sb.id);
    const second = await setup({ dir: first.dir, provider, slowStartMs: 2_000 });
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    let call: Promise<{ id: string }>;
    try {
      call = second.manager.sandboxFor("ses_a");
      while (!second.toasts.length) await new Promise((r) => setImmediate(r)); // the stopped-sandbox notice
      vi.advanceTimersByTime(60_000); // the start is still waiting: the delay passes
    } finally {
      vi.useRealTimers();
    }
    provider.open();
    expect((await call).id).toBe(sb.id);
    expect(second.toasts.map((t) => t.message)).toEqual([expect.stringMatching(/^Starting this session's stopped sandbox\./)]);
  });
});
