/**
 * The plugin loads in real OpenCode the three ways users load it, each proven by a
 * tool call that ran in the sandbox; and a broken set-up is reported clearly while
 * OpenCode keeps answering.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PLUGIN_DIST, REPO, waitFor, Workbench } from "./support/opencode.js";

let bench: Workbench | undefined;
afterEach(async (ctx) => {
  // A failure shows what the plugin logged (the workbench and its logs go with dispose).
  if (ctx.task.result?.state === "fail" && bench) console.error(bench.pluginLog());
  await bench?.dispose();
  bench = undefined;
});

const pwd = { tool: "bash", args: { command: "pwd", description: "where" } };

/** One turn running `pwd`; asserts it ran in the sandbox and the plugin said it loaded. */
async function provesLoaded(b: Workbench) {
  b.model.set([pwd, { text: "ok" }]);
  const r = await b.run("where are you?");
  expect(r.code).toBe(0);
  expect(b.model.toolResults()).toEqual(["/workspace\n"]);
  expect(b.pluginLog()).toContain(`opencode-sandboxed loaded for ${b.project}`);
  expect(b.logs()).not.toContain("Plugin export is not a function");
}

describe("loading the plugin", () => {
  let packed: string;

  beforeAll(() => {
    // As a user installs it: the npm tarball, installed into a throw-away directory.
    packed = mkdtempSync(join(tmpdir(), "ocs-pack-"));
    const tarball = execFileSync("npm", ["pack", "--silent", "--pack-destination", packed], { cwd: REPO, encoding: "utf8" }).trim().split("\n").at(-1)!;
    writeFileSync(join(packed, "package.json"), JSON.stringify({ name: "user-install", private: true }));
    execFileSync("npm", ["install", "--no-audit", "--no-fund", "--omit=dev", "--ignore-scripts", "--prefer-offline", join(packed, tarball)], {
      cwd: packed,
      stdio: "ignore",
      timeout: 150_000,
    });
  }, 400_000);
  afterAll(() => rmSync(packed, { recursive: true, force: true }));

  it("by a file:// path to the build", async () => {
    bench = await Workbench.create({ plugin: PLUGIN_DIST });
    await provesLoaded(bench);
  }, 300_000);

  it("from the npm pack tarball installed into a directory", async () => {
    const entry = join(packed, "node_modules/opencode-sandboxed/dist/plugin/index.js");
    expect(existsSync(entry)).toBe(true);
    expect(existsSync(join(packed, "node_modules/opencode-sandboxed/test"))).toBe(false);
    bench = await Workbench.create({ plugin: pathToFileURL(entry).href });
    await provesLoaded(bench);
  }, 300_000);

  it("through a symlinked .opencode, as TypeScript, with no plugin entry in the config", async () => {
    bench = await Workbench.create({ plugin: false });
    // OpenCode installs its plugin package into every .opencode it loads unless it finds it
    // there: pre-seed the (git-ignored) files, like the harness does for the config dir,
    // and remove what this test created afterwards.
    const dotOpencode = join(REPO, ".opencode");
    const seeded = ["package.json", "package-lock.json", "node_modules"].filter((f) => !existsSync(join(dotOpencode, f)));
    const deps = { "@opencode-ai/plugin": "1.18.33" };
    if (seeded.includes("package.json")) writeFileSync(join(dotOpencode, "package.json"), JSON.stringify({ type: "module", dependencies: deps }));
    if (seeded.includes("package-lock.json"))
      writeFileSync(join(dotOpencode, "package-lock.json"), JSON.stringify({ lockfileVersion: 3, packages: { "": { dependencies: deps } } }));
    if (seeded.includes("node_modules")) mkdirSync(join(dotOpencode, "node_modules"));
    try {
      symlinkSync(dotOpencode, join(bench.project, ".opencode"));
      writeFileSync(join(bench.project, ".git/info/exclude"), ".opencode\n");
      await provesLoaded(bench);
      expect(bench.pluginLog()).toMatch(/provider local/); // auto → local without a Daytona key
    } finally {
      for (const f of seeded) rmSync(join(dotOpencode, f), { recursive: true, force: true });
      rmSync(join(dotOpencode, ".gitignore"), { force: true }); // OpenCode writes one too
    }
  }, 300_000);
});

describe("a broken set-up", () => {
  it("an invalid option: an error toast and log line naming it; tools answer with the message; OpenCode keeps answering", async () => {
    bench = await Workbench.create({ options: { provider: "local", local: { network: "bogus" } } });
    const served = await bench.serve();
    const events = await served.events();
    const id = await served.createSession("broken");
    // Shown when a session starts, before any tool call (the start-up toast went out before this client subscribed).
    const configToast = expect.objectContaining({ variant: "error", message: expect.stringContaining('option "local.network" is "bogus"') });
    expect(await waitFor(() => events.list.some((e) => e.type === "tui.toast.show" && configToast.asymmetricMatch(e.properties)), 60_000)).toBe(true);
    expect(bench.model.requests).toHaveLength(0);
    bench.model.set([pwd, { text: "still here" }]);
    await served.prompt(id, "where?");
    const [result] = bench.model.toolResults();
    expect(result).toMatch(/local\.network[\s\S]*bogus[\s\S]*isolated/);
    expect(bench.model.agentRequests).toHaveLength(2); // the turn went on after the refusal
    expect(bench.pluginLog()).toMatch(/\[ERROR\].*local\.network/);
    const toasts = events.list.filter((e) => e.type === "tui.toast.show").map((e) => e.properties);
    expect(toasts).toContainEqual(expect.objectContaining({ variant: "error", message: expect.stringMatching(/option "local\.network" is "bogus"; expected one of "isolated", "allowlist", "none"/) }));
    events.stop();
    expect(existsSync(bench.sandboxesDir()) ? readdirSync(bench.sandboxesDir()).filter((d) => d.startsWith("sb-")) : []).toEqual([]);
    await served.stop();
  }, 300_000);

  it("bubblewrap missing: a clear toast and tool result naming it; OpenCode keeps answering", async () => {
    // PATH with everything of the system's bin directories except bwrap.
    const bin = mkdtempSync(join(tmpdir(), "ocs-nobwrap-"));
    for (const dir of ["/usr/local/bin", "/usr/bin", "/usr/sbin", "/bin", "/sbin"])
      if (existsSync(dir))
        for (const name of readdirSync(dir))
          if (name !== "bwrap" && !existsSync(join(bin, name))) symlinkSync(join(dir, name), join(bin, name));
    try {
      bench = await Workbench.create({ env: { PATH: bin } });
      const served = await bench.serve();
      const events = await served.events();
      const id = await served.createSession("no bwrap");
      bench.model.set([pwd, { text: "first answer" }]);
      await served.prompt(id, "where?");
      expect(bench.model.lastToolResult()).toMatch(/bubblewrap is not installed[\s\S]*apt-get install bubblewrap/);
      const toasts = () => events.list.filter((e) => e.type === "tui.toast.show").map((e) => e.properties);
      expect(toasts()).toContainEqual(expect.objectContaining({ variant: "error", message: expect.stringContaining("bubblewrap is not installed") }));
      expect(bench.pluginLog()).toMatch(/\[ERROR\].*bubblewrap is not installed/);
      // Still answering, and the toast is not repeated for the same failure.
      bench.model.set([pwd, { text: "second answer" }]);
      await served.prompt(id, "again?");
      expect(bench.model.lastToolResult()).toContain("bubblewrap is not installed");
      expect(toasts().filter((t) => t.message.includes("bubblewrap"))).toHaveLength(1);
      events.stop();
      await served.stop();
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  }, 300_000);

  it("plugin options override the environment", async () => {
    bench = await Workbench.create({ options: { provider: "local", local: { network: "isolated" } }, env: { OPENCODE_SANDBOX_NETWORK: "none" } });
    bench.model.set([{ tool: "bash", args: { command: "cat /proc/net/dev", description: "net" } }, { text: "ok" }]);
    await bench.run("network?");
    expect(bench.model.lastToolResult()).toContain("tap0"); // slirp4netns: the option won
  }, 300_000);
});
