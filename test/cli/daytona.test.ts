/**
 * The CLI with the Daytona provider, through the stand-in: a session's sandbox made by the
 * real ProjectService in this process, then `status` and `doctor` from the built CLI — and
 * `doctor` with a wrong key, which must fail naming DAYTONA_API_KEY.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DaytonaProvider } from "../../.opencode/plugin/sandbox/providers/daytona/index.js";
import type { Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { startDaytonaStandin, type DaytonaStandin } from "../standin/daytona/index.js";
import { cleanupAll, makeRepo } from "../integration/git-support.js";
import { lacks, missingBwrap, missingRoot } from "../support/prereq.js";
import { cli, daytonaKit, projectService } from "./cli-kit.js";
import { opencodeEnv, PLUGIN_DIST } from "./opencode-env.js";

const SESSION = "ses_cli_daytona_1";

describe("CLI on Daytona (stand-in)", { timeout: 120_000 }, () => {
  if (lacks(missingRoot(), missingBwrap())) return;

  let standin: DaytonaStandin;
  let provider: DaytonaProvider;
  let sandbox: Sandbox;
  let repo: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    standin = await startDaytonaStandin({ daemon: "shell" });
    repo = await makeRepo();
    const kit = await daytonaKit(standin);
    ({ env, provider } = kit);
    const xdgData = kit.xdgData;
    sandbox = await projectService({ repo, xdgData, provider }).sandboxFor(SESSION);
  }, 120_000);

  afterAll(async () => {
    await provider?.dispose();
    await standin?.close();
    await cleanupAll();
  });

  it("status lists the session on daytona with its sandbox's state and branch", async () => {
    const r = await cli(["status", "--json"], { cwd: repo, env });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).sessions).toMatchObject([{ session: SESSION, provider: "daytona", sandbox: sandbox.id, state: "started", branch: "opencode/1" }]);
    const lines = await cli(["status"], { cwd: repo, env });
    expect(lines.stdout).toContain(`daytona ${sandbox.id} (started)`);
  });

  it("doctor exits 0 with the right key (the plugin listed by init and loading in the real OpenCode)", async () => {
    const withOpencode = await opencodeEnv(env, repo);
    const init = await cli(["init", "--no-check", "--plugin", PLUGIN_DIST], { cwd: repo, env: withOpencode });
    expect(init.code, init.stdout + init.stderr).toBe(0);
    const r = await cli(["doctor"], { cwd: repo, env: withOpencode });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain("daytona provider (auto)");
    expect(r.stdout).toContain("✔ api key: accepted");
    expect(r.stdout, r.stdout + r.stderr).toMatch(/✔ plugin loads: .*provider daytona/);
  }, 300_000);

  it("doctor exits 1 with a wrong key, naming DAYTONA_API_KEY", async () => {
    const r = await cli(["doctor"], { cwd: repo, env: { ...env, OPENCODE_SANDBOX_PROVIDER: "daytona", DAYTONA_API_KEY: "wrong-key-123456" } });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/✘ api key: .*DAYTONA_API_KEY/);
    expect(r.stdout).not.toContain("wrong-key-123456");
  });
});
