/**
 * `status` (disk use, preview links) and `prune` (unused-for-age, never dropping unsynced
 * work) on the real local provider: sessions made by the real ProjectService in this
 * process, as the plugin would, then the built CLI as a child process.
 */
import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { LABEL_PLUGIN } from "../../.opencode/plugin/sandbox/core/session-manager.js";
import { LocalProvider } from "../../.opencode/plugin/sandbox/providers/local/index.js";
import { isSandboxError, type Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import type { ProjectService } from "../../.opencode/plugin/sandbox/service/project.js";
import { toldPortsIn } from "../../.opencode/plugin/sandbox/tools/told-ports.js";
import { cleanupAll, git, makeRepo, tempDir } from "../integration/git-support.js";
import { LIMITS } from "../support/local-harness.js";
import { lacks, missingBwrap, missingRoot } from "../support/prereq.js";
import { cli, cliEnv, paths, projectIdOf, projectService } from "./cli-kit.js";

const OLD = "ses_prune_old";
const BROKEN = "ses_prune_broken";
const LIVE = "ses_prune_live";

// Each test runs the CLI a few times (a Node start each): a bound for a loaded machine, not a timing claim.
describe("CLI status and prune on the local provider", { timeout: 180_000 }, () => {
  if (lacks(missingRoot(), missingBwrap())) return;

  let repo: string;
  let env: NodeJS.ProcessEnv;
  let xdgData: string;
  let provider: LocalProvider;
  let service: ProjectService;
  const boxes: Record<string, Sandbox> = {};
  const run = (...args: string[]) => cli(args, { cwd: repo, env });
  const state = async () => JSON.parse(await readFile(`${paths(xdgData).stateDir}/${projectIdOf(repo)}.json`, "utf8"));

  beforeAll(async () => {
    repo = await makeRepo();
    xdgData = await tempDir("cli-prune-data-");
    env = cliEnv({ data: xdgData, config: await tempDir("cli-prune-config-") });
    provider = new LocalProvider({ root: paths(xdgData).sandboxes, network: "none", ...LIMITS, log: silentLogger });
    service = projectService({ repo, xdgData, provider });
    for (const s of [OLD, BROKEN, LIVE]) boxes[s] = await service.sandboxFor(s);
  }, 120_000);

  afterAll(async () => {
    for (const info of (await provider?.list({}).catch(() => [])) ?? []) await provider.delete(info.id).catch(() => {});
    await provider?.dispose();
    await cleanupAll();
  });

  it("status tells each sandbox's disk use and the preview links told for it", async () => {
    const live = boxes[LIVE]!;
    await live.writeFile(`${live.projectDir}/big.bin`, new Uint8Array(3 * 1024 * 1024).fill(7));
    await toldPortsIn(`${xdgData}/opencode/storage/opencode-sandboxed-ports`).save(live.id, new Map([[8000, "http://127.0.0.1:41234"]]));
    const j = await run("status", "--json");
    expect(j.code, j.stderr).toBe(0);
    const s = (JSON.parse(j.stdout).sessions as { session: string; disk?: { usedBytes?: number }; previews: unknown[] }[]).find((x) => x.session === LIVE)!;
    // The 3 MiB file is in it (blocks really allocated, as du counts them).
    expect(s.disk?.usedBytes).toBeGreaterThanOrEqual(3 * 1024 * 1024);
    expect(s.previews).toEqual([{ port: 8000, url: "http://127.0.0.1:41234" }]);
    const text = await run("status");
    expect(text.stdout).toMatch(/disk\s+\d+\.\d MiB used/);
    expect(text.stdout).toContain("preview   8000 → http://127.0.0.1:41234");
  });

  it("prune --older-than: a dry run lists an unused session's sandbox; --yes syncs its work to its branch, then deletes it", async () => {
    const old = boxes[OLD]!;
    await old.writeFile(`${old.projectDir}/unsynced.txt`, "work never synced\n");
    await provider.stop(old.id);
    const branch = (await state()).sessions[OLD].branch as string;

    const dry = await run("prune", "--older-than", "0m");
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`${old.id} (stopped, session ${OLD}`);
    expect(dry.stdout).toContain(`work goes to ${branch}`);
    // Running sandboxes are in use: not listed by age.
    expect(dry.stdout).not.toContain(boxes[LIVE]!.id);
    expect(dry.stdout).toContain("Dry run: nothing deleted");
    expect((await provider.get(old.id)).id).toBe(old.id);

    const yes = await run("prune", "--yes", "--older-than", "0m");
    expect(yes.stdout).toContain(`✔ deleted ${old.id} — its work is on ${branch}`);
    expect(git(repo, "show", `${branch}:unsynced.txt`)).toBe("work never synced");
    await expect(provider.get(old.id)).rejects.toSatisfy((e) => isSandboxError(e, "sandbox_not_found"));
    expect((await state()).sessions[OLD]).toBeUndefined();
    // The branch stays.
    expect(git(repo, "branch", "--list", branch)).toContain(branch);
  });

  it("prune never drops a session's work it could not sync: the sandbox is kept and the reason told", async () => {
    const broken = boxes[BROKEN]!;
    const inside = await provider.connect(broken.id);
    expect((await inside.exec(`echo precious > precious.txt && rm -rf .git`)).exitCode).toBe(0);
    // Stopped: no longer in use (a running local sandbox is).
    await provider.stop(broken.id);
    const r = await run("prune", "--yes", "--older-than", "0m");
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`! kept ${broken.id}: syncing its work failed \\(.*not a git repository.*\\); kept`));
    expect((await provider.get(broken.id)).id).toBe(broken.id);
    expect((await state()).sessions[BROKEN].sandboxId).toBe(broken.id);
  });

  it("prune keeps an unmapped sandbox holding a commit no branch has unless --force, and says what would be lost", async () => {
    const stray = await provider.create({ labels: { plugin: LABEL_PLUGIN, project: projectIdOf(repo), session: "ses_stray" } });
    const made = await stray.exec(
      `git init -q . && echo lost > lost.txt && git add lost.txt && git -c user.name=a -c user.email=a@b commit -qm lost && echo dirty > dirty.txt && git rev-parse HEAD`,
    );
    expect(made.exitCode, made.output).toBe(0);
    const head = made.output.trim().split("\n").pop()!;

    const dry = await run("prune", "--grace", "0");
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`${stray.id} holds work no branch has: 1 uncommitted change(s), commit ${head.slice(0, 12)}, which no branch of this repository contains — kept unless --force`);

    const refused = await run("prune", "--yes", "--grace", "0");
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain(`! kept ${stray.id}: it holds work no branch has`);
    expect(refused.stdout).toContain("--force deletes it anyway");
    expect((await provider.get(stray.id)).id).toBe(stray.id);

    const forced = await run("prune", "--yes", "--grace", "0", "--force");
    expect(forced.stdout).toContain(`✔ deleted ${stray.id}`);
    await expect(provider.get(stray.id)).rejects.toSatisfy((e) => isSandboxError(e, "sandbox_not_found"));
  });

  it("prune deletes an unmapped sandbox whose HEAD a branch already holds", async () => {
    const stray = await provider.create({ labels: { plugin: LABEL_PLUGIN, project: projectIdOf(repo), session: "ses_known" } });
    // The same commit as the host's main: nothing is lost.
    const bundle = `${await tempDir("bundle-")}/main.bundle`;
    git(repo, "bundle", "create", bundle, "main");
    await stray.writeFile("/tmp/main.bundle", await readFile(bundle));
    const cloned = await stray.exec(`git init -q . && git fetch -q /tmp/main.bundle main && git checkout -q FETCH_HEAD && rm /tmp/main.bundle`);
    expect(cloned.exitCode, cloned.output).toBe(0);
    const r = await run("prune", "--yes", "--grace", "0");
    expect(r.stdout, r.stderr).toContain(`✔ deleted ${stray.id}`);
  });
});
