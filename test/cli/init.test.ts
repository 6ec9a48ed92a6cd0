/**
 * `init` with the built CLI and the real OpenCode: it lists the plugin in the project's
 * opencode.json(c) (other keys and comments kept), places the guard, and proves the
 * plugin loads by starting OpenCode headless; a second run changes nothing; an entry
 * OpenCode cannot load, and bad input, fail with a message naming what is wrong.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { cleanupAll, makeRepo, tempDir } from "../integration/git-support.js";
import { lacks, missingCommand } from "../support/prereq.js";
import { cli, cliEnv } from "./cli-kit.js";
import { OPENCODE, opencodeEnv, PLUGIN_DIST, REPO } from "./opencode-env.js";

const GUARD = ".opencode/plugin/opencode-sandboxed-guard.js";

// Each test starts OpenCode (and the CLI) on a loaded machine: a bound for a hang, not a timing claim.
describe("init", { timeout: 300_000 }, () => {
  if (lacks(existsSync(OPENCODE) ? undefined : `${OPENCODE} is missing (npm ci)`, missingCommand("git"))) return;

  let repo: string;
  let env: NodeJS.ProcessEnv;
  const run = (...args: string[]) => cli(["init", ...args], { cwd: repo, env });
  beforeEach(async () => {
    repo = await makeRepo();
    env = await opencodeEnv(cliEnv({ data: await tempDir("cli-data-"), config: await tempDir("cli-config-") }), repo);
  });
  afterAll(cleanupAll);

  it("lists the plugin in opencode.jsonc keeping comments and keys, places the guard, proves OpenCode loads it; a second run changes nothing", async () => {
    const config = join(repo, "opencode.jsonc");
    writeFileSync(config, '{\n  // the team\'s settings\n  "autoupdate": false,\n  "plugin": [],\n}\n');
    const r = await run("--plugin", PLUGIN_DIST);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`${config}: "${PLUGIN_DIST}" added to plugin`);
    expect(r.stdout).toContain("✔ guard placed (version 1)");
    expect(r.stdout).toContain(`✔ OpenCode loads the plugin:`);
    expect(r.stdout).toContain(`opencode-sandboxed loaded for ${repo}`);
    expect(r.stderr).toContain("starting OpenCode"); // the progress line of the long step
    const text = readFileSync(config, "utf8");
    expect(text).toContain("// the team's settings");
    expect(text).toContain('"autoupdate": false');
    expect(text).toContain(PLUGIN_DIST);
    expect(readFileSync(join(repo, GUARD), "utf8")).toContain("opencode-sandboxed guard, version 1");

    const again = await run("--no-check");
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).toContain(`lists "${PLUGIN_DIST}" already`);
    expect(again.stdout).toContain("✔ guard in place (version 1)");
    expect(readFileSync(config, "utf8")).toBe(text);
  });

  it("creates opencode.json when there is none; --plugin replaces the spec of an entry, keeping its options", async () => {
    const r = await run("--no-check");
    expect(r.code, r.stderr).toBe(0);
    const config = join(repo, "opencode.json");
    expect(JSON.parse(readFileSync(config, "utf8"))).toEqual({ $schema: "https://opencode.ai/config.json", plugin: ["opencode-sandboxed"] });
    writeFileSync(config, JSON.stringify({ plugin: ["other-plugin", ["opencode-sandboxed@0.1.0", { provider: "local" }]], model: "a/b" }, null, 2));
    const moved = await run("--no-check", "--plugin", REPO);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout).toContain(`plugin entry "opencode-sandboxed@0.1.0" now "${PLUGIN_DIST}"`);
    expect(JSON.parse(readFileSync(config, "utf8"))).toEqual({ plugin: ["other-plugin", [PLUGIN_DIST, { provider: "local" }]], model: "a/b" });
  });

  it("fails, naming the entry, when OpenCode cannot load the plugin it lists", async () => {
    writeFileSync(join(repo, "opencode.json"), JSON.stringify({ plugin: ["file:///nonexistent/opencode-sandboxed/dist/plugin/index.js"] }));
    const r = await run("--opencode", OPENCODE);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('✘ OpenCode lists "file:///nonexistent/opencode-sandboxed/dist/plugin/index.js"');
    expect(r.stdout).toContain("did not load it");
    expect(existsSync(join(repo, GUARD))).toBe(true); // the guard is there all the same
  });

  it.each([
    ["another package", ["--plugin", "left-pad"], 2, "--plugin left-pad: not opencode-sandboxed"],
    ["a path that does not exist", ["--plugin", "./nowhere/index.js"], 2, "does not exist"],
    ["a tarball", ["--plugin", "./opencode-sandboxed-0.1.0.tgz"], 2, "npm install ./opencode-sandboxed-0.1.0.tgz"],
    // Why, in the message: OpenCode would install it and its dependencies from the registry at start-up, silently.
    ["a file: tarball spec", ["--plugin", "file:./opencode-sandboxed-0.1.0.tgz"], 2, "install it and all its dependencies from the npm registry at start-up"],
  ])("bad input, %s (%s): exit %s naming it, nothing written", async (_what, args, code, message) => {
    if (args[1].endsWith(".tgz")) writeFileSync(join(repo, "opencode-sandboxed-0.1.0.tgz"), "");
    const r = await run("--no-check", ...args);
    expect(r.code).toBe(code);
    expect(r.stderr).toContain(message);
    expect(existsSync(join(repo, "opencode.json"))).toBe(false);
    expect(existsSync(join(repo, GUARD))).toBe(false);
  });

  it("a configuration that is not valid JSONC: exit 1 naming the file and line, the file untouched", async () => {
    const config = join(repo, "opencode.json");
    writeFileSync(config, '{\n  "plugin": [\n    "x"\n  \n');
    const r = await run("--no-check");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`${config}: not valid JSON\\(C\\): \\w+ on line \\d`));
    expect(readFileSync(config, "utf8")).toBe('{\n  "plugin": [\n    "x"\n  \n');
  });

  it("without OpenCode on PATH: the configuration and guard are written, the check says how to get OpenCode", async () => {
    const r = await cli(["init"], { cwd: repo, env: { ...env, PATH: "/usr/bin:/bin" } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("OpenCode is not on PATH");
    expect(existsSync(join(repo, "opencode.json"))).toBe(true);
    expect(existsSync(join(repo, GUARD))).toBe(true);
  });
});
