/**
 * Which entries of OpenCode's `plugin` list are this plugin, and which is the guard:
 * an npm name (or tarball) named opencode-sandboxed, or a path inside a package named
 * opencode-sandboxed (a `file://` entry to the build, a symlinked `.opencode`).
 */
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { GUARD_NAME } from "./guard-file.js";

export const PACKAGE_NAME = "opencode-sandboxed";

/** An entry as written in the config: `"spec"` or `["spec", options]`. */
export type PluginEntry = string | [string, Record<string, unknown>?];

export const specOf = (entry: unknown): string | undefined => {
  const spec = Array.isArray(entry) ? entry[0] : entry;
  return typeof spec === "string" ? spec : undefined;
};

/** A local path the spec names, if it names one (file:// URL, absolute or ./relative path). */
export function localPath(spec: string, base: string): string | undefined {
  if (spec.startsWith("file://")) return fileURLToPath(spec);
  if (spec.startsWith("file:")) return resolve(base, spec.slice("file:".length));
  if (isAbsolute(spec) || spec.startsWith("./") || spec.startsWith("../")) return resolve(base, spec);
  return undefined;
}

/** The name of the nearest enclosing package that has one (OpenCode's own package.json in a `.opencode` has none), symlinks resolved. */
function nearestPackageName(path: string): string | undefined {
  let real = path;
  try {
    real = realpathSync(path);
  } catch {
    // not there (yet): judge by the path as written
  }
  for (let dir = dirname(real); ; dir = dirname(dir)) {
    try {
      const name = (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: unknown }).name;
      if (typeof name === "string") return name;
    } catch {
      // none here, or unreadable: look further up
    }
    if (dirname(dir) === dir) return undefined;
  }
}

export const isGuard = (spec: string) => spec.endsWith(`/${GUARD_NAME}`);

/** Whether a plugin spec is this plugin; `base` resolves relative paths (the config file's directory). */
export function isThisPlugin(spec: string, base: string): boolean {
  if (isGuard(spec)) return false;
  const path = localPath(spec, base);
  if (!path) {
    // npm: "opencode-sandboxed", "opencode-sandboxed@1.2.3", "opencode-sandboxed@file:…tgz"
    return spec === PACKAGE_NAME || spec.startsWith(`${PACKAGE_NAME}@`);
  }
  if (/opencode-sandboxed[^/]*\.tgz$/.test(path)) return true;
  // A path that is not there (a moved checkout, a removed install) is judged by its words.
  if (!existsSync(path)) return path.split(sep).includes(PACKAGE_NAME);
  return nearestPackageName(path) === PACKAGE_NAME;
}
