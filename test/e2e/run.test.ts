/**
 * One-shot turns under `opencode run` (the process exits right after the session goes
 * idle): tools run in the sandbox, the work lands on opencode/1 before the exit, and
 * the user's checkout is never touched.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { userView, Workbench } from "./support/opencode.js";

let bench: Workbench | undefined;
afterEach(async (ctx) => {
  // A failure shows what the plugin logged (the workbench and its logs go with dispose).
  if (ctx.task.result?.state === "fail" && bench) console.error(bench.pluginLog());
  await bench?.dispose();
  bench = undefined;
});

const toolUses = (events: { type: string; part?: any }[]) => events.filter((e) => e.type === "tool_use").map((e) => e.part);

describe("opencode run with the plugin", () => {
  it("runs the tools in the sandbox, returns a background server's call at once, and syncs to opencode/1 before exiting — the user's checkout untouched", async () => {
    bench = await Workbench.create({ files: { "README.md": "# demo\n", "src/app.js": "console.log(1)\n" } });
    const host = (p: string) => join(bench!.project, p);
    // The user is mid-work: a stash entry, a staged change, an unstaged one, an untracked file.
    writeFileSync(host("src/app.js"), "console.log('stashed')\n");
    bench.git("stash", "push", "-q", "-m", "user stash");
    writeFileSync(host("README.md"), "# demo\nstaged line\n");
    bench.git("add", "README.md");
    writeFileSync(host("src/app.js"), "console.log('unstaged')\n");
    writeFileSync(host("notes.txt"), "untracked\n");
    const before = userView(bench);

    bench.model.set([
      { tool: "bash", args: { command: "pwd", description: "where" } },
      // Models use the host path they see in their context.
      { tool: "write", args: { filePath: host("hello.txt"), content: "hello from the agent\n" } },
      { tool: "bash", args: { command: "python3 -m http.server 8000 > /tmp/http.log 2>&1 &", description: "serve" } },
      { tool: "bash", args: { command: "for i in $(seq 600); do curl -s localhost:8000/ && break; sleep 0.1; done", description: "fetch" } },
      { tool: "read", args: { filePath: host("hello.txt") } },
      { tool: "bash", args: { command: "cat notes.txt src/app.js; git log --format=%s -1", description: "seeded" } },
      { text: "All done." },
    ]);
    const r = await bench.run("build me something");
    expect(r.code).toBe(0);

    const results = bench.model.toolResults();
    expect(results[0].trim()).toBe("/workspace");
    expect(results[1]).toMatch(/Wrote file successfully/);
    expect(existsSync(host("hello.txt"))).toBe(false); // not in the user's checkout
    const serve = toolUses(r.events)[2];
    expect(serve.state.status).toBe("completed");
    expect(serve.state.time.end - serve.state.time.start).toBeLessThan(60_000); // returned, did not wait for the server (the bash tool would give up after 120 s)
    expect(results[3]).toContain("Directory listing"); // …which keeps running after the call returned
    expect(results[3]).toContain("hello.txt");
    expect(results[4]).toContain("1: hello from the agent");
    // The sandbox starts from what the user sees: untracked and unstaged work included.
    expect(results[5]).toContain("untracked\nconsole.log('unstaged')");

    // The system prompt told the model where its tools run.
    expect(bench.model.systemPrompt()).toContain("<sandbox>");
    expect(bench.model.systemPrompt()).toContain("preview_url");

    // opencode/1 holds the work, on top of the user's branch — synced before the process exited.
    expect(bench.git("show", "opencode/1:hello.txt")).toBe("hello from the agent");
    expect(bench.git("show", "opencode/1:notes.txt")).toBe("untracked");
    expect(() => bench!.git("merge-base", "--is-ancestor", "main", "opencode/1")).not.toThrow();
    expect(bench.git("log", "--format=%s", "opencode/1")).toMatch(/ses_/);
    expect(userView(bench)).toEqual(before);
  }, 300_000);

  it("a gpt-* model gets apply_patch instead of edit/write, and its patch lands in the sandbox only", async () => {
    bench = await Workbench.create({ modelId: "gpt-5-scripted", files: { "README.md": "# demo\nold line\n" } });
    const patchText = [
      "*** Begin Patch",
      "*** Add File: added.txt",
      "+patched in",
      "*** Update File: README.md",
      "@@",
      " # demo",
      "-old line",
      "+new line",
      "*** End Patch",
    ].join("\n");
    bench.model.set([
      { tool: "apply_patch", args: { patchText } },
      { tool: "bash", args: { command: "cat added.txt README.md", description: "check" } },
      { text: "Patched." },
    ]);
    expect((await bench.run("patch it")).code).toBe(0);

    const offered = bench.model.agentRequests[0].tools!.map((t) => t.function.name);
    expect(offered).toContain("apply_patch");
    expect(offered).not.toContain("edit");
    expect(offered).not.toContain("write");
    const [patch, cat] = bench.model.toolResults();
    expect(patch).toMatch(/A added.txt[\s\S]*M README.md/);
    expect(cat).toBe("patched in\n# demo\nnew line\n");
    // The user's checkout: unchanged.
    expect(existsSync(join(bench.project, "added.txt"))).toBe(false);
    expect(bench.git("status", "--porcelain")).toBe("");
    expect(bench.git("show", "opencode/1:README.md")).toBe("# demo\nnew line");
  }, 300_000);

  it("a project's custom tool that would write on the host is refused — and without the plugin it does write", async () => {
    bench = await Workbench.create();
    const marker = join(bench.root, "PWNED");
    const toolDir = join(bench.project, ".opencode/tool");
    mkdirSync(toolDir, { recursive: true });
    // Pre-seeded like the config dir, so OpenCode installs nothing for the project's .opencode.
    writeFileSync(join(bench.project, ".opencode/package.json"), JSON.stringify({ dependencies: { "@opencode-ai/plugin": "1.18.33" } }));
    writeFileSync(
      join(bench.project, ".opencode/package-lock.json"),
      JSON.stringify({ lockfileVersion: 3, packages: { "": { dependencies: { "@opencode-ai/plugin": "1.18.33" } } } }),
    );
    mkdirSync(join(bench.project, ".opencode/node_modules"));
    writeFileSync(
      join(toolDir, "hostwrite.ts"),
      `export default {
  description: "Writes a marker file",
  args: {},
  async execute() {
    const fs = await import("node:fs");
    fs.writeFileSync(${JSON.stringify(marker)}, "ran on the host\\n");
    return "marker written";
  },
};
`,
    );
    const script = () => bench!.model.set([{ tool: "hostwrite", args: {} }, { text: "ok" }]);

    script();
    await bench.run("use hostwrite");
    expect(bench.model.agentRequests[0].tools!.map((t) => t.function.name)).toContain("hostwrite");
    expect(bench.model.lastToolResult()).toMatch(/refused the tool "hostwrite"[\s\S]*allowHostTools/);
    expect(existsSync(marker)).toBe(false);

    // The same tool, plugin off: it does run on the host — so the refusal is what stopped it.
    bench.writeConfig({ plugin: false });
    script();
    await bench.run("use hostwrite");
    expect(bench.model.lastToolResult()).toContain("marker written");
    expect(existsSync(marker)).toBe(true);
  }, 300_000);

  it("honours the user's bash permission rules: a denied command in a compound command does not run", async () => {
    bench = await Workbench.create({ config: { permission: { bash: { "*": "allow", "git push*": "deny" } } } });
    bench.model.set([
      { tool: "bash", args: { command: "echo hi > marker && git push origin main", description: "push" } },
      { tool: "bash", args: { command: "ls marker 2>&1; echo allowed", description: "check" } },
      { text: "ok" },
    ]);
    await bench.run("push it");
    const [denied, check] = bench.model.toolResults();
    expect(denied).toMatch(/rule which prevents you from using this specific tool call[\s\S]*git push\*/);
    expect(check).toMatch(/No such file[\s\S]*allowed/);
  }, 300_000);

  it("started in a subdirectory of the repository (a monorepo package): paths, the working directory and the branch line up", async () => {
    bench = await Workbench.create({ subdir: "packages/app", files: { "README.md": "# mono\n", "packages/app/index.js": "app\n", "packages/lib/lib.js": "lib\n" } });
    const here = (p: string) => join(bench!.project, "packages/app", p);
    bench.model.set([
      { tool: "bash", args: { command: "pwd; ls; ls ../lib", description: "where" } },
      { tool: "read", args: { filePath: here("index.js") } },
      { tool: "write", args: { filePath: here("new.js"), content: "new\n" } },
      { tool: "glob", args: { pattern: "*.js" } },
      { text: "ok" },
    ]);
    expect((await bench.run("look around")).code).toBe(0);
    const [where, read, , glob] = bench.model.toolResults();
    expect(where).toBe("/workspace/packages/app\nindex.js\nlib.js\n");
    expect(read).toContain("1: app");
    expect(glob.split("\n").sort()).toEqual([here("index.js"), here("new.js")].sort());
    expect(existsSync(here("new.js"))).toBe(false);
    expect(bench.git("show", "opencode/1:packages/app/new.js")).toBe("new");
  }, 300_000);
});
