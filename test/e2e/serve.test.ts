/**
 * Multi-turn sessions under `opencode serve`: two sessions, toasts, a restart, a
 * deleted session, a subagent, and two projects in one server process.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createOpencodeClient } from "@opencode-ai/sdk";
import { afterEach, describe, expect, it } from "vitest";
import { processesOfUid } from "../support/processes.js";
import { git, waitFor, Workbench } from "./support/opencode.js";

let bench: Workbench | undefined;
afterEach(async (ctx) => {
  // A failure shows what the plugin logged (the workbench and its logs go with dispose).
  if (ctx.task.result?.state === "fail" && bench) console.error(bench.pluginLog());
  await bench?.dispose();
  bench = undefined;
});

const write = (b: Workbench, file: string, content: string) => ({ tool: "write", args: { filePath: join(b.project, file), content } });
const bash = (command: string) => ({ tool: "bash", args: { command, description: command } });
const branchHas = (b: Workbench, branch: string, file: string) => {
  try {
    return b.git("show", `${branch}:${file}`);
  } catch {
    return undefined;
  }
};
const sandboxDirs = (b: Workbench) => (existsSync(b.sandboxesDir()) ? readdirSync(b.sandboxesDir()).filter((d) => d.startsWith("sb-")) : []);
describe("opencode serve with the plugin", () => {
  it("two sessions get two sandboxes and two branches, toasts tell it, and a restarted server finds a session's sandbox again", async () => {
    bench = await Workbench.create();
    let served = await bench.serve();
    const events = await served.events();
    const toasts = () => events.list.filter((e) => e.type === "tui.toast.show").map((e) => e.properties);

    const s1 = await served.createSession("first");
    bench.model.set([write(bench, "one.txt", "one\n"), { text: "ok" }]);
    await served.prompt(s1, "write one");
    expect(await waitFor(() => toasts().some((t) => /synced to opencode\/1/.test(t.message)))).toBe(true);
    expect(toasts()).toContainEqual(expect.objectContaining({ variant: "success", message: expect.stringMatching(/Sandbox ready \(local\)/) }));
    expect(toasts()).toContainEqual(expect.objectContaining({ variant: "success", message: expect.stringContaining("git log opencode/1") }));

    const s2 = await served.createSession("second");
    bench.model.set([write(bench, "two.txt", "two\n"), { text: "ok" }]);
    await served.prompt(s2, "write two");
    expect(await waitFor(() => branchHas(bench!, "opencode/2", "two.txt") === "two")).toBe(true);
    events.stop();

    // Each branch has only its own session's work.
    expect(branchHas(bench, "opencode/1", "one.txt")).toBe("one");
    expect(branchHas(bench, "opencode/1", "two.txt")).toBeUndefined();
    expect(branchHas(bench, "opencode/2", "one.txt")).toBeUndefined();
    const state = bench.state().sessions;
    expect(state[s1].sandboxId).not.toBe(state[s2].sandboxId);
    expect(sandboxDirs(bench).sort()).toEqual([state[s1].sandboxId, state[s2].sandboxId].sort());

    // Restart: same database, same session → same sandbox, files intact.
    await served.stop();
    served = await bench.serve();
    bench.model.set([bash("cat one.txt; ls"), { text: "ok" }]);
    await served.prompt(s1, "still there?");
    expect(bench.model.lastToolResult()).toMatch(/^one\n/);
    expect(bench.model.lastToolResult()).not.toContain("two.txt");
    expect(bench.state().sessions[s1].sandboxId).toBe(state[s1].sandboxId);
    expect(sandboxDirs(bench)).toHaveLength(2);
    await served.stop();
  }, 300_000);

  it("deleting a session syncs its last work, then removes its sandbox; the branch stays", async () => {
    // A long debounce: only the deletion can have synced the last turn.
    bench = await Workbench.create({ options: { provider: "local", sync: { debounceMs: 600_000 } } });
    const served = await bench.serve();
    const id = await served.createSession("doomed");
    bench.model.set([write(bench, "last.txt", "last words\n"), bash("sleep 600 > /dev/null 2>&1 &"), { text: "ok" }]);
    await served.prompt(id, "write and go");
    const sandboxId = bench.state().sessions[id].sandboxId as string;
    const uid = JSON.parse(readFileSync(join(bench.sandboxesDir(), sandboxId, "meta.json"), "utf8")).uid as number;
    expect(branchHas(bench, "opencode/1", "last.txt")).toBeUndefined(); // not synced yet
    if (process.getuid?.() === 0) expect(processesOfUid(uid).length).toBeGreaterThan(0);

    const events = await served.events();
    await served.client.session.delete({ path: { id } });
    expect(await waitFor(() => branchHas(bench!, "opencode/1", "last.txt") === "last words")).toBe(true);
    // The user is told where the work went (deleting a session showed nothing before).
    const told = (e: { type: string; properties: any }) => e.type === "tui.toast.show" && e.properties.message.includes("Session deleted: its sandbox is removed, its work stays on opencode/1");
    expect(await waitFor(() => events.list.some(told))).toBe(true);
    events.stop();
    expect(await waitFor(() => !existsSync(join(bench!.sandboxesDir(), sandboxId)))).toBe(true);
    // The mapping goes right after the sandbox (a separate write).
    expect(await waitFor(() => bench!.state().sessions[id] === undefined)).toBe(true);
    if (process.getuid?.() === 0) expect(await waitFor(() => processesOfUid(uid).length === 0)).toBe(true);
    await served.stop();
    expect(branchHas(bench, "opencode/1", "last.txt")).toBe("last words");
  }, 300_000);

  it("a task subagent works in its parent's sandbox", async () => {
    bench = await Workbench.create();
    const served = await bench.serve();
    const parent = await served.createSession("parent");
    bench.model.set([
      { tool: "task", args: { description: "write a file", prompt: "write from-sub.txt", subagent_type: "general" } },
      bash("echo sub > from-sub.txt"), // the subagent's turn
      { text: "sub done" },
      bash("cat from-sub.txt"), // the parent again
      { text: "ok" },
    ]);
    await served.prompt(parent, "delegate");
    expect(bench.model.lastToolResult()).toBe("sub\n");
    // The write happened in a child session, in the parent's (only) sandbox.
    const children = (await served.client.session.children({ path: { id: parent } })).data ?? [];
    expect(children).toHaveLength(1);
    const childTools = await served.toolParts(children[0].id);
    expect(childTools.map((p) => [p.tool, p.state.status])).toEqual([["bash", "completed"]]);
    const sandboxes = new Set(Object.values(bench.state().sessions).map((r) => r.sandboxId).filter(Boolean));
    expect([...sandboxes]).toEqual([bench.state().sessions[parent].sandboxId]);
    expect(sandboxDirs(bench)).toHaveLength(1);
    expect(await waitFor(() => branchHas(bench!, "opencode/1", "from-sub.txt") === "sub")).toBe(true);
    await served.stop();
  }, 300_000);

  it("one server process, two projects: each gets its own sandbox, state file and branch", async () => {
    bench = await Workbench.create();
    const other = join(bench.root, "other");
    mkdirSync(other);
    git(other, "init", "-q", "-b", "main");
    writeFileSync(join(other, "OTHER.md"), "other\n");
    execFileSync("git", ["add", "-A"], { cwd: other, env: bench.env });
    execFileSync("git", ["commit", "-qm", "other initial"], { cwd: other, env: bench.env });

    const served = await bench.serve();
    const a = await served.createSession("a");
    bench.model.set([write(bench, "a.txt", "a\n"), { text: "ok" }]);
    await served.prompt(a, "a");

    const client = createOpencodeClient({ baseUrl: served.url, directory: other });
    const b = (await client.session.create({ body: { title: "b" } })).data!.id;
    bench.model.set([{ tool: "write", args: { filePath: join(other, "b.txt"), content: "b\n" } }, bash("ls"), { text: "ok" }]);
    await bench.bounded(client.session.prompt({ path: { id: b }, body: { parts: [{ type: "text", text: "b" }] } }), 120_000, "prompt in the other project");
    expect(bench.model.lastToolResult()).toContain("OTHER.md");
    expect(bench.model.lastToolResult()).not.toContain("a.txt");

    expect(await waitFor(() => branchHas(bench!, "opencode/1", "a.txt") === "a")).toBe(true);
    expect(await waitFor(() => {
      try {
        return git(other, "show", "opencode/1:b.txt") === "b";
      } catch {
        return false;
      }
    })).toBe(true);
    expect(branchHas(bench, "opencode/1", "b.txt")).toBeUndefined();
    expect(readdirSync(join(bench.dataHome, "opencode/storage/daytona")).filter((f) => f.endsWith(".json"))).toHaveLength(2);
    await served.stop();
  }, 300_000);
});
