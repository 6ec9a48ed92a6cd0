/**
 * `status` (disk), `prune` (unused-for-age with a sync first, unmapped work kept) and
 * `preview` (a local repository path; the signed link outlives the CLI; --stop) with the
 * Daytona provider through the stand-in: the real SDK in both this process (the
 * ProjectService, as the plugin) and the built CLI.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LABEL_PLUGIN } from "../../.opencode/plugin/sandbox/core/session-manager.js";
import type { DaytonaProvider } from "../../.opencode/plugin/sandbox/providers/daytona/index.js";
import { isSandboxError, type Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { PREVIEW_LABELS } from "../../.opencode/plugin/sandbox/service/preview.js";
import { startDaytonaStandin, type DaytonaStandin } from "../standin/daytona/index.js";
import { cleanupAll, git, makeRepo, tempDir } from "../integration/git-support.js";
import { serveGitDaemon } from "../support/git-daemon.js";
import { lacks, missingBwrap, missingCommand, missingRoot } from "../support/prereq.js";
import { until } from "../support/until.js";
import { cli, daytonaKit, projectIdOf, projectService } from "./cli-kit.js";

const OLD = "ses_dt_old";
const KEPT = "ses_dt_kept";

describe("CLI status, prune and preview on Daytona (stand-in)", { timeout: 300_000 }, () => {
  if (lacks(missingRoot(), missingBwrap(), missingCommand("python3"))) return;

  let standin: DaytonaStandin;
  let provider: DaytonaProvider;
  let repo: string;
  let env: NodeJS.ProcessEnv;
  let xdgData: string;
  const boxes: Record<string, Sandbox> = {};
  const run = (...args: string[]) => cli(args, { cwd: repo, env });

  beforeAll(async () => {
    standin = await startDaytonaStandin({ daemon: "shell" });
    repo = await makeRepo();
    ({ xdgData, env, provider } = await daytonaKit(standin));
    const service = projectService({ repo, xdgData, provider });
    for (const s of [OLD, KEPT]) boxes[s] = await service.sandboxFor(s);
  }, 150_000);

  afterAll(async () => {
    await provider?.dispose();
    await standin?.close();
    await cleanupAll();
  });

  it("status tells the disk Daytona allocated to each sandbox", async () => {
    const r = await run("status", "--json");
    expect(r.code, r.stderr).toBe(0);
    const sessions = JSON.parse(r.stdout).sessions as { session: string; disk?: { allocatedBytes?: number } }[];
    // The stand-in allocates Daytona's default 3 GiB.
    expect(sessions.find((s) => s.session === OLD)?.disk).toEqual({ allocatedBytes: 3 * 2 ** 30 });
    expect((await run("status")).stdout).toContain("3.0 GiB allocated (use n/a)");
  });

  it("prune --older-than syncs a stopped session's work to its branch, then deletes its sandbox", async () => {
    const old = boxes[OLD]!;
    await old.writeFile(`${old.projectDir}/from-daytona.txt`, "unsynced on daytona\n");
    await provider.stop(old.id);
    const dry = await run("prune", "--older-than", "0m");
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain(`${old.id} (stopped, session ${OLD}`);
    expect(dry.stdout).toContain("Dry run: nothing deleted");
    const yes = await run("prune", "--yes", "--older-than", "0m");
    expect(yes.stdout, yes.stderr).toContain(`✔ deleted ${old.id} — its work is on opencode/1`);
    expect(git(repo, "show", "opencode/1:from-daytona.txt")).toBe("unsynced on daytona");
    await expect(provider.get(old.id)).rejects.toSatisfy((e) => isSandboxError(e, "sandbox_not_found"));
    // Age 0: the running one too (on Daytona a started sandbox is not in use by itself); its branch stays.
    expect(yes.stdout).toContain(`✔ deleted ${boxes[KEPT]!.id} — its work is on opencode/2`);
    expect(git(repo, "rev-parse", "--verify", "opencode/2")).toMatch(/^[0-9a-f]{40}$/);
  });

  it("prune keeps an unmapped sandbox holding a commit no branch has unless --force", async () => {
    const stray = await provider.create({ labels: { plugin: LABEL_PLUGIN, project: projectIdOf(repo), session: "ses_dt_stray" } });
    const made = await stray.exec(`git init -q . && echo lost > lost.txt && git add lost.txt && git -c user.name=a -c user.email=a@b commit -qm lost`);
    expect(made.exitCode, made.output).toBe(0);
    const dry = await run("prune", "--grace", "0");
    expect(dry.stdout).toContain(`${stray.id} holds work no branch has: commit`);
    const refused = await run("prune", "--yes", "--grace", "0");
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain(`! kept ${stray.id}: it holds work no branch has`);
    expect((await provider.get(stray.id)).id).toBe(stray.id);
    const forced = await run("prune", "--yes", "--grace", "0", "--force");
    expect(forced.stdout).toContain(`✔ deleted ${stray.id}`);
  });

  it("preview <session> <port>: a fresh signed link to a session's running server; a stopped sandbox is said to run none", async () => {
    const service = projectService({ repo, xdgData, provider });
    const box = await service.sandboxFor("ses_dt_server");
    await box.writeFile(`${box.projectDir}/served.txt`, "served from the session\n");
    await box.startProcess("python3 -m http.server 8131");
    const up = `python3 -c "import socket; socket.create_connection(('127.0.0.1', 8131))"`;
    await until(async () => (await box.exec(up)).exitCode === 0, "the session's server listens");
    const r = await run("preview", "ses_dt_server", "8131", "--json");
    expect(r.code, r.stderr).toBe(0);
    const shown = JSON.parse(r.stdout) as { url: string; headers?: Record<string, string> };
    expect(await (await fetch(`${shown.url.replace(/\/$/, "")}/served.txt`, { headers: shown.headers })).text()).toBe("served from the session\n");
    await provider.stop(box.id);
    const stopped = await run("preview", "ses_dt_server", "8131");
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain("is stopped: servers it ran are not running");
  });

  it("preview of a local repository path: the signed link answers after the CLI exits; --stop deletes the sandbox", async () => {
    const app = await makeRepo({ "index.html": "<h1>daytona preview</h1>\n" });
    await writeFile(join(app, "extra.txt"), "not committed: not in the preview\n");
    const r = await run("preview", app, "--start", "python3 -m http.server 8130", "--port", "8130", "--json");
    expect(r.code, r.stderr).toBe(0);
    const shown = JSON.parse(r.stdout) as { url: string; headers?: Record<string, string>; sandbox: string; branch: string };
    expect(shown.branch).toBe("main");
    const page = await fetch(`${shown.url.replace(/\/$/, "")}/index.html`, { headers: shown.headers });
    expect(await page.text()).toContain("daytona preview");
    expect((await fetch(`${shown.url.replace(/\/$/, "")}/extra.txt`, { headers: shown.headers })).status).toBe(404);
    expect((await provider.list({ ...PREVIEW_LABELS })).map((s) => s.id)).toEqual([shown.sandbox]);
    const stopped = await run("preview", "--stop", shown.sandbox);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(await provider.list({ ...PREVIEW_LABELS })).toEqual([]);
  });

  it("preview of a URL (git daemon on loopback): cloned on the host, the signed link answers; a bad URL leaves no sandbox", async () => {
    const app = await makeRepo({ "index.html": "<h1>daytona url preview</h1>\n" });
    const served = await tempDir("cli-dt-served-");
    git(served, "clone", "-q", "--bare", app, "app.git");
    const daemon = await serveGitDaemon(served);
    try {
      const bad = await run("preview", daemon.url("missing.git"), "--start", "true", "--port", "8133");
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain(`Cloning ${daemon.url("missing.git")} failed`);
      expect(await provider.list({ ...PREVIEW_LABELS })).toEqual([]);
      const r = await run("preview", daemon.url("app.git"), "--start", "python3 -m http.server 8132", "--port", "8132", "--json");
      expect(r.code, r.stderr).toBe(0);
      const shown = JSON.parse(r.stdout) as { url: string; headers?: Record<string, string>; sandbox: string; branch: string };
      expect(shown.branch).toBe("main");
      expect(await (await fetch(`${shown.url.replace(/\/$/, "")}/index.html`, { headers: shown.headers })).text()).toContain("daytona url preview");
      expect((await run("preview", "--stop", shown.sandbox)).code).toBe(0);
      expect(await provider.list({ ...PREVIEW_LABELS })).toEqual([]);
    } finally {
      await daemon.close();
    }
  });
});
