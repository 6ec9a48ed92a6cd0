/**
 * `doctor` on what a new user gets wrong, with the built CLI and the real OpenCode: the
 * plugin missing from OpenCode's configuration, an entry OpenCode cannot load, no
 * guard, a machine without bubblewrap (simulated with PATH). Each is a ✘ or ! line with
 * its fix; the plugin listed, loading and guarded is in local.test.ts ("exits 0").
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { cleanupAll, makeRepo, tempDir } from "../integration/git-support.js";
import { lacks } from "../support/prereq.js";
import { cli, cliEnv } from "./cli-kit.js";
import { OPENCODE, opencodeEnv, pathWithout } from "./opencode-env.js";

// Each test starts OpenCode (and the CLI) on a loaded machine: a bound for a hang, not a timing claim.
describe("doctor", { timeout: 300_000 }, () => {
  if (lacks(existsSync(OPENCODE) ? undefined : `${OPENCODE} is missing (npm ci)`)) return;

  let repo: string;
  let env: NodeJS.ProcessEnv;
  const doctor = (extra: NodeJS.ProcessEnv = {}) => cli(["doctor"], { cwd: repo, env: { ...env, ...extra } });
  beforeEach(async () => {
    repo = await makeRepo();
    env = await opencodeEnv(cliEnv({ data: await tempDir("cli-data-"), config: await tempDir("cli-config-") }), repo);
  });
  afterAll(cleanupAll);

  it("the plugin missing from the configuration: ✘ with the fix (init), no guard: !, exit 1", async () => {
    writeFileSync(join(repo, "opencode.json"), JSON.stringify({ plugin: ["some-other-plugin-not-installed-4d1e"] }));
    const r = await doctor();
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/✔ opencode: 1\.18\.33/);
    expect(r.stdout).toContain("✘ plugin listed: OpenCode's configuration for this project does not list opencode-sandboxed");
    expect(r.stdout).toContain("fix: npx opencode-sandboxed init");
    expect(r.stdout).toMatch(/! guard: .*opencode-sandboxed-guard\.js is missing/);
    expect(r.stderr).toContain("starting OpenCode"); // the progress line of the long step
    const j = JSON.parse((await cli(["doctor", "--json"], { cwd: repo, env })).stdout);
    expect(j.ok).toBe(false);
    expect(j.sections.find((s: { name: string }) => s.name === "opencode").checks).toContainEqual(expect.objectContaining({ name: "plugin listed", ok: false }));
  });

  it("listed (from OPENCODE_CONFIG too) but cannot be loaded: ✘ plugin loads, naming the entry and its file", async () => {
    const config = join(await tempDir("cli-occ-"), "custom.json");
    const spec = "file:///nonexistent/opencode-sandboxed/dist/plugin/index.js";
    writeFileSync(config, JSON.stringify({ plugin: [spec] }));
    const r = await doctor({ OPENCODE_CONFIG: config });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`✔ plugin listed: ${spec} (${config})`);
    expect(r.stdout).toContain("✘ plugin loads: OpenCode started without it");
  });

  it("no bubblewrap on PATH: ✘ naming it and how to install it, exit 1", async () => {
    const r = await doctor({ PATH: await pathWithout("bwrap"), OPENCODE_SANDBOX_PROVIDER: "local" });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/✘ sandbox: .*bubblewrap is not installed/);
    expect(r.stdout).toContain("apt-get install bubblewrap");
    expect(r.stdout).toContain("✘ Sandboxes cannot run here");
  });
});
