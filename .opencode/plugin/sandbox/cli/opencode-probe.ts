/**
 * Asks the user's own OpenCode what it makes of the project: `opencode debug config`
 * prints the effective configuration (every config file, `.opencode/` and
 * OPENCODE_CONFIG merged, with where each plugin entry came from) and, to get there,
 * starts the project's instance — loading its plugins. This plugin writes a start-up
 * record to its log when it loads, so a new record for the directory proves it loaded.
 * (OpenCode itself says nothing when a plugin cannot be installed or loaded.)
 */
import { spawn } from "node:child_process";
import { open, realpath, stat } from "node:fs/promises";
import { dirname } from "node:path";
import { logPath } from "../core/paths.js";
import { isGuard, isThisPlugin, specOf } from "./plugin-entry.js";

export interface ConfiguredPlugin {
  spec: string;
  /** The file (or `.opencode` directory) the entry came from, as OpenCode reports it. */
  source?: string;
  ours: boolean;
  guard: boolean;
}

export type Probe =
  | { kind: "ran"; plugins: ConfiguredPlugin[]; /** The plugin's start-up record, when it loaded. */ loaded?: string }
  | { kind: "failed"; message: string };

/** The start-up record core/logger writes (opencode/plugin.ts): `opencode-sandboxed loaded for <dir> (`. */
export const startupRecord = (directory: string) => `opencode-sandboxed loaded for ${directory} (`;

async function logSize(): Promise<number> {
  return (await stat(logPath()).catch(() => undefined))?.size ?? 0;
}

/** Log lines written since `offset` (all of it when the log rotated meanwhile). */
async function logSince(offset: number): Promise<string[]> {
  const handle = await open(logPath(), "r").catch(() => undefined);
  if (!handle) return [];
  try {
    const { size } = await handle.stat();
    const from = size >= offset ? offset : 0;
    const buffer = Buffer.alloc(Math.min(size - from, 4 * 1024 * 1024));
    await handle.read(buffer, 0, buffer.length, from);
    return buffer.toString("utf8").split("\n");
  } finally {
    await handle.close();
  }
}

function run(opencode: string, args: string[], cwd: string, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string; timedOut: boolean }> {
  return new Promise((resolve) => {
    // OpenCode takes its directory from PWD, not from the process's cwd.
    const child = spawn(opencode, args, { cwd, env: { ...process.env, PWD: cwd }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: `${stderr}${error.message}`, timedOut });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

function pluginsOf(config: unknown): ConfiguredPlugin[] {
  const c = config as { plugin?: unknown[]; plugin_origins?: { spec?: unknown; source?: string }[] };
  const origins = c.plugin_origins ?? [];
  return (c.plugin ?? []).flatMap((entry) => {
    const spec = specOf(entry);
    if (!spec) return [];
    const source = origins.find((o) => specOf(o.spec) === spec)?.source;
    // A relative path is relative to the file that lists it (a `.opencode` source is a directory).
    const base = source ? (source.endsWith(".json") || source.endsWith(".jsonc") ? dirname(source) : source) : process.cwd();
    return [{ spec, source, ours: isThisPlugin(spec, base), guard: isGuard(spec) }];
  });
}

/** Runs `opencode debug config` in `directory` (bounded: OpenCode's first start may install packages). */
export async function probeOpencode(opencode: string, directory: string, timeoutMs = 180_000): Promise<Probe> {
  const offset = await logSize();
  const r = await run(opencode, ["debug", "config"], directory, timeoutMs);
  if (r.timedOut) return { kind: "failed", message: `\`${opencode} debug config\` did not finish within ${timeoutMs / 1000} s` };
  const start = r.stdout.indexOf("{");
  let config: unknown;
  try {
    config = JSON.parse(r.stdout.slice(start));
  } catch {
    const why = (r.stderr || r.stdout).trim().split("\n").slice(-3).join(" ");
    return { kind: "failed", message: `\`${opencode} debug config\` exited ${r.code}${why ? `: ${why}` : ""}` };
  }
  const dirs = new Set([directory, await realpath(directory).catch(() => directory)]);
  const lines = await logSince(offset);
  const loaded = lines.find((l) => [...dirs].some((d) => l.includes(startupRecord(d))));
  return { kind: "ran", plugins: pluginsOf(config), loaded: loaded?.trim() };
}

/** `opencode --version`. */
export async function opencodeVersion(opencode: string): Promise<string> {
  const r = await run(opencode, ["--version"], process.cwd(), 60_000);
  if (r.code !== 0) throw new Error(`${opencode} --version failed: ${(r.stderr || r.stdout).trim().split("\n")[0] ?? `exit ${r.code}`}`);
  return r.stdout.trim();
}
