/**
 * Real OpenCode started in a folder that is not a git repository: the agent sees the
 * folder's files in its sandbox (ignored ones left out), its work does not land in the
 * folder when the session ends, and the CLI's apply brings it there.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { cli, cliEnv } from "../cli/cli-kit.js";
import { waitFor, Workbench } from "./support/opencode.js";

let bench: Workbench | undefined;
afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail" && bench) console.error(bench.pluginLog());
  await bench?.dispose();
  bench = undefined;
});

describe("opencode run in a folder without git", () => {
  it("the agent sees the folder's files; its work stays aside until opencode-sandboxed apply writes it", async () => {
    bench = await Workbench.create({ files: { "notes.txt": "my notes\n", ".gitignore": "*.secret\n" } });
    const host = (p: string) => join(bench!.project, p);
    // The workbench makes a repository: this folder is to have none.
    rmSync(host(".git"), { recursive: true, force: true });
    writeFileSync(host("token.secret"), "do not copy\n");

    bench.model.set([
      { tool: "read", args: { filePath: host("notes.txt") } },
      { tool: "bash", args: { command: "ls -A; test -e token.secret || echo no-secret", description: "look" } },
      { tool: "write", args: { filePath: host("todo.txt"), content: "from the agent\n" } },
      { text: "Done." },
    ]);
    const r = await bench.run("look at my notes");
    expect(r.code).toBe(0);
    const results = bench.model.toolResults();
    expect(results[0]).toContain("1: my notes");
    expect(results[1]).toContain("notes.txt");
    expect(results[1]).toContain("no-secret");
    expect(results[2]).toMatch(/Wrote file successfully/);
    expect(existsSync(host("todo.txt"))).toBe(false); // synced aside, not into the folder
    expect(existsSync(host(".git"))).toBe(false);

    const env = cliEnv({ data: bench.dataHome, config: join(bench.root, "config") });
    const applied = await cli(["apply", "--no-sync"], { cwd: bench.project, env });
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain("A todo.txt");
    expect(readFileSync(host("todo.txt"), "utf8")).toBe("from the agent\n");
    expect(readFileSync(host("notes.txt"), "utf8")).toBe("my notes\n");
  }, 300_000);

  it("under opencode serve the user is told once, in a toast, what happens to a folder without git; deleting a session says how to review and apply", async () => {
    bench = await Workbench.create({ files: { "notes.txt": "my notes\n" } });
    rmSync(join(bench.project, ".git"), { recursive: true, force: true });
    // Bounds for a hang on a loaded machine (load 30 on 2 cores here), not speed claims.
    const served = await bench.serve({ timeoutMs: 240_000 });
    const events = await served.events();
    const toasts = () => events.list.filter((e) => e.type === "tui.toast.show").map((e) => e.properties as { message: string; variant: string });
    const aboutFolder = () => toasts().filter((t) => t.message.includes("is not a git repository: each session's sandbox gets a copy of its files"));

    // Two sessions, each with its own sandbox (each copies the folder): still one toast.
    const ids: string[] = [];
    for (const name of ["first", "second"]) {
      const id = await served.createSession(name);
      ids.push(id);
      bench.model.set([{ tool: "bash", args: { command: "cat notes.txt", description: "read" } }, { text: "ok" }]);
      await served.prompt(id, "read my notes");
      expect(bench.model.lastToolResult()).toBe("my notes\n");
    }
    expect(new Set(Object.values(bench.state().sessions).map((r) => r.sandboxId)).size).toBe(2);
    expect(await waitFor(() => aboutFolder().length > 0, 180_000)).toBe(true);
    expect(aboutFolder()).toEqual([expect.objectContaining({ variant: "info", message: expect.stringContaining("opencode-sandboxed apply") })]);
    expect(toasts().some((t) => t.message.startsWith("Git sync is off"))).toBe(false);

    await served.client.session.delete({ path: { id: ids[0]! } });
    const ended = () => toasts().find((t) => t.message.startsWith("Session deleted"));
    expect(await waitFor(() => ended() !== undefined, 180_000)).toBe(true);
    expect(ended()!.message).toMatch(/kept aside as opencode\/\d+ .*opencode-sandboxed diff opencode\/\d+ · apply it: opencode-sandboxed apply opencode\/\d+/);
    expect(ended()!.message).not.toContain("git log");
    events.stop();
    expect(aboutFolder()).toHaveLength(1);
    await served.stop();
  }, 600_000);
});
