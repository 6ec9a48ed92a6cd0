/**
 * The options the plugin gets from OpenCode's configuration (`"plugin": [["opencode-sandboxed",
 * {…}]]`), so that the CLI works with the same branch prefix, provider and limits as the
 * plugin. Read from the global and the project's `opencode.json(c)`, later files winning;
 * a file that cannot be parsed is skipped (OpenCode itself reports it).
 */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, relative, sep } from "node:path";

const NAMES = ["config.json", "opencode.json", "opencode.jsonc"];

/** JSON with comments and trailing commas (what OpenCode accepts) → JSON. */
export function stripJsonc(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      const start = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
      out += text.slice(start, i + 1);
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
      out += "\n";
    } else if (c === "/" && text[i + 1] === "*") {
      i = text.indexOf("*/", i + 2);
      if (i < 0) break;
      i++;
    } else out += c;
  }
  return out.replace(/,(\s*[}\]])/g, "$1");
}

function optionsIn(config: unknown): Record<string, unknown> | undefined {
  const plugins = (config as { plugin?: unknown })?.plugin;
  if (!Array.isArray(plugins)) return undefined;
  let found: Record<string, unknown> | undefined;
  for (const entry of plugins) {
    const [name, options] = Array.isArray(entry) ? entry : [entry, {}];
    if (typeof name === "string" && name.includes("opencode-sandboxed")) found = typeof options === "object" && options ? options : {};
  }
  return found;
}

/** Configuration files from lowest to highest precedence. */
function files(worktree: string, directory: string, env: NodeJS.ProcessEnv): string[] {
  const globalDir = join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "opencode");
  const dirs = [globalDir];
  if (worktree !== "/") {
    const rel = relative(worktree, directory);
    const parts = rel && !rel.startsWith("..") ? rel.split(sep) : [];
    for (let i = 0; i <= parts.length; i++) dirs.push(join(worktree, ...parts.slice(0, i)), join(worktree, ...parts.slice(0, i), ".opencode"));
  } else dirs.push(directory, join(directory, ".opencode"));
  return dirs.flatMap((d) => NAMES.map((n) => join(d, n)));
}

export async function pluginOptions(worktree: string, directory: string, env = process.env): Promise<Record<string, unknown>> {
  let options: Record<string, unknown> = {};
  for (const path of files(worktree, directory, env)) {
    const text = await readFile(path, "utf8").catch(() => undefined);
    if (text === undefined) continue;
    try {
      options = optionsIn(JSON.parse(stripJsonc(text))) ?? options;
    } catch {
      // skipped: OpenCode reports its own configuration errors
    }
  }
  return options;
}
