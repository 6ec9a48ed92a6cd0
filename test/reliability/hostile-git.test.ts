/**
 * The git side of the hostile-input corpus (hostile/corpus-git.ts), through the real
 * sync and merge paths: the project's service as the plugin builds it (configuration
 * from loadConfig, the real local provider, the state file), one real bubblewrap
 * sandbox shared by the cases. Before each case the sandbox's repository is copied;
 * after it, put back (unless the case leaves it sound). Each case: the outcome it
 * expects, and the host untouched but for the refs it lists.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ToolContext } from "@opencode-ai/plugin";
import { lacks, missingBwrap, missingCommand } from "../support/prereq.js";
import { makeWorld, type World } from "./hostile/world.js";
import { GIT_CASES, type GitCase } from "./hostile/corpus-git.js";

const world: World = await makeWorld("hostile-git");
const { loadConfig } = await import("../../.opencode/plugin/sandbox/config.js");
const { silentLogger } = await import("../../.opencode/plugin/sandbox/core/logger.js");
const { ProjectService } = await import("../../.opencode/plugin/sandbox/service/project.js");
const { sandboxMergeTool } = await import("../../.opencode/plugin/sandbox/opencode/merge-tool.js");
const { isGitSyncError } = await import("../../.opencode/plugin/sandbox/git/errors.js");
type Service = InstanceType<typeof ProjectService>;
type Sandbox = Awaited<ReturnType<Service["sandboxFor"]>>;

const SESSION = "ses_hostile_git";
let service: Service;
let sandbox: Sandbox;

async function sh(command: string, allowFail = false): Promise<string> {
  // bash: the crafted-object setups use $(…) with python3 inside.
  const r = await sandbox.exec('bash -c "$HOSTILE_CMD"', { cwd: sandbox.projectDir, env: { HOSTILE_CMD: command }, timeoutMs: 240_000 });
  if (r.exitCode !== 0 && !allowFail) throw new Error(`sandbox command failed (${r.exitCode}): ${command}\n${r.output.slice(-2000)}`);
  return r.output;
}

/** The outcome as one line (see corpus-git.ts). */
async function outcome(c: GitCase): Promise<string> {
  try {
    if (c.mergeRef !== undefined) {
      const tool = sandboxMergeTool((id, ref) => service.merge(id, ref));
      const ctx = { sessionID: SESSION } as ToolContext;
      const r = await tool.execute({ ref: world.fill(c.mergeRef) }, ctx);
      const text = typeof r === "string" ? r : r.output;
      const failed = /^Could not merge: /.exec(text);
      if (failed) {
        // The tool's words; the kind comes from the service itself.
        const kind = await service.merge(SESSION, world.fill(c.mergeRef)).then(
          () => "none",
          (e: unknown) => (isGitSyncError(e) ? e.kind : "thrown"),
        );
        return `error ${kind}: ${text.slice(failed[0].length)}`;
      }
      return text;
    }
    const r = await service.sync(SESSION, "manual");
    return r.kind === "synced" ? `synced ${r.outcome.kind}` : `skipped ${r.why}`;
  } catch (error) {
    return isGitSyncError(error) ? `error ${error.kind}: ${error.message}` : `thrown ${(error as Error).stack}`;
  }
}

describe("hostile input on the git side, through the real sync path", () => {
  if (lacks(missingBwrap(), missingCommand("git"))) return;

  beforeAll(async () => {
    const config = loadConfig({ options: { local: { network: "none" }, sync: { debounceMs: 0, sizeBudgetMb: 8 } }, directory: world.repo });
    service = new ProjectService({
      projectId: "hostile-git",
      worktree: world.repo,
      directory: world.repo,
      config,
      log: silentLogger,
      notify: () => {},
    });
    sandbox = await service.sandboxFor(SESSION);
    await sh("git config user.name agent && git config user.email agent@sandbox");
  }, 300_000);

  afterAll(async () => {
    if (service) {
      await service.manager.delete(SESSION).catch(() => {});
      await service.dispose();
    }
    await world.close();
  }, 300_000);

  it.each(GIT_CASES.map((c) => [`[${c.class}] ${c.name}`, c] as const))("%s", async (_name, c: GitCase) => {
    await sh("rm -rf /tmp/git-copy && cp -a .git /tmp/git-copy");
    let got = "";
    let before = world.print();
    try {
      if (c.setup) await sh(world.fill(c.setup));
      before = world.print();
      got = await outcome(c);
    } finally {
      if (!c.keep) await sh("rm -rf .git && cp -a /tmp/git-copy .git && git reset -q --hard && git clean -fdxq");
    }
    expect(got).toMatch(c.expect);
    expect(got).not.toMatch(/^thrown /);
    expect(world.changes(before, c.refs ?? [])).toEqual([]);
  }, 180_000);
});
