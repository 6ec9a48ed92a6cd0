/**
 * The fail-safe guard as a file in a project: where the package ships it (the build of
 * guard/opencode-sandboxed-guard.ts: plain JavaScript, no imports), where OpenCode finds
 * it (the project's .opencode/plugin/, auto-discovered), and placing or updating it there.
 */
import { readFile, realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import { writeAtomic } from "../util/write-atomic.js";

export const GUARD_NAME = "opencode-sandboxed-guard.js";
/** The first line's words that say a file is ours, and which version. */
const HEADER = /opencode-sandboxed guard, version (\d+)/;

/** Four levels up from both the source (.opencode/plugin/sandbox/cli) and the build (dist/plugin/sandbox/cli). */
const packageRoot = () => join(import.meta.dirname, "../../../..");

export const shippedGuardPath = () => join(packageRoot(), "dist/plugin/sandbox/guard", GUARD_NAME);

/** Where the guard goes in a project: its .opencode/plugin/. */
export const guardPathIn = (projectDir: string) => join(projectDir, ".opencode", "plugin", GUARD_NAME);

export const guardVersion = (text: string): number | undefined => {
  const m = HEADER.exec(text);
  return m ? Number(m[1]) : undefined;
};

/** The guard's text as the project gets it (the build's source-map comment left out: the map is not copied). */
export async function shippedGuard(): Promise<string> {
  const text = await readFile(shippedGuardPath(), "utf8").catch(() => {
    throw new Error(`the guard is missing from this installation (${shippedGuardPath()}): reinstall opencode-sandboxed`);
  });
  return text.replace(/^\/\/# sourceMappingURL=.*\n?/m, "");
}

export type GuardPlacement =
  | { kind: "placed" | "updated" | "unchanged"; path: string; version: number }
  /** A file of that name that is not ours: left alone. */
  | { kind: "foreign"; path: string }
  /** The project's .opencode is this package's own source (a symlinked working copy): the plugin itself loads from there. */
  | { kind: "plugin_source"; path: string };

/** Whether `dir/.opencode` is a working copy of this package (the development symlink). */
async function isPluginSource(projectDir: string): Promise<boolean> {
  const real = await realpath(join(projectDir, ".opencode")).catch(() => undefined);
  if (!real) return false;
  return stat(join(real, "plugin", "sandbox", "guard", "opencode-sandboxed-guard.ts")).then(() => true, () => false);
}

export async function placeGuard(projectDir: string): Promise<GuardPlacement> {
  const path = guardPathIn(projectDir);
  if (await isPluginSource(projectDir)) return { kind: "plugin_source", path };
  const text = await shippedGuard();
  const version = guardVersion(text) ?? 0;
  const existing = await readFile(path, "utf8").catch(() => undefined);
  if (existing === text) return { kind: "unchanged", path, version };
  if (existing !== undefined && guardVersion(existing) === undefined) return { kind: "foreign", path };
  await writeAtomic(path, text, { mode: 0o644 });
  return { kind: existing === undefined ? "placed" : "updated", path, version };
}

/** What is in the project now: the guard's version, or why there is none. */
export async function guardIn(projectDir: string): Promise<{ path: string; version?: number; present: boolean }> {
  const path = guardPathIn(projectDir);
  const text = await readFile(path, "utf8").catch(() => undefined);
  return { path, present: text !== undefined, version: text === undefined ? undefined : guardVersion(text) };
}
