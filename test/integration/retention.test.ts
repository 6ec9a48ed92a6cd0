/**
 * The opt-in retention, as the plugin runs it when it starts (ProjectService.retain), on
 * the real local provider: a session's sandbox unused for longer than a small age is
 * synced to its branch, then deleted; one whose sync fails is kept; one in use stays;
 * with retention off (the default) nothing happens.
 */
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigSchema, loadConfig, type Config } from "../../.opencode/plugin/sandbox/config.js";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { LocalProvider } from "../../.opencode/plugin/sandbox/providers/local/index.js";
import { isSandboxError } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { paths, projectIdOf, projectService } from "../cli/cli-kit.js";
import { cleanupAll, git, makeRepo, tempDir } from "./git-support.js";
import { LIMITS } from "../support/local-harness.js";
import { lacks, missingBwrap, missingRoot } from "../support/prereq.js";

// One second: the sandboxes below are made older than that by waiting (a lower bound, never an upper one).
const AGE_DAYS = 1 / 86_400;
const config = (retention: Config["retention"]) => ConfigSchema.parse({ sync: { debounceMs: 0 }, retention });

describe("retention on the local provider", { timeout: 300_000 }, () => {
  if (lacks(missingRoot(), missingBwrap())) return;

  let repo: string;
  let xdgData: string;
  let provider: LocalProvider;
  const state = async () => JSON.parse(await readFile(`${paths(xdgData).stateDir}/${projectIdOf(repo)}.json`, "utf8"));
  /** A new OpenCode process's service for the project (the same provider: one machine). */
  const service = (retention: Config["retention"] = {}) => projectService({ repo, xdgData, provider, config: config(retention) });

  beforeAll(async () => {
    repo = await makeRepo();
    xdgData = await tempDir("retention-data-");
    provider = new LocalProvider({ root: paths(xdgData).sandboxes, network: "none", ...LIMITS, log: silentLogger });
  });

  afterAll(async () => {
    for (const info of (await provider?.list({}).catch(() => [])) ?? []) await provider.delete(info.id).catch(() => {});
    await provider?.dispose();
    await cleanupAll();
  });

  it("off by default: nothing is pruned; with a small age, an unused sandbox's work goes to its branch and the sandbox goes; a running one stays", async () => {
    const first = service();
    const old = await first.sandboxFor("ses_ret_old");
    await old.writeFile(`${old.projectDir}/kept-work.txt`, "synced by retention\n");
    const running = await first.sandboxFor("ses_ret_running");
    await provider.stop(old.id);
    await new Promise((r) => setTimeout(r, 1500));

    const off = service();
    await off.retain();
    expect((await provider.get(old.id)).id).toBe(old.id);

    const on = service({ maxAgeDays: AGE_DAYS });
    await on.retain();
    await expect(provider.get(old.id)).rejects.toSatisfy((e) => isSandboxError(e, "sandbox_not_found"));
    const branch = git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/opencode/");
    expect(branch.split("\n").map((b) => { try { return git(repo, "show", `${b}:kept-work.txt`); } catch { return ""; } })).toContain("synced by retention");
    expect((await state()).sessions["ses_ret_old"]).toBeUndefined();
    // Running: in use (by this process), whatever its age.
    expect((await provider.get(running.id)).state).toBe("started");
  });

  it("a sandbox whose work cannot be synced is kept", async () => {
    const first = service();
    const broken = await first.sandboxFor("ses_ret_broken");
    expect((await broken.exec("echo precious > p.txt && rm -rf .git")).exitCode).toBe(0);
    await provider.stop(broken.id);
    await new Promise((r) => setTimeout(r, 1500));
    const on = service({ maxAgeDays: AGE_DAYS });
    await on.retain();
    expect((await provider.get(broken.id)).id).toBe(broken.id);
    expect((await state()).sessions["ses_ret_broken"].sandboxId).toBe(broken.id);
  });

  it.each([
    [{ maxAgeDays: 7, maxTotalGiB: 20 }, undefined],
    [{ maxAgeDays: -1 }, 'option "retention.maxAgeDays" is -1'],
    [{ maxTotalGiB: "big" }, 'option "retention.maxTotalGiB" is "big"'],
    [{ keep: 3 }, 'unknown option "retention.keep"'],
  ])("config retention %j", (retention, problem) => {
    const load = () => loadConfig({ options: { retention }, env: {} });
    if (problem === undefined) expect(load().retention).toEqual(retention);
    else expect(load).toThrow(problem);
  });
});
