/**
 * `preview` on the real local provider, from the built CLI: a local repository's branch
 * in a fresh sandbox, a setup command, a server started in the background and a link
 * that answers over HTTP while the CLI serves it in the foreground; Ctrl-C or
 * `preview --stop` ends it and deletes the sandbox. Also a fresh link to a session's
 * running server, and what is said when that session's sandbox has ended.
 */
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { LocalProvider } from "../../.opencode/plugin/sandbox/providers/local/index.js";
import type { Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { PREVIEW_LABELS } from "../../.opencode/plugin/sandbox/service/preview.js";
import { cleanupAll, git, makeRepo, tempDir } from "../integration/git-support.js";
import { LIMITS } from "../support/local-harness.js";
import { serveGitDaemon, type GitDaemon } from "../support/git-daemon.js";
import { lacks, missingBwrap, missingCommand, missingRoot } from "../support/prereq.js";
import { until } from "../support/until.js";
import { cli, cliEnv, cliSpawn, paths, projectService } from "./cli-kit.js";

const SESSION = "ses_preview_1";
const linkIn = (text: string) => /Preview: (http:\/\/\S+)/.exec(text)?.[1];

describe("CLI preview on the local provider", { timeout: 180_000 }, () => {
  if (lacks(missingRoot(), missingBwrap(), missingCommand("python3"))) return;

  let repo: string;
  let app: string;
  let env: NodeJS.ProcessEnv;
  let provider: LocalProvider;
  let session: Sandbox;
  let daemon: GitDaemon;
  const previews = () => provider.list({ ...PREVIEW_LABELS });

  beforeAll(async () => {
    repo = await makeRepo();
    // The app to preview: its feature branch serves a page the main branch lacks.
    app = await makeRepo({ "index.html": "<h1>main page</h1>\n" });
    git(app, "checkout", "-q", "-b", "feature");
    await writeFile(join(app, "index.html"), "<h1>feature page</h1>\n");
    git(app, "commit", "-qam", "feature page");
    git(app, "checkout", "-q", "main");
    // The same app served over a real git URL on loopback (git daemon).
    const served = await tempDir("cli-preview-served-");
    git(served, "clone", "-q", "--bare", app, "app.git");
    daemon = await serveGitDaemon(served);
    const xdgData = await tempDir("cli-preview-data-");
    env = cliEnv({ data: xdgData, config: await tempDir("cli-preview-config-") });
    provider = new LocalProvider({ root: paths(xdgData).sandboxes, network: "none", ...LIMITS, log: silentLogger });
    session = await projectService({ repo, xdgData, provider }).sandboxFor(SESSION);
  }, 120_000);

  afterAll(async () => {
    for (const info of (await provider?.list({}).catch(() => [])) ?? []) await provider.delete(info.id).catch(() => {});
    await provider?.dispose();
    await daemon?.close();
    await cleanupAll();
  });

  it("serves a local repository's branch after its setup: the link answers until Ctrl-C, then the sandbox is gone", async () => {
    const args = ["preview", app, "--branch", "feature", "--setup", "echo built > built.txt", "--start", "python3 -m http.server 8123", "--port", "8123"];
    const serving = cliSpawn(args, { cwd: repo, env });
    await until(() => linkIn(serving.output()) !== undefined, "the CLI prints the link", 150_000);
    const url = linkIn(serving.output())!;
    expect(await (await fetch(`${url}/index.html`)).text()).toContain("feature page");
    expect(await (await fetch(`${url}/built.txt`)).text()).toBe("built\n");
    expect(await previews()).toHaveLength(1);
    serving.child.kill("SIGINT");
    expect(await serving.exited).toBe(0);
    expect(await previews()).toEqual([]);
    await expect(fetch(`${url}/index.html`)).rejects.toThrow();
  });

  it("serves a URL's branch: cloned on the host, so a sandbox without network gets it too; the link answers from the host", async () => {
    const args = ["preview", daemon.url("app.git"), "--branch", "feature", "--start", "python3 -m http.server 8129", "--port", "8129"];
    const serving = cliSpawn(args, { cwd: repo, env });
    await until(() => linkIn(serving.output()) !== undefined, "the CLI prints the link", 150_000);
    expect(await (await fetch(`${linkIn(serving.output())}/index.html`)).text()).toContain("feature page");
    const [info] = await previews();
    serving.child.kill("SIGINT");
    expect(await serving.exited).toBe(0);
    expect(await previews()).toEqual([]);
    await expect(provider.get(info!.id)).rejects.toThrow();
  });

  it.each([
    ["a repository the server does not have", () => daemon.url("missing.git"), [], (u: string) => `Cloning ${u} failed`],
    ["a branch the remote lacks", () => daemon.url("app.git"), ["--branch", "nope"], (u: string) => `Cloning ${u} failed`],
    ["a URL nothing answers at", () => "git://127.0.0.1:1/app.git", [], (u: string) => `Cloning ${u} failed`],
  ])("a URL: %s — exit 1 naming it, no sandbox and no clone left", async (_what, url, extra, message) => {
    const tmp = await tempDir("cli-preview-tmp-");
    const r = await cli(["preview", url(), ...extra, "--start", "true", "--port", "80"], { cwd: repo, env: { ...env, TMPDIR: tmp } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message(url()));
    expect(await previews()).toEqual([]);
    expect(await readdir(tmp)).toEqual([]);
  });

  it("preview --stop from another terminal ends a running preview", async () => {
    const serving = cliSpawn(["preview", app, "--start", "python3 -m http.server 8124", "--port", "8124"], { cwd: repo, env });
    await until(() => linkIn(serving.output()) !== undefined, "the CLI prints the link", 150_000);
    // The current branch (main) by default.
    expect(await (await fetch(`${linkIn(serving.output())}/index.html`)).text()).toContain("main page");
    const [info] = await previews();
    const stopped = await cli(["preview", "--stop", info!.id], { cwd: repo, env });
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout).toContain(`Preview ${info!.id} stopped`);
    expect(await serving.exited).toBe(0);
    expect(await previews()).toEqual([]);
    // A session's sandbox is not a preview: --stop refuses it.
    const refused = await cli(["preview", "--stop", session.id], { cwd: repo, env });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("is not a preview");
  });

  it.each([
    ["a failing setup", ["--setup", "echo broken setup >&2; exit 3", "--start", "true", "--port", "8125"], "The setup command failed (exit 3):\nbroken setup"],
    ["a server that ends before listening", ["--start", "echo no server here; exit 4", "--port", "8126"], "The start command ended (exit 4) before port 8126 listened:\nno server here"],
  ])("%s: exit 1 with the command's output, and no sandbox left", async (_what, extra, message) => {
    const r = await cli(["preview", app, ...extra], { cwd: repo, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(await previews()).toEqual([]);
  });

  it.each([
    ["a directory that is not a repository", async () => tempDir("not-a-repo-"), ["--start", "true", "--port", "80"], "is not a git repository"],
    ["a path that does not exist", async () => "/nonexistent/repo", ["--start", "true", "--port", "80"], "is neither a repository URL nor a directory"],
    ["a branch the repository lacks", async () => app, ["--branch", "nope", "--start", "true", "--port", "80"], 'has no branch "nope"'],
  ])("%s: a clear error, exit 1, no sandbox", async (_what, source, extra, message) => {
    const r = await cli(["preview", await source(), ...extra], { cwd: repo, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(await previews()).toEqual([]);
  });

  it.each([
    [["preview", "somewhere", "--start", "x", "--port", "99999"], "--port"],
    [["preview", SESSION], "preview <session> <port>"],
  ])("usage errors exit 2: %j", async (args, message) => {
    const r = await cli(args, { cwd: repo, env });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it("preview <session> <port>: a fresh link to a server still running in the session's sandbox; none when nothing listens", async () => {
    await session.writeFile(`${session.projectDir}/hello.html`, "hello from the session\n");
    await session.startProcess("python3 -m http.server 8127");
    const nothing = await cli(["preview", SESSION, "8128"], { cwd: repo, env });
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toContain("Nothing listens on port 8128");
    // The server is up before the CLI asks (asking earlier is the "nothing listens" case above).
    const up = `python3 -c "import socket; socket.create_connection(('127.0.0.1', 8127))"`;
    await until(async () => (await session.exec(up)).exitCode === 0, "the session's server listens");
    const serving = cliSpawn(["preview", SESSION, "8127"], { cwd: repo, env });
    await until(() => linkIn(serving.output()) !== undefined, "the CLI prints the session's link", 60_000);
    expect(await (await fetch(`${linkIn(serving.output())}/hello.html`)).text()).toBe("hello from the session\n");
    serving.child.kill("SIGINT");
    expect(await serving.exited).toBe(0);
    // The session's sandbox is left running: it is the session's, not the preview's.
    expect((await provider.get(session.id)).state).toBe("started");
  });

  it("preview <session> <port> on a local sandbox that ended says so", async () => {
    await provider.stop(session.id);
    const r = await cli(["preview", SESSION, "8127"], { cwd: repo, env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("local sandbox ended with the OpenCode that ran it");
  });
});
