/**
 * The CLI on the real local provider: a session's sandbox made by the real ProjectService
 * in this process (as the plugin would), then the built CLI as a child process in the
 * repository — status, sync, diff, logs, prune, doctor.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileLogger, silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { LABEL_PLUGIN } from "../../.opencode/plugin/sandbox/core/session-manager.js";
import { LocalProvider } from "../../.opencode/plugin/sandbox/providers/local/index.js";
import { isSandboxError, type Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import type { ProjectService } from "../../.opencode/plugin/sandbox/service/project.js";
import { cleanupAll, git, makeRepo, tempDir } from "../integration/git-support.js";
import { LIMITS } from "../support/local-harness.js";
import { lacks, missingBwrap, missingRoot } from "../support/prereq.js";
import { until } from "../support/until.js";
import { cli, cliEnv, cliSpawn, paths, projectIdOf, projectService } from "./cli-kit.js";
import { opencodeEnv, PLUGIN_DIST } from "./opencode-env.js";

const SESSION = "ses_cli_local_1";

// Each test runs the CLI a few times (a Node start each): a bound for a loaded machine, not a timing claim.
describe("CLI on the local provider", { timeout: 120_000 }, () => {
  if (lacks(missingRoot(), missingBwrap())) return;

  let repo: string;
  let env: NodeJS.ProcessEnv;
  let xdgData: string;
  let provider: LocalProvider;
  let service: ProjectService;
  let sandbox: Sandbox;
  const run = (...args: string[]) => cli(args, { cwd: repo, env });

  beforeAll(async () => {
    repo = await makeRepo();
    xdgData = await tempDir("cli-data-");
    env = cliEnv({ data: xdgData, config: await tempDir("cli-config-") });
    provider = new LocalProvider({ root: paths(xdgData).sandboxes, network: "none", ...LIMITS, log: silentLogger });
    service = projectService({ repo, xdgData, provider });
    sandbox = await service.sandboxFor(SESSION);
    await sandbox.writeFile(`${sandbox.projectDir}/hello.txt`, "hello from the sandbox\n");
  }, 120_000);

  afterAll(async () => {
    for (const info of (await provider?.list({}).catch(() => [])) ?? []) await provider.delete(info.id).catch(() => {});
    await provider?.dispose();
    await cleanupAll();
  });

  it("status lists the session with its sandbox, state and branch", async () => {
    const r = await run("status");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(SESSION);
    expect(r.stdout).toContain(`local ${sandbox.id} (started)`);
    expect(r.stdout).toMatch(/branch\s+opencode\/1/);
    const j = await run("status", "--json");
    expect(JSON.parse(j.stdout)).toMatchObject({
      project: projectIdOf(repo),
      sessions: [{ session: SESSION, provider: "local", sandbox: sandbox.id, state: "started", branch: "opencode/1", work: { where: "repository", branch: "opencode/1" } }],
    });
  });

  it("sync brings a file written in the sandbox to opencode/1", async () => {
    const r = await run("sync");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("work synced to opencode/1");
    expect(git(repo, "show", "opencode/1:hello.txt")).toBe("hello from the sandbox");
    // The user's checkout is untouched.
    expect(git(repo, "rev-parse", "--abbrev-ref", "HEAD")).toBe("main");
    const again = await run("sync", SESSION.slice(0, 10));
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain("nothing new; opencode/1 is at");
    const status = JSON.parse((await run("status", "--json")).stdout);
    expect(status.sessions[0].lastSyncedCommit).toBe(git(repo, "rev-parse", "opencode/1"));
    expect(status.sessions[0].lastSyncedAt).toEqual(expect.any(String));
  });

  it("diff syncs first, then shows what the branch changes since the sandbox started", async () => {
    await sandbox.writeFile(`${sandbox.projectDir}/second.txt`, "second change\n");
    const r = await run("diff", "opencode/1");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("+++ b/hello.txt");
    expect(r.stdout).toContain("+++ b/second.txt");
    expect(r.stdout).toContain("+second change");
    expect(r.stderr).toContain("work synced to opencode/1");
    // --no-sync: the branch as last synced, without the sandbox's newest file.
    await sandbox.writeFile(`${sandbox.projectDir}/third.txt`, "third\n");
    const stale = await run("diff", "--no-sync", "--stat");
    expect(stale.code, stale.stderr).toBe(0);
    expect(stale.stdout).toContain("second.txt");
    expect(stale.stdout).not.toContain("third.txt");
  });

  it("sync and diff name an unknown session and fail", async () => {
    const r = await run("sync", "ses_nobody");
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('No session "ses_nobody"');
  });

  it("logs shows the session's lines; --follow prints what is written after", async () => {
    const log = new FileLogger({ path: paths(xdgData).log });
    log.info("a line about another session", "ses_other");
    await log.flush();
    const r = await run("logs", "--session", SESSION);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`\\[INFO\\] \\[${SESSION}\\] synced \\(manual\\)`));
    expect(r.stdout).not.toContain("ses_other");
    const all = await run("logs", "-n", "1");
    expect(all.stdout.trim().split("\n")).toHaveLength(1);

    const following = cliSpawn(["logs", "--follow", "--session", SESSION], { cwd: repo, env });
    await until(() => following.output().includes("synced (manual)"), "the existing lines are printed");
    log.info("not for this filter", "ses_other");
    log.info("written while following", SESSION);
    await log.flush();
    await until(() => following.output().includes("written while following"), "the new line is printed");
    following.child.kill("SIGTERM");
    expect(await following.exited).toBe(0);
    expect(following.output()).not.toContain("not for this filter");
  });

  it("prune lists a sandbox no session maps and deletes it only with --yes", async () => {
    const stray = await provider.create({ labels: { plugin: LABEL_PLUGIN, project: projectIdOf(repo), session: "ses_lost" } });
    const other = await provider.create({ labels: { plugin: LABEL_PLUGIN, project: "another-project", session: "ses_x" } });

    const dry = await run("prune");
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(stray.id);
    expect(dry.stdout).not.toContain(sandbox.id);
    expect(dry.stdout).not.toContain(other.id);
    // Made a moment ago: it may be another OpenCode's, being set up — spared by the grace period.
    expect(dry.stdout).toContain(`${stray.id} (started, made for session ses_lost) — spared: younger than 10 min`);
    expect((await run("prune", "--yes")).stdout).not.toContain(`deleted ${stray.id}`);
    expect((await provider.get(stray.id)).id).toBe(stray.id);

    const yes = await run("prune", "--yes", "--grace", "0");
    expect(yes.code, yes.stderr).toBe(0);
    expect(yes.stdout).toContain(`deleted ${stray.id}`);
    await expect(provider.get(stray.id)).rejects.toSatisfy((e) => isSandboxError(e, "sandbox_not_found"));
    // The mapped session's sandbox and another project's are untouched.
    expect((await provider.get(sandbox.id)).state).toBe("started");
    expect((await provider.get(other.id)).id).toBe(other.id);
    expect((await run("prune")).stdout).toContain("No local sandbox of this project is left without a session");
  });

  it("doctor exits 0 on this machine, with the plugin listed (init), loading in the real OpenCode, and the guard in place", async () => {
    const withOpencode = await opencodeEnv(env, repo);
    const init = await cli(["init", "--no-check", "--plugin", PLUGIN_DIST], { cwd: repo, env: withOpencode });
    expect(init.code, init.stdout + init.stderr).toBe(0);
    const r = await cli(["doctor"], { cwd: repo, env: withOpencode });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("✔ bubblewrap");
    expect(r.stdout).toMatch(/✔ git: git version/);
    expect(r.stdout).toContain(`✔ state directory`);
    expect(r.stdout).toContain(`✔ plugin listed: ${PLUGIN_DIST} (${repo}/opencode.json)`);
    expect(r.stdout).toContain(`✔ plugin loads: `);
    expect(r.stdout).toContain(`opencode-sandboxed loaded for ${repo}`);
    expect(r.stdout).toMatch(/✔ guard: version 1/);
    expect(r.stdout).toContain("✔ Sandboxes can run here.");
    const j = JSON.parse((await cli(["doctor", "--json"], { cwd: repo, env: withOpencode })).stdout);
    expect(j.ok).toBe(true);
  }, 300_000);

  it("doctor exits 1 with an invalid configuration, naming the option", async () => {
    const r = await cli(["doctor"], { cwd: repo, env: { ...env, OPENCODE_SANDBOX_PROVIDER: "docker" } });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('✘ configuration: option "provider" is "docker"');
  });

  it("--help and usage errors follow CLI conventions", async () => {
    const help = await run("--help");
    expect(help.code).toBe(0);
    for (const command of ["doctor", "status", "sync", "diff", "logs", "prune"]) expect(help.stdout).toContain(command);
    const wrong = await run("prune", "--grace", "soon");
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("--grace");
  });
});
