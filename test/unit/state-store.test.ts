import { execFile, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { StateStore } from "../../.opencode/plugin/sandbox/core/state-store.js";

const run = promisify(execFile);
const now = new Date().toISOString();
const record = (id: string) => ({ provider: "dir", sandboxId: id, createdAt: now, lastUsedAt: now });

async function store(dir?: string, projectId = "p") {
  dir ??= await mkdtemp(join(tmpdir(), "state-"));
  const s = new StateStore({ projectId, worktree: "/w", log: silentLogger, dir });
  return { s, dir };
}

describe("StateStore", () => {
  it("writes the documented shape", async () => {
    const { s, dir } = await store();
    await s.set("ses_1", { ...record("sb1"), branchNumber: 1, branch: "opencode/1" });
    const file = JSON.parse(await readFile(join(dir, "p.json"), "utf8"));
    expect(file).toEqual({ version: 1, projectId: "p", worktree: "/w", sessions: { ses_1: expect.objectContaining({ sandboxId: "sb1", branch: "opencode/1" }) } });
  });

  it("keeps fields a newer version wrote", async () => {
    const { s, dir } = await store();
    await writeFile(join(dir, "p.json"), JSON.stringify({ version: 1, projectId: "p", worktree: "/w", sessions: { a: { ...record("x"), future: 42 } } }));
    await s.patch("a", { title: "t" });
    expect((await s.get("a")) as Record<string, unknown>).toMatchObject({ future: 42, title: "t" });
  });

  it("loses nothing with 2 processes × 200 concurrent updates", async () => {
    const { s, dir } = await store();
    const worker = join(import.meta.dirname, "../support/state-worker.ts");
    await Promise.all(["a", "b"].map((prefix) => run(process.execPath, ["--import", "tsx", worker, dir, prefix, "200"])));
    const sessions = (await s.read()).sessions;
    expect(Object.keys(sessions)).toHaveLength(400);
    expect((await readdir(dir)).filter((n) => n.endsWith(".tmp") || n.endsWith(".lock"))).toEqual([]);
  }, 120_000);

  it("kill -9 between writing the new file and renaming it: the old state stays whole, the next writer cleans up", async () => {
    const { s, dir } = await store();
    await s.set("before", record("before"));
    const worker = join(import.meta.dirname, "../support/state-worker.ts");
    const child = spawn(process.execPath, ["--import", "tsx", worker, dir, "killed", "pause"], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (d: Buffer) => d.toString().includes("PAUSED") && resolve());
      child.on("exit", (code) => reject(new Error(`the worker exited (${code}) before its rename`)));
    });
    child.kill("SIGKILL");
    await new Promise((r) => child.once("close", r));
    expect((await readdir(dir)).filter((n) => n.endsWith(".tmp"))).toHaveLength(1); // the unrenamed new state
    expect(Object.keys((await s.read()).sessions)).toEqual(["before"]);
    // The killed writer's lock goes stale; its temporary file is removed by the next writer.
    await s.set("after", record("after"));
    expect(Object.keys((await s.read()).sessions).sort()).toEqual(["after", "before"]);
    expect((await readdir(dir)).filter((n) => n.endsWith(".tmp") || n.endsWith(".lock"))).toEqual([]);
  }, 120_000);

  it("recovers a lock left by a killed process instead of waiting forever", async () => {
    const { s, dir } = await store();
    const { mkdir, utimes } = await import("node:fs/promises");
    await mkdir(join(dir, "p.json.lock"));
    const old = new Date(Date.now() - 60_000);
    await utimes(join(dir, "p.json.lock"), old, old);
    await s.set("x", record("x"));
    expect(await s.get("x")).toMatchObject({ sandboxId: "x" });
  });

  it.each([
    ["not JSON", "{ nope"],
    ["wrong version", JSON.stringify({ version: 9, projectId: "p", worktree: "/w", sessions: {} })],
    ["bad record", JSON.stringify({ version: 1, projectId: "p", worktree: "/w", sessions: { a: { sandboxId: 3 } } })],
  ])("moves a corrupt file aside (%s), never deletes it", async (_name, content) => {
    const { s, dir } = await store();
    await writeFile(join(dir, "p.json"), content);
    expect((await s.read()).sessions).toEqual({});
    expect(s.takeCorrupt()).toBe(true); // told once
    expect(s.takeCorrupt()).toBe(false);
    const aside = (await readdir(dir)).filter((n) => n.startsWith("p.json.corrupt-"));
    expect(aside).toHaveLength(1);
    expect(await readFile(join(dir, aside[0]), "utf8")).toBe(content);
    await s.set("b", record("b"));
    expect(Object.keys((await s.read()).sessions)).toEqual(["b"]);
  });

  it("migrates a session OpenCode moved to another project id", async () => {
    const { s: global, dir } = await store(undefined, "global");
    await global.set("ses_moved", record("sb"));
    await global.set("ses_other", record("sb2"));
    const { s: project } = await store(dir, "abc123");
    expect(await project.get("ses_moved")).toBeUndefined();
    expect(await project.migrateFromOtherProjects("ses_moved")).toMatchObject({ sandboxId: "sb" });
    expect(await project.get("ses_moved")).toMatchObject({ sandboxId: "sb" });
    expect(Object.keys((await global.read()).sessions)).toEqual(["ses_other"]);
    expect(await project.migrateFromOtherProjects("ses_unknown")).toBeUndefined();
  });
});
