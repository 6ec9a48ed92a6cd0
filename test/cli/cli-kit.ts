/**
 * Runs the BUILT CLI (`npm run build` first) as a child process in a project directory,
 * with its own XDG directories, and sets up sessions the way the plugin would: the real
 * ProjectService, writing the state file where the CLI looks for it.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join, sep } from "node:path";
import { ConfigSchema, type Config } from "../../.opencode/plugin/sandbox/config.js";
import { installationId } from "../../.opencode/plugin/sandbox/core/installation.js";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { projectKey } from "../../.opencode/plugin/sandbox/core/project-key.js";
import { DaytonaProvider } from "../../.opencode/plugin/sandbox/providers/daytona/index.js";
import type { SandboxProvider } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { ProjectService } from "../../.opencode/plugin/sandbox/service/project.js";
import { git, tempDir, testConfig } from "../integration/git-support.js";
import type { DaytonaStandin } from "../standin/daytona/index.js";

export const MAIN = join(import.meta.dirname, "../../dist/plugin/sandbox/cli/main.js");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Where the plugin keeps its files under XDG_DATA_HOME (core/paths.ts). */
export const paths = (xdgData: string) => ({
  stateDir: join(xdgData, "opencode", "storage", "daytona"),
  filesRepos: join(xdgData, "opencode", "storage", "opencode-sandboxed-files"),
  sandboxes: join(xdgData, "opencode", "sandboxes"),
  log: join(xdgData, "opencode", "log", "daytona.log"),
});

/** The child's environment: the caller's minus anything that would pick a provider or redirect git. */
export function cliEnv(xdg: { data: string; config: string }, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(DAYTONA_|OPENCODE_|GIT_)/.test(k)) env[k] = v;
  // OpenCode only where a test puts it (opencode-env.ts): npm's node_modules/.bin on PATH would let doctor start it unprepared.
  const PATH = (env.PATH ?? "").split(delimiter).filter((d) => !d.endsWith(`node_modules${sep}.bin`)).join(delimiter);
  return { ...env, PATH, XDG_DATA_HOME: xdg.data, XDG_CONFIG_HOME: xdg.config, OPENCODE_SANDBOX_NETWORK: "none", ...extra };
}

function built(): void {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm test does) before the CLI tests`);
}

export function cli(args: string[], o: { cwd: string; env: NodeJS.ProcessEnv }): Promise<CliResult> {
  built();
  return new Promise((resolve) => {
    execFile(process.execPath, [MAIN, ...args], { cwd: o.cwd, env: o.env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === "number" ? (error as { code: number }).code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A CLI that keeps running (`logs --follow`): its output so far, and a way to wait for some. */
export function cliSpawn(args: string[], o: { cwd: string; env: NodeJS.ProcessEnv }) {
  built();
  const child: ChildProcess = spawn(process.execPath, [MAIN, ...args], { cwd: o.cwd, env: o.env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  child.stdout!.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, exited, output: () => stdout };
}

/** OpenCode's project id of a repository with one root commit. */
export const projectIdOf = (repo: string) => git(repo, "rev-list", "--max-parents=0", "HEAD");

/** The project's service as the plugin builds it, writing the state file where the CLI reads it. */
export function projectService(o: { repo: string; xdgData: string; provider: SandboxProvider; config?: Config }): ProjectService {
  return new ProjectService({
    projectId: projectIdOf(o.repo),
    worktree: o.repo,
    directory: o.repo,
    config: o.config ?? testConfig(),
    log: silentLogger,
    notify: () => {},
    provider: async () => o.provider,
    stateDir: paths(o.xdgData).stateDir,
  });
}

/** A folder without git's service as the plugin builds it: keyed by the folder's real path, its work kept in a private repository. */
export async function filesProjectService(o: { folder: string; xdgData: string; provider: SandboxProvider; config?: Config }): Promise<ProjectService> {
  return new ProjectService({
    projectId: await projectKey("global", o.folder),
    worktree: "/",
    directory: o.folder,
    config: o.config ?? testConfig(),
    log: silentLogger,
    notify: () => {},
    provider: async () => o.provider,
    stateDir: paths(o.xdgData).stateDir,
    filesDir: paths(o.xdgData).filesRepos,
  });
}

/**
 * The Daytona side of a CLI test through the stand-in: fresh XDG directories, the CLI's
 * environment pointing at the stand-in, and a provider in this process with the same
 * installation id the CLI will read (the real SDK on both sides).
 */
export async function daytonaKit(standin: DaytonaStandin) {
  const xdgData = await tempDir("cli-dt-data-");
  const env = cliEnv({ data: xdgData, config: await tempDir("cli-dt-config-") }, { DAYTONA_API_KEY: standin.apiKey, DAYTONA_API_URL: standin.apiUrl, DAYTONA_TARGET: "us" });
  const { apiKey: _, ...daytona } = ConfigSchema.parse({}).daytona;
  const id = await installationId(paths(xdgData).stateDir);
  const provider = new DaytonaProvider({ ...daytona, apiKey: standin.apiKey, apiUrl: standin.apiUrl, target: "us", installationId: id, log: silentLogger });
  return { xdgData, env, provider };
}
