/**
 * What the fault tests share: a Workbench (real `opencode serve`, scripted model) on
 * either provider — local, or Daytona through the stand-in — with the plugin's test
 * pause hook (util/test-pause.ts) when asked, and host-side checks: the repository's
 * `git fsck`, the mounts left under a run's directories.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "vitest";
import { startDaytonaStandin, type DaytonaStandin } from "../standin/daytona/index.js";
import type { Step } from "../e2e/support/model-server.js";
import { Workbench, waitFor, type Served } from "../e2e/support/opencode.js";
import { PAUSE_AT, PAUSED_FILE } from "../../.opencode/plugin/sandbox/util/test-pause.js";

export type ProviderName = "local" | "daytona";

export const bash = (command: string): Step => ({ tool: "bash", args: { command, description: command.slice(0, 60) } });

export interface Rig {
  bench: Workbench;
  standin?: DaytonaStandin;
  /** Every directory this rig's sandboxes live under (the bench's, the stand-in's). */
  roots: string[];
  /** The file the pause hook writes once paused. */
  pausedFile: string;
  /** Environment of OpenCode with the pause hook set (for the next serve) or cleared. */
  pauseAt(phase: string | undefined): void;
  dispose(): Promise<void>;
}

export async function rig(provider: ProviderName, o: { options?: Record<string, unknown>; prefix?: string } = {}): Promise<Rig> {
  let standin: DaytonaStandin | undefined;
  let standinRoot: string | undefined;
  if (provider === "daytona") {
    standinRoot = mkdtempSync(join(tmpdir(), "ocs-faults-standin-"));
    standin = await startDaytonaStandin({ provider: { root: standinRoot } });
  }
  const env: Record<string, string> = standin ? { DAYTONA_API_KEY: standin.apiKey, DAYTONA_API_URL: standin.apiUrl, DAYTONA_TARGET: "us" } : {};
  const bench = await Workbench.create({ options: { provider, ...o.options }, env, prefix: o.prefix ?? "ocs-faults-" });
  const pausedFile = join(bench.root, "paused");
  return {
    bench,
    standin,
    roots: [bench.root, ...(standinRoot ? [standinRoot] : [])],
    pausedFile,
    pauseAt(phase) {
      rmSync(pausedFile, { force: true });
      if (phase) Object.assign(bench.env, { [PAUSE_AT]: phase, [PAUSED_FILE]: pausedFile });
      else for (const k of [PAUSE_AT, PAUSED_FILE]) delete bench.env[k];
    },
    async dispose() {
      await bench.stopChildren();
      await standin?.close();
      unmountUnder([bench.root, ...(standinRoot ? [standinRoot] : [])]);
      await bench.dispose();
      if (standinRoot) rmSync(standinRoot, { recursive: true, force: true });
    },
  };
}

/** Mount points on this host under any of `roots` (read from the host's mount table). */
export function mountsUnder(roots: string[]): string[] {
  const table = readFileSync("/proc/self/mountinfo", "utf8");
  const points = table.split("\n").map((l) => (l.split(" ")[4] ?? "").replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  return points.filter((p) => p && roots.some((r) => p === r || p.startsWith(r + "/")));
}

/** Last resort after a failed test: unmounts what is mounted under this test's own directories (never anyone else's). */
export function unmountUnder(roots: string[]): void {
  for (const point of mountsUnder(roots).reverse()) spawnSync("umount", ["-l", point]);
}

/** `git fsck --full --strict`: its exit code and what it said (dangling objects are fine). */
export function fsck(repo: string): { code: number | null; problems: string[] } {
  const r = spawnSync("git", ["fsck", "--full", "--strict", "--no-dangling", "--no-progress"], { cwd: repo, encoding: "utf8" });
  const problems = `${r.stdout}\n${r.stderr}`.split("\n").filter((l) => /error|missing|broken|corrupt|fatal/i.test(l));
  return { code: r.status, problems };
}

export const tipOf = (bench: Workbench, branch: string): string | undefined => {
  try {
    return bench.git("rev-parse", "--verify", "-q", `refs/heads/${branch}`);
  } catch {
    return undefined;
  }
};

export const branchFile = (bench: Workbench, branch: string, file: string): string | undefined => {
  try {
    return execFileSync("git", ["show", `${branch}:${file}`], { cwd: bench.project, encoding: "utf8", stdio: "pipe" }).trim();
  } catch {
    return undefined;
  }
};

/** Subjects of a branch's commits, newest first. */
export const subjects = (bench: Workbench, branch: string): string[] => (tipOf(bench, branch) ? bench.git("log", "--format=%s", branch).split("\n") : []);

/** Waits (bounded: a hang) for the pause hook to report `phase`; throws with OpenCode's output otherwise. */
export async function waitPaused(r: Rig, served: Served, prompted: Promise<unknown>, boundMs = 240_000): Promise<string> {
  let failed: unknown;
  prompted.catch((e) => (failed = e));
  const ok = await waitFor(() => existsSync(r.pausedFile) || failed !== undefined || served.child.exitCode !== null, boundMs, 100);
  if (!ok || !existsSync(r.pausedFile))
    throw new Error(`the plugin never paused (${failed ? String(failed) : served.child.exitCode !== null ? "OpenCode exited" : "bound reached"})\n${served.output().slice(-4000)}\n${r.bench.pluginLog().slice(-6000)}`);
  return readFileSync(r.pausedFile, "utf8").trim();
}

/** kill -9 of OpenCode; resolves once it is gone. */
export async function kill9(served: Served): Promise<void> {
  if (served.child.exitCode !== null || served.child.signalCode !== null) return;
  const gone = new Promise<void>((r) => served.child.on("exit", () => r()));
  served.child.kill("SIGKILL");
  await gone;
}

/** A bound for a hang only: how long `opencode serve` may take to answer on a loaded machine. */
export const SERVE_BOUND_MS = 300_000;

/** A rig for a test that may run beside others (its own context's hooks): disposed after it; when it failed, the plugin's log is printed first. */
export async function rigForTest(t: Pick<TestContext, "onTestFailed" | "onTestFinished">, ...args: Parameters<typeof rig>): Promise<Rig> {
  const r = await rig(...args);
  t.onTestFailed(() => console.error(r.bench.pluginLog().slice(-8000)));
  t.onTestFinished(() => r.dispose());
  return r;
}
