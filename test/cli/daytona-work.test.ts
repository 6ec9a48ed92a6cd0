/**
 * The CLI's work commands with the Daytona provider through the stand-in (the real SDK
 * over HTTP, in this process as the plugin and in the built CLI): `sync`, `diff`, `logs`
 * on a git repository and on a folder without git, `apply` in the folder, then
 * `uninstall` — each checked by its effect: the branch tip, the patch, the log lines,
 * the folder's files, the stand-in's sandboxes gone and the branches kept.
 */
import { existsSync } from "node:fs";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DaytonaProvider } from "../../.opencode/plugin/sandbox/providers/daytona/index.js";
import type { Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { startDaytonaStandin, type DaytonaStandin } from "../standin/daytona/index.js";
import { cleanupAll, git, makeRepo, tempDir } from "../integration/git-support.js";
import { lacks, missingBwrap, missingRoot } from "../support/prereq.js";
import { cli, daytonaKit, filesProjectService, paths, projectService } from "./cli-kit.js";

type Where = "git repository" | "folder without git";

describe("CLI sync, diff, logs, apply and uninstall on Daytona (stand-in)", { timeout: 300_000 }, () => {
  if (lacks(missingRoot(), missingBwrap())) return;

  let standin: DaytonaStandin;
  let provider: DaytonaProvider;
  let env: NodeJS.ProcessEnv;
  let xdgData: string;
  const at: Record<Where, { dir: string; session: string; box: Sandbox }> = {} as never;
  const run = (where: Where, ...args: string[]) => cli(args, { cwd: at[where].dir, env });
  /** Where the session's branch lives: the repository itself, or the folder's private repository. */
  const branchRepo = async (where: Where) => {
    if (where === "git repository") return at[where].dir;
    const status = JSON.parse((await run(where, "status", "--json")).stdout) as { sessions: { work: { privateRepository: string } }[] };
    return status.sessions[0]!.work.privateRepository;
  };

  beforeAll(async () => {
    standin = await startDaytonaStandin({ daemon: "shell" });
    ({ xdgData, env, provider } = await daytonaKit(standin));
    const repo = await makeRepo();
    const folder = await tempDir("cli-dt-folder-");
    await writeFile(join(folder, "a.txt"), "a\n");
    at["git repository"] = { dir: repo, session: "ses_dt_git", box: await projectService({ repo, xdgData, provider }).sandboxFor("ses_dt_git") };
    const files = await filesProjectService({ folder, xdgData, provider });
    at["folder without git"] = { dir: folder, session: "ses_dt_files", box: await files.sandboxFor("ses_dt_files") };
    for (const { box } of Object.values(at)) await box.writeFile(`${box.projectDir}/from-daytona.txt`, "made on daytona\n");
  }, 150_000);

  afterAll(async () => {
    for (const info of (await provider?.list({}).catch(() => [])) ?? []) await provider.delete(info.id).catch(() => {});
    await provider?.dispose();
    await standin?.close();
    await cleanupAll();
  });

  it.each<[Where, string]>([
    ["git repository", "work synced to opencode/1"],
    ["folder without git", "work saved as opencode/1; your files are untouched"],
  ])("sync in a %s brings the sandbox's file to opencode/1 (exit 0); again: nothing new", async (where, said) => {
    const r = await run(where, "sync");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(said);
    expect(git(await branchRepo(where), "show", "opencode/1:from-daytona.txt")).toBe("made on daytona");
    const again = await run(where, "sync", at[where].session);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`nothing new; opencode/1 is at ${git(await branchRepo(where), "rev-parse", "--short=7", "opencode/1").slice(0, 7)}`);
  });

  it.each<[Where, string | undefined]>([
    ["git repository", undefined],
    ["folder without git", "apply it: opencode-sandboxed apply opencode/1"],
  ])("diff in a %s syncs the newest work first and shows the patch (exit 0)", async (where, hint) => {
    const { box } = at[where];
    await box.writeFile(`${box.projectDir}/second.txt`, "second on daytona\n");
    const r = await run(where, "diff");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("+++ b/from-daytona.txt");
    expect(r.stdout).toContain("+++ b/second.txt");
    expect(r.stdout).toContain("+second on daytona");
    if (hint) expect(r.stderr).toContain(hint);
    expect(git(await branchRepo(where), "show", "opencode/1:second.txt")).toBe("second on daytona");
  });

  it.each<Where>(["git repository", "folder without git"])("logs in a %s shows that session's syncs, not the other's", async (where) => {
    const other = Object.values(at).find((p) => p.session !== at[where].session)!.session;
    const r = await run(where, "logs", "--session", at[where].session);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`\\[INFO\\] \\[${at[where].session}\\] synced \\(manual\\)`));
    expect(r.stdout).not.toContain(other);
  });

  it("apply in the folder without git writes the Daytona session's work (dry run first); in the git repository it refuses (exit 1)", async () => {
    const folder = at["folder without git"].dir;
    const dry = await run("folder without git", "apply", "--dry-run");
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout.split("\n")).toEqual(expect.arrayContaining(["A from-daytona.txt", "A second.txt"]));
    expect(await readFile(join(folder, "second.txt"), "utf8").catch(() => null)).toBeNull();
    const r = await run("folder without git", "apply");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("✔ Applied 2 change(s) of session ses_dt_files (opencode/1");
    expect(await readFile(join(folder, "from-daytona.txt"), "utf8")).toBe("made on daytona\n");
    expect(await readFile(join(folder, "second.txt"), "utf8")).toBe("second on daytona\n");
    const refused = await run("git repository", "apply");
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("is a git repository: session ses_dt_git's work is on the branch opencode/1. Merge it: git merge opencode/1");
  });

  it("uninstall --yes syncs the last work, deletes every Daytona sandbox in the stand-in and the plugin's state; branches stay", async () => {
    const { box } = at["git repository"];
    await box.writeFile(`${box.projectDir}/last.txt`, "last before uninstall\n");
    expect(await provider.list({})).toHaveLength(2);
    const dry = await run("git repository", "uninstall");
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("Dry run: nothing deleted");
    expect(await provider.list({})).toHaveLength(2);
    const r = await run("git repository", "uninstall", "--yes");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const { box } of Object.values(at)) expect(r.stdout).toContain(`✔ deleted ${box.id}`);
    expect(await provider.list({})).toEqual([]);
    expect(existsSync(paths(xdgData).stateDir)).toBe(false);
    expect(git(at["git repository"].dir, "show", "opencode/1:last.txt")).toBe("last before uninstall");
    expect(git(await branchRepoAfter(), "show", "opencode/1:second.txt")).toBe("second on daytona");
  });

  /** After uninstall the state file is gone, so status cannot name the private repository; it stays under the data home (work is never dropped). */
  async function branchRepoAfter() {
    const [repo] = (await readdir(paths(xdgData).filesRepos)).filter((n) => n.endsWith(".git"));
    return join(paths(xdgData).filesRepos, repo!);
  }
});
