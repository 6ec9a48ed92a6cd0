/**
 * The CLI in a folder without git, on the real local provider: a session's sandbox made
 * by the real ProjectService in this process (as the plugin would, keyed by the folder's
 * real path), then the built CLI in the folder — diff shows the work kept aside, apply
 * writes it as a three-way merge (dry run first, refusals and conflicts exit 1 with
 * nothing written).
 */
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { projectKey } from "../../.opencode/plugin/sandbox/core/project-key.js";
import { LocalProvider } from "../../.opencode/plugin/sandbox/providers/local/index.js";
import type { Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { ProjectService } from "../../.opencode/plugin/sandbox/service/project.js";
import { cleanupAll, makeRepo, tempDir, testConfig } from "../integration/git-support.js";
import { LIMITS } from "../support/local-harness.js";
import { lacks, missingBwrap, missingRoot } from "../support/prereq.js";
import { cli, cliEnv, paths, projectIdOf } from "./cli-kit.js";

const SESSION = "ses_cli_nongit_1";

async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const p = join(e.parentPath, e.name);
    out[p.slice(dir.length + 1)] = createHash("sha256").update(await readFile(p)).digest("hex");
  }
  return out;
}

// Each test runs the CLI a few times (a Node start each, a sync through a real sandbox): a bound for a loaded machine.
describe("CLI in a folder without git, on the local provider", { timeout: 240_000 }, () => {
  if (lacks(missingRoot(), missingBwrap())) return;

  let folder: string;
  let env: NodeJS.ProcessEnv;
  let provider: LocalProvider;
  let service: ProjectService;
  let sandbox: Sandbox;
  let xdgData: string;
  const run = (...args: string[]) => cli(args, { cwd: folder, env });
  const sh = async (command: string) => expect((await sandbox.exec(command)).exitCode).toBe(0);

  beforeAll(async () => {
    folder = await tempDir("cli-nongit-");
    await writeFile(join(folder, "a.txt"), "a\n");
    await writeFile(join(folder, "c.txt"), "c\n");
    xdgData = await tempDir("cli-data-");
    env = cliEnv({ data: xdgData, config: await tempDir("cli-config-") });
    provider = new LocalProvider({ root: paths(xdgData).sandboxes, network: "none", ...LIMITS, log: silentLogger });
    service = new ProjectService({
      projectId: await projectKey("global", folder),
      worktree: "/",
      directory: folder,
      config: testConfig(),
      log: silentLogger,
      notify: () => {},
      provider: async () => provider,
      stateDir: paths(xdgData).stateDir,
      filesDir: join(xdgData, "opencode", "storage", "opencode-sandboxed-files"),
    });
    sandbox = await service.sandboxFor(SESSION);
    await sh("echo agent >> a.txt && echo new > new.txt");
  }, 120_000);

  afterAll(async () => {
    for (const info of (await provider?.list({}).catch(() => [])) ?? []) await provider.delete(info.id).catch(() => {});
    await provider?.dispose();
    await cleanupAll();
  });

  it("status finds the session under the folder's own key and says its work is kept aside, with how to review and apply it", async () => {
    const key = await projectKey("global", folder);
    const r = await run("status", "--json");
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      project: key,
      sessions: [
        {
          session: SESSION,
          branch: "opencode/1",
          work: {
            where: "kept_aside",
            branch: "opencode/1",
            privateRepository: join(xdgData, "opencode", "storage", "opencode-sandboxed-files", `${key}.git`),
            review: "opencode-sandboxed diff opencode/1",
            apply: "opencode-sandboxed apply opencode/1",
          },
        },
      ],
    });
    const text = await run("status");
    expect(text.stdout).toContain(
      "work      kept aside as opencode/1 (not in this folder) — review: opencode-sandboxed diff opencode/1 · apply: opencode-sandboxed apply opencode/1",
    );
    // Not shown as if it were a branch of the folder.
    expect(text.stdout).not.toMatch(/branch\s+opencode\/1/);
  });

  it("diff syncs and shows the work kept aside; the folder is untouched", async () => {
    const before = await snapshot(folder);
    const r = await run("diff");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("+++ b/new.txt");
    expect(r.stdout).toMatch(/\+agent/);
    expect(r.stderr).toContain("is not a git repository");
    expect(r.stderr).toContain("apply it: opencode-sandboxed apply opencode/1");
    expect(await snapshot(folder)).toEqual(before);
  });

  it("apply --dry-run says what would change and writes nothing; apply writes it, keeping the user's own edit", async () => {
    await writeFile(join(folder, "c.txt"), "c by the user\n");
    const before = await snapshot(folder);
    const dry = await run("apply", "--dry-run");
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout.split("\n")).toEqual(expect.arrayContaining(["M a.txt", "A new.txt"]));
    expect(dry.stdout).toContain("Would apply 2 change(s)");
    expect(await snapshot(folder)).toEqual(before);

    const r = await run("apply", "opencode/1");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`✔ Applied 2 change(s) of session ${SESSION} (opencode/1`);
    expect(await readFile(join(folder, "a.txt"), "utf8")).toBe("a\nagent\n");
    expect(await readFile(join(folder, "new.txt"), "utf8")).toBe("new\n");
    expect(await readFile(join(folder, "c.txt"), "utf8")).toBe("c by the user\n");
    const again = await run("apply", "--json");
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ session: SESSION, kind: "up_to_date" });
  });

  it("auto-run configuration is refused (exit 1, nothing written) until --allow-auto-run", async () => {
    await sh("echo 'use nix' > .envrc");
    const r = await run("apply");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\.envrc: .envrc configures or runs tools on the host \(allow with --allow-auto-run\)/);
    expect(await readFile(join(folder, ".envrc"), "utf8").catch(() => null)).toBeNull();
    const allowed = await run("apply", "--allow-auto-run");
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(await readFile(join(folder, ".envrc"), "utf8")).toBe("use nix\n");
  });

  it("a conflict is reported per file (exit 1) and nothing is written", async () => {
    await sh("echo 'agent c' > c.txt && echo more >> new.txt");
    const before = await snapshot(folder);
    const r = await run("apply");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/conflicts with changes in .* in 1 file\(s\); nothing was written/);
    expect(r.stderr).toMatch(/ {2}c\.txt: CONFLICT/);
    expect(await snapshot(folder)).toEqual(before);
  });

  it("apply in a git repository refuses, naming the session's branch and how to merge it", async () => {
    const repo = await makeRepo();
    const id = projectIdOf(repo);
    const now = new Date().toISOString();
    const record = { provider: "local", sandboxId: "sbx", branch: "opencode/4", createdAt: now, lastUsedAt: now };
    await mkdir(paths(xdgData).stateDir, { recursive: true });
    await writeFile(join(paths(xdgData).stateDir, `${id}.json`), JSON.stringify({ version: 1, projectId: id, worktree: repo, sessions: { ses_g: record } }));
    const r = await cli(["apply"], { cwd: repo, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${repo} is a git repository: session ses_g's work is on the branch opencode/4. Merge it: git merge opencode/4`);
  });
});
