/**
 * The Daytona provider inside REAL OpenCode (the pinned binary, the plugin from source,
 * the real @daytonaio/sdk), against the local stand-in of Daytona's API
 * (test/standin/daytona/). A scripted model drives each turn; what happened is read from
 * the host repository, the model's tool results, the plugin's log and the stand-in's
 * request log and sandbox records. Waits poll; their bounds only catch a hang.
 */
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { lacks, missingBwrap, missingCommand, missingRoot } from "../support/prereq.js";
import { until } from "../support/until.js";
import { startDaytonaStandin, type DaemonMode, type DaytonaStandin, type FaultHandle, type FaultRule } from "../standin/daytona/index.js";
import { brief, costs, creates, liveSandboxes, tracked } from "./support/daytona.js";
import type { Step } from "./support/model-server.js";
import { userView, waitFor, Workbench, type RunResult } from "./support/opencode.js";

let bench: Workbench | undefined;
let standin: DaytonaStandin | undefined;
afterEach(async (ctx) => {
  // A failure shows what the plugin logged (the workbench and its logs go with dispose).
  if (ctx.task.result?.state === "fail" && bench) console.error(bench.pluginLog());
  await bench?.dispose();
  bench = undefined;
  await standin?.close();
  standin = undefined;
});

const bash = (command: string): Step => ({ tool: "bash", args: { command, description: command.slice(0, 60) } });
const toolUses = (r: RunResult) => r.events.filter((e) => e.type === "tool_use").map((e) => e.part);
const finalText = (r: RunResult) => r.events.filter((e) => e.type === "text").map((e) => e.part?.text as string);
const branchHas = (b: Workbench, branch: string, file: string) => {
  try {
    return execFileSync("git", ["show", `${branch}:${file}`], { cwd: b.project, encoding: "utf8", stdio: "pipe" }).trim();
  } catch {
    return undefined;
  }
};

interface SetUp {
  daemon?: DaemonMode;
  options?: Record<string, unknown>;
  files?: Record<string, string>;
  modelId?: string;
  apiKey?: string;
}

/** A stand-in, and OpenCode configured for Daytona at it (the key and URL from the environment, as a user sets them). */
async function setUp({ daemon = "shell", options = {}, files, modelId, apiKey }: SetUp = {}) {
  standin = await startDaytonaStandin({ daemon });
  bench = await Workbench.create({
    options: { provider: "daytona", ...options },
    env: { DAYTONA_API_KEY: apiKey ?? standin.apiKey, DAYTONA_API_URL: standin.apiUrl, DAYTONA_TARGET: "us" },
    ...(files ? { files } : {}),
    ...(modelId ? { modelId } : {}),
  });
  return { standin, bench };
}

/** The root sessions the plugin recorded, with their sandbox ids. */
const sessions = (b: Workbench) =>
  Object.entries(b.state().sessions)
    .filter(([, r]) => !r.parentId)
    .map(([id, r]) => ({ id, sandboxId: r.sandboxId as string }));

/** `opencode run --session <id>`: the same session in a new OpenCode process; with the tool results of this run only. */
async function resume(b: Workbench, sessionID: string, prompt: string): Promise<RunResult & { results: string[] }> {
  const seen = b.model.toolResults().length;
  const r = await b.run(prompt, { args: ["--session", sessionID] });
  return { ...r, results: b.model.toolResults().slice(seen) };
}

describe("the Daytona provider inside OpenCode (stand-in API)", () => {
  if (lacks(missingRoot(), missingBwrap(), missingCommand("python3"), missingCommand("curl"), missingCommand("rg"))) return;

  it.each(["shell", "split"] as const)(
    "one turn (%s daemon): every tool runs in the Daytona sandbox, a background server does not hang the call, the work lands on opencode/1, one sandbox labelled for the session",
    async (daemon) => {
      const { standin, bench } = await setUp({ daemon, files: { "README.md": "# demo\n", "src/app.js": "console.log(1)\n" } });
      const host = (p: string) => join(bench.project, p);
      // The user is mid-work: a stash entry, an unstaged change, an untracked file.
      writeFileSync(host("src/app.js"), "console.log('stashed')\n");
      bench.git("stash", "push", "-q", "-m", "user stash");
      writeFileSync(host("src/app.js"), "console.log('unstaged')\n");
      writeFileSync(host("notes.txt"), "untracked\n");
      const before = userView(bench);

      const t = tracked(standin);
      bench.model.set(
        t.script([
          ["bash (first: creates and seeds the sandbox)", bash("pwd; ls")],
          // Models use the host path they see in their context.
          ["write", { tool: "write", args: { filePath: host("notes/hello.txt"), content: "hello from daytona\nsecond line\n" } }],
          ["read", { tool: "read", args: { filePath: host("notes/hello.txt") } }],
          ["edit", { tool: "edit", args: { filePath: host("notes/hello.txt"), oldString: "second line", newString: "edited line" } }],
          ["glob", { tool: "glob", args: { pattern: "**/*.txt" } }],
          ["grep", { tool: "grep", args: { pattern: "edited", include: "*.txt" } }],
          ["bash (background server)", bash("python3 -m http.server 8000 > /tmp/http.log 2>&1 &")],
          ["bash (curl)", bash("for i in $(seq 600); do curl -s localhost:8000/notes/ && break; sleep 0.1; done")],
          ["bash", bash("cat notes/hello.txt")],
          [undefined, { text: "All done." }],
        ]),
      );
      const r = await bench.run("build me something");
      expect(r.code).toBe(0);
      console.log(`requests per tool call (${daemon} daemon):\n${JSON.stringify(costs(t), null, 1)}`);
      // Once the sandbox runs, a tool call talks to the toolbox only and a command is one request —
      // besides, once, the preview link of the server a call started (asked when its port listens,
      // then cached). The once-per-process look for unused sandboxes (a listing) runs beside the calls.
      const own = t.windows.slice(1).map((w) => ({ ...w, requests: w.requests.filter((q) => !(q.method === "GET" && q.path === "/api/sandbox")) }));
      expect(own.flatMap((w) => w.requests.filter((q) => !q.path.startsWith("/toolbox/")).map(brief))).toEqual(["GET api sandbox/{id}/ports/8000/signed-preview-url 200"]);
      for (const w of own)
        if (/^(bash|glob|grep)/.test(w.label)) expect(w.requests.filter((q) => q.path.startsWith("/toolbox/")).map(brief), w.label).toEqual(["POST toolbox process/execute 200"]);

      const [where, write, read, edit, glob, grep, serve, curl, cat] = bench.model.toolResults();
      // The project directory inside the Daytona sandbox, not the host path.
      const [pwd, ...ls] = where!.trim().split("\n");
      expect(pwd).toMatch(/^\/\S+$/);
      expect(pwd).not.toContain(bench.root);
      expect(ls).toEqual(expect.arrayContaining(["README.md", "notes.txt", "src"]));
      expect(write).toMatch(/Wrote file successfully/);
      expect(read).toContain("1: hello from daytona\n2: second line");
      expect(edit).toMatch(/Edit applied successfully/);
      expect(glob!.split("\n")).toContain(host("notes/hello.txt"));
      expect(grep).toContain(host("notes/hello.txt"));
      expect(grep).toContain("Line 2: edited line");
      // The background server's call came back (no timeout) and the server went on running.
      const serveUse = toolUses(r)[6];
      expect(serveUse.state.status).toBe("completed");
      expect(serve).not.toMatch(/timeout|timed out|terminated/i);
      expect(curl).toContain("Directory listing for /notes/");
      expect(curl).toContain("hello.txt");
      expect(cat).toBe("hello from daytona\nedited line\n");
      expect(finalText(r)).toContain("All done.");
      expect(existsSync(host("notes/hello.txt"))).toBe(false); // not in the user's checkout

      // After the exit: the work is on opencode/1, the user's checkout is as it was.
      expect(branchHas(bench, "opencode/1", "notes/hello.txt")).toBe("hello from daytona\nedited line");
      expect(branchHas(bench, "opencode/1", "notes.txt")).toBe("untracked");
      expect(() => bench.git("merge-base", "--is-ancestor", "main", "opencode/1")).not.toThrow();
      expect(userView(bench)).toEqual(before);

      // Exactly one sandbox, labelled for the session, made by one create.
      const [session] = sessions(bench);
      expect(sessions(bench)).toHaveLength(1);
      expect(creates(standin)).toBe(1);
      expect([...standin.sandboxes.keys()]).toEqual([session!.sandboxId]);
      expect(standin.sandbox(session!.sandboxId)!.labels).toMatchObject({ plugin: "opencode-sandboxed", session: session!.id });
    },
    300_000,
  );

  it("a gpt-* model's apply_patch lands in the Daytona sandbox and on opencode/1", async () => {
    const { standin, bench } = await setUp({ modelId: "gpt-5-scripted", files: { "README.md": "# demo\nold line\n" } });
    const patchText = ["*** Begin Patch", "*** Add File: added.txt", "+patched in", "*** Update File: README.md", "@@", " # demo", "-old line", "+new line", "*** End Patch"].join("\n");
    const t = tracked(standin);
    bench.model.set(t.script([["bash", bash("true")], ["apply_patch", { tool: "apply_patch", args: { patchText } }], ["bash", bash("cat added.txt README.md")], [undefined, { text: "Patched." }]]));
    expect((await bench.run("patch it")).code).toBe(0);
    console.log(`requests per tool call (apply_patch):\n${JSON.stringify(costs(t).slice(1), null, 1)}`);

    expect(bench.model.agentRequests[0]!.tools!.map((x) => x.function.name)).toContain("apply_patch");
    const [, patch, cat] = bench.model.toolResults();
    expect(patch).toMatch(/A added.txt[\s\S]*M README.md/);
    expect(cat).toBe("patched in\n# demo\nnew line\n");
    expect(existsSync(join(bench.project, "added.txt"))).toBe(false);
    expect(bench.git("status", "--porcelain")).toBe("");
    expect(branchHas(bench, "opencode/1", "README.md")).toBe("# demo\nnew line");
    expect(branchHas(bench, "opencode/1", "added.txt")).toBe("patched in");
    expect(creates(standin)).toBe(1);
  }, 300_000);

  it("two sessions get two sandboxes and two branches", async () => {
    const { standin, bench } = await setUp();
    bench.model.set([{ tool: "write", args: { filePath: join(bench.project, "one.txt"), content: "one\n" } }, { text: "ok" }]);
    expect((await bench.run("first")).code).toBe(0);
    bench.model.set([{ tool: "write", args: { filePath: join(bench.project, "two.txt"), content: "two\n" } }, bash("ls"), { text: "ok" }]);
    expect((await bench.run("second")).code).toBe(0);
    expect(bench.model.lastToolResult()).not.toContain("one.txt"); // a sandbox of its own

    const all = sessions(bench);
    expect(all).toHaveLength(2);
    expect(all[0]!.sandboxId).not.toBe(all[1]!.sandboxId);
    expect(creates(standin)).toBe(2);
    expect(liveSandboxes(standin).map((s) => s.id).sort()).toEqual(all.map((s) => s.sandboxId).sort());
    for (const { id, sandboxId } of all) expect(standin.sandbox(sandboxId)!.labels.session).toBe(id);
    expect(branchHas(bench, "opencode/1", "one.txt")).toBe("one");
    expect(branchHas(bench, "opencode/1", "two.txt")).toBeUndefined();
    expect(branchHas(bench, "opencode/2", "two.txt")).toBe("two");
    expect(branchHas(bench, "opencode/2", "one.txt")).toBeUndefined();
  }, 300_000);

  it("five parallel tool calls as a session's first step create exactly one sandbox", async () => {
    const { standin, bench } = await setUp();
    const host = (p: string) => join(bench.project, p);
    const t = tracked(standin);
    bench.model.set(
      t.script([
        [
          "five parallel calls (first: creates and seeds the sandbox)",
          {
            tools: [
              { tool: "bash", args: { command: "echo one > p1.txt && cat p1.txt", description: "one" } },
              { tool: "bash", args: { command: "echo two > p2.txt && cat p2.txt", description: "two" } },
              { tool: "write", args: { filePath: host("p3.txt"), content: "three\n" } },
              { tool: "read", args: { filePath: host("README.md") } },
              { tool: "glob", args: { pattern: "*.md" } },
            ],
          },
        ],
        ["bash", bash("cat p1.txt p2.txt p3.txt")],
        [undefined, { text: "ok" }],
      ]),
    );
    const r = await bench.run("go wide");
    expect(r.code).toBe(0);
    console.log(`requests (parallel first step):\n${JSON.stringify(costs(t), null, 1)}`);
    expect(toolUses(r).map((p) => p.state.status)).toEqual(Array(6).fill("completed"));
    const results = bench.model.toolResults();
    expect(results.slice(0, 5)).toEqual(["one\n", "two\n", expect.stringMatching(/Wrote file successfully/), expect.stringContaining("1: # demo"), host("README.md")]);
    expect(results[5]).toBe("one\ntwo\nthree\n");
    expect(creates(standin)).toBe(1);
    expect(standin.sandboxes.size).toBe(1);
    expect(sessions(bench)).toHaveLength(1);
  }, 300_000);

  it("a restarted OpenCode (--session) continues in the same sandbox; a stopped one is started again; a vanished one is re-created from opencode/<N> and the user is warned", async () => {
    const { standin, bench } = await setUp();
    bench.model.set([{ tool: "write", args: { filePath: join(bench.project, "first.txt"), content: "from run 1\n" } }, bash("echo scratch > /tmp/scratch"), { text: "ok" }]);
    expect((await bench.run("first")).code).toBe(0);
    const [session] = sessions(bench);
    const sandboxId = session!.sandboxId;
    expect(creates(standin)).toBe(1);
    expect(branchHas(bench, "opencode/1", "first.txt")).toBe("from run 1");

    // Restart: a new OpenCode process, the same session → the same sandbox, its files intact.
    const t = tracked(standin);
    bench.model.set(t.script([["bash (new process: reconnect)", bash("cat first.txt /tmp/scratch")], ["bash", bash("echo second > second.txt")], [undefined, { text: "ok" }]]));
    const r2 = await resume(bench, session!.id, "still there?");
    expect(r2.code).toBe(0);
    console.log(`requests (reconnect):\n${JSON.stringify(costs(t), null, 1)}`);
    expect(r2.results[0]).toBe("from run 1\nscratch\n");
    expect(creates(standin)).toBe(1);
    expect(sessions(bench)).toEqual([{ id: session!.id, sandboxId }]);
    expect(branchHas(bench, "opencode/1", "second.txt")).toBe("second");

    // Stopped by the platform (auto-stop): started again, files kept, no new sandbox.
    await standin.platform.stop(sandboxId);
    expect(standin.sandbox(sandboxId)!.state).toBe("stopped");
    const t3 = tracked(standin);
    bench.model.set(t3.script([["bash (stopped sandbox: start)", bash("cat first.txt second.txt")], [undefined, { text: "ok" }]]));
    const r3 = await resume(bench, session!.id, "after a stop");
    expect(r3.code).toBe(0);
    console.log(`requests (start a stopped sandbox):\n${JSON.stringify(costs(t3), null, 1)}`);
    expect(r3.results[0]).toBe("from run 1\nsecond\n");
    expect(standin.countRequests("POST", `/api/sandbox/${sandboxId}/start`)).toBe(1);
    expect(standin.sandbox(sandboxId)!.state).toBe("started");
    expect(creates(standin)).toBe(1);
    expect(sessions(bench)).toEqual([{ id: session!.id, sandboxId }]);

    // Gone (deleted behind our back): a new sandbox, seeded from opencode/1, and a warning.
    await standin.platform.vanish(sandboxId);
    expect(standin.sandbox(sandboxId)).toBeUndefined();
    const t4 = tracked(standin);
    bench.model.set(t4.script([["bash (vanished sandbox: re-create)", bash("cat first.txt second.txt; ls /tmp/scratch 2>&1; git log --format=%s -1")], [undefined, { text: "ok" }]]));
    const r4 = await resume(bench, session!.id, "after it vanished");
    expect(r4.code).toBe(0);
    console.log(`requests (re-create a vanished sandbox):\n${JSON.stringify(costs(t4), null, 1)}`);
    const [restored] = r4.results;
    expect(restored).toMatch(/^from run 1\nsecond\n/); // the synced work, from opencode/1
    expect(restored).toMatch(/No such file/); // a new sandbox: what was never synced is gone
    expect(creates(standin)).toBe(2);
    const [now] = sessions(bench);
    expect(now!.id).toBe(session!.id);
    expect(now!.sandboxId).not.toBe(sandboxId);
    expect(liveSandboxes(standin).map((s) => s.id)).toEqual([now!.sandboxId]);
    expect(standin.sandbox(now!.sandboxId)!.labels.session).toBe(session!.id);
    expect(bench.pluginLog()).toContain(`sandbox ${sandboxId} is gone; creating a new one`);
    expect(bench.pluginLog()).toContain("This session's sandbox was gone; a new one was created from the session's last synced work.");
    // The re-created sandbox's work still goes to the session's branch.
    expect(branchHas(bench, "opencode/1", "first.txt")).toBe("from run 1");
    expect(bench.git("branch", "--list", "opencode/*").split("\n").map((s) => s.trim())).toEqual(["opencode/1"]);
  }, 600_000);

  it("deleting the session (opencode serve) syncs its last work, then deletes its Daytona sandbox", async () => {
    // A long debounce: only the deletion can have synced the last turn.
    const { standin, bench } = await setUp({ options: { sync: { debounceMs: 600_000 } } });
    const served = await bench.serve();
    const id = await served.createSession("doomed");
    bench.model.set([{ tool: "write", args: { filePath: join(bench.project, "last.txt"), content: "last words\n" } }, { text: "ok" }]);
    await served.prompt(id, "write and go");
    const sandboxId = bench.state().sessions[id].sandboxId as string;
    expect(standin.sandbox(sandboxId)!.state).toBe("started");
    expect(branchHas(bench, "opencode/1", "last.txt")).toBeUndefined(); // not synced yet

    await served.client.session.delete({ path: { id } });
    expect(await waitFor(() => branchHas(bench, "opencode/1", "last.txt") === "last words")).toBe(true);
    expect(await waitFor(() => standin.sandboxes.get(sandboxId)?.state === "destroyed")).toBe(true);
    expect(standin.sandbox(sandboxId)).toBeUndefined();
    expect(standin.countRequests("DELETE", `/api/sandbox/${sandboxId}`)).toBe(1);
    expect(await waitFor(() => bench.state().sessions[id] === undefined)).toBe(true);
    await served.stop();
    expect(liveSandboxes(standin)).toEqual([]);
    expect(branchHas(bench, "opencode/1", "last.txt")).toBe("last words");
  }, 300_000);

  it("with ~10% of toolbox requests failing (500, 429 + Retry-After, dropped connections; before and after the command ran) every tool call succeeds and nothing runs twice", async () => {
    const { standin, bench } = await setUp();
    const host = (p: string) => join(bench.project, p);
    const toolbox = /^\/toolbox\//;
    const kinds: FaultRule["fault"][] = [{ status: 500 }, { status: 429, retryAfter: 1 }, { drop: true }];
    // Six rules, each ~1.75 %: about one toolbox request in ten gets a fault.
    let background: FaultHandle[] = [];
    const addBackground = () => {
      for (const when of ["before", "after"] as const)
        for (const fault of kinds) background.push(standin.faults.add({ match: { path: toolbox }, when, probability: 0.0175, times: Infinity, fault }));
    };
    standin.faults.seed(7);
    addBackground();
    /** A fault certain to hit the next command's request (ahead of the random ones). */
    const certainHits: FaultHandle[] = [];
    const certain = (when: "before" | "after", fault: FaultRule["fault"]) => {
      for (const h of background) h.remove();
      background = [];
      certainHits.push(standin.faults.add({ match: { method: "POST", path: /\/process\/execute$/ }, when, fault }));
      addBackground();
    };
    const appendStep = bash("echo x >> counter.txt");
    const append = (fault?: [when: "before" | "after", fault: FaultRule["fault"]]) => ({
      appends: true,
      step: () => (fault && certain(...fault), appendStep),
    });
    const other = (step: Step, fault?: [when: "before" | "after", fault: FaultRule["fault"]]) => ({ appends: false, step: () => (fault && certain(...fault), step) });
    const script = [
      append(),
      other({ tool: "write", args: { filePath: host("a.txt"), content: "alpha\nbeta\n" } }),
      append(),
      other({ tool: "read", args: { filePath: host("a.txt") } }),
      append(["after", { drop: true }]), // ran, the answer lost
      other({ tool: "edit", args: { filePath: host("a.txt"), oldString: "beta", newString: "gamma" } }),
      append(["after", { status: 500 }]), // ran, then a 500
      other({ tool: "glob", args: { pattern: "*.txt" } }),
      append(["before", { status: 429, retryAfter: 1 }]), // never reached the daemon
      other({ tool: "grep", args: { pattern: "gamma" } }),
      append(["after", { status: 429, retryAfter: 1 }]), // ran, then a 429
      other(bash("ls"), ["before", { drop: true }]), // dropped before it ran
      other({ tool: "write", args: { filePath: host("b.txt"), content: "bravo\n" } }),
      append(),
      other(bash("wc -l < counter.txt; cat a.txt b.txt")),
    ];
    const appends = script.filter((s) => s.appends).length;
    bench.model.set([...script.map((s) => s.step), { text: "Survived." }]);
    const r = await bench.run("count carefully");
    const faulted = standin.requests.filter((q) => q.fault);
    console.log(`faults applied (${faulted.length} of ${standin.requests.filter((q) => toolbox.test(q.path)).length} toolbox requests):\n${faulted.map((q) => `${q.method} ${q.path.replace(/^\/toolbox\/[^/]+/, "toolbox")} → ${q.fault}`).join("\n")}`);
    expect(r.code).toBe(0);

    const uses = toolUses(r);
    expect(uses).toHaveLength(15);
    expect(uses.map((p) => [p.tool, p.state.status])).toEqual(uses.map((p) => [p.tool, "completed"]));
    const results = bench.model.toolResults();
    expect(appends).toBe(7);
    expect(results.at(-1)).toBe(`${appends}\nalpha\ngamma\nbravo\n`);
    expect(results[3]).toContain("1: alpha\n2: beta");
    expect(results[5]).toMatch(/Edit applied successfully/);
    expect(results[7]!.split("\n").sort()).toEqual([host("a.txt"), host("counter.txt")]);
    expect(results[9]).toContain("Line 2: gamma");
    expect(finalText(r)).toContain("Survived.");
    expect(certainHits.map((h) => h.hits)).toEqual([1, 1, 1, 1, 1]);
    expect(faulted.length).toBeGreaterThan(certainHits.length); // and some at random
    expect(faulted.filter((q) => /process\/execute$/.test(q.path) && q.status === 0).length).toBeGreaterThan(0);
    expect(creates(standin)).toBe(1);
    // The work still reaches the branch.
    expect(branchHas(bench, "opencode/1", "counter.txt")).toBe(Array(appends).fill("x").join("\n"));
  }, 600_000);

  it("an invalid API key: one clear error naming DAYTONA_API_KEY and the URL, and OpenCode keeps answering", async () => {
    const { standin, bench } = await setUp({ apiKey: "not-the-right-key" });
    bench.model.set([bash("pwd"), { tool: "read", args: { filePath: join(bench.project, "README.md") } }, { text: "Finished anyway." }]);
    const r = await bench.run("try");
    expect(r.code).toBe(0);
    expect(finalText(r)).toContain("Finished anyway.");
    const [first, second] = bench.model.toolResults();
    for (const result of [first, second]) {
      expect(result).toContain("DAYTONA_API_KEY");
      expect(result).toContain(standin.apiUrl);
    }
    expect(bench.pluginLog()).toContain("DAYTONA_API_KEY");
    expect(bench.pluginLog()).not.toContain("not-the-right-key");
    expect(creates(standin)).toBe(0);
    expect(standin.sandboxes.size).toBe(0);
    // Refused is final: asked at most once per tool call, never retried.
    const refused = standin.requests.filter((q) => q.status === 401).length;
    expect(refused).toBeGreaterThan(0);
    expect(refused).toBeLessThanOrEqual(2);
  }, 300_000);
});
