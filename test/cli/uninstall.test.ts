/**
 * `prune --all` / `uninstall` on the real local provider: sessions of two projects, a
 * preview and an unmapped sandbox holding a commit no branch has. A dry run removes
 * nothing; --yes syncs every session's work to its branch and deletes the sandboxes but
 * keeps the one with unknown work (and with it all the plugin's state); --force then
 * removes everything — afterwards no sandbox directory, uid reservation, cgroup, mount,
 * state file or told link of the plugin is left, and the branches are.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { LABEL_PLUGIN } from "../../.opencode/plugin/sandbox/core/session-manager.js";
import { detectCgroups } from "../../.opencode/plugin/sandbox/providers/local/cgroups.js";
import { LocalProvider } from "../../.opencode/plugin/sandbox/providers/local/index.js";
import { mountsBelow } from "../../.opencode/plugin/sandbox/providers/local/uninstall.js";
import type { Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { PREVIEW_LABELS } from "../../.opencode/plugin/sandbox/service/preview.js";
import { toldPortsIn } from "../../.opencode/plugin/sandbox/tools/told-ports.js";
import { cleanupAll, git, makeRepo, tempDir } from "../integration/git-support.js";
import { LIMITS } from "../support/local-harness.js";
import { lacks, missingBwrap, missingRoot } from "../support/prereq.js";
import { until } from "../support/until.js";
import { cli, cliEnv, paths, projectIdOf, projectService } from "./cli-kit.js";

describe("CLI prune --all / uninstall on the local provider", { timeout: 240_000 }, () => {
  if (lacks(missingRoot(), missingBwrap())) return;

  let repoA: string;
  let repoB: string;
  let xdgData: string;
  let env: NodeJS.ProcessEnv;
  let provider: LocalProvider;
  let a: Sandbox;
  let b: Sandbox;
  let stray: Sandbox;
  let preview: Sandbox;
  const ports = () => `${xdgData}/opencode/storage/opencode-sandboxed-ports`;
  const tag = () => createHash("sha256").update(paths(xdgData).sandboxes).digest("hex").slice(0, 8);
  /** This root's cgroups, wherever the bases are. */
  const ourCgroups = () =>
    execFileSync("find", ["/sys/fs/cgroup", "-maxdepth", "8", "-type", "d", "-name", `*-${tag()}`], { encoding: "utf8" }).split("\n").filter(Boolean);

  beforeAll(async () => {
    repoA = await makeRepo();
    repoB = await makeRepo({ "b.txt": "project b\n" });
    xdgData = await tempDir("cli-uninstall-data-");
    env = cliEnv({ data: xdgData, config: await tempDir("cli-uninstall-config-") });
    provider = new LocalProvider({ root: paths(xdgData).sandboxes, network: "none", ...LIMITS, log: silentLogger });
    a = await projectService({ repo: repoA, xdgData, provider }).sandboxFor("ses_a");
    b = await projectService({ repo: repoB, xdgData, provider }).sandboxFor("ses_b");
    await a.writeFile(`${a.projectDir}/a-work.txt`, "work of a\n");
    await b.writeFile(`${b.projectDir}/b-work.txt`, "work of b\n");
    stray = await provider.create({ labels: { plugin: LABEL_PLUGIN, project: projectIdOf(repoA), session: "ses_lost" } });
    const made = await stray.exec(`git init -q . && echo x > x && git add x && git -c user.name=a -c user.email=a@b commit -qm x`);
    expect(made.exitCode, made.output).toBe(0);
    preview = await provider.create({ labels: { ...PREVIEW_LABELS } });
    await toldPortsIn(ports()).save(a.id, new Map([[8000, "http://127.0.0.1:1"]]));
  }, 150_000);

  afterAll(async () => {
    for (const info of (await provider?.list({}).catch(() => [])) ?? []) await provider.delete(info.id).catch(() => {});
    await provider?.dispose();
    await cleanupAll();
  });

  it("a dry run lists every sandbox of both projects and the preview, and removes nothing", async () => {
    const r = await cli(["uninstall"], { cwd: repoA, env });
    expect(r.code, r.stderr).toBe(0);
    for (const s of [a, b, stray, preview]) expect(r.stdout).toContain(s.id);
    expect(r.stdout).toContain("Dry run: nothing deleted");
    expect(await provider.list({})).toHaveLength(4);
  });

  it("--yes syncs both projects' work and deletes their sandboxes, but keeps the one with unknown work and all the state", async () => {
    const r = await cli(["prune", "--all", "--yes"], { cwd: repoA, env });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`! kept ${stray.id}: it holds work no branch has`);
    expect(git(repoA, "show", "opencode/1:a-work.txt")).toBe("work of a");
    expect(git(repoB, "show", "opencode/1:b-work.txt")).toBe("work of b");
    expect((await provider.list({})).map((s) => s.id)).toEqual([stray.id]);
    expect(existsSync(paths(xdgData).stateDir)).toBe(true);
  });

  it("--force removes the rest and everything the plugin made on this machine; branches stay", async () => {
    const cgroupsSupported = !!(await detectCgroups()).memory;
    if (cgroupsSupported) expect(ourCgroups().length).toBeGreaterThan(0); // the stray's, while it runs
    const r = await cli(["uninstall", "--yes", "--force"], { cwd: repoA, env });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`✔ deleted ${stray.id}`);
    expect(r.stdout).toContain("nothing of opencode-sandboxed's sandboxes is left");
    for (const dir of [paths(xdgData).sandboxes, paths(xdgData).stateDir, ports()]) expect(existsSync(dir), dir).toBe(false);
    expect(await mountsBelow(paths(xdgData).sandboxes)).toEqual([]);
    // The sandbox's owner (this process) tidies its groups as the sandbox ends; none is left.
    await until(() => ourCgroups().length === 0, "no cgroup of this root is left");
    expect(git(repoA, "branch", "--list", "opencode/1")).toContain("opencode/1");
    expect(git(repoB, "branch", "--list", "opencode/1")).toContain("opencode/1");
  });
});
