/**
 * The CLI beside a real OpenCode (the pinned binary): an environment of its own (HOME,
 * XDG dirs, TMPDIR, OpenCode's offline switches) whose config dir and the project's
 * .opencode are pre-seeded, so OpenCode installs nothing when init or doctor start it.
 */
import { existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { tempDir } from "../integration/git-support.js";

export const REPO = resolve(import.meta.dirname, "../..");
export const OPENCODE = join(REPO, "node_modules/.bin/opencode");
/** The plugin's build, as a user lists it by path. */
export const PLUGIN_DIST = pathToFileURL(join(REPO, "dist/plugin/index.js")).href;

const DEPS = { "@opencode-ai/plugin": "1.18.33" };

/** OpenCode finds its plugin package "installed" in `dir` (a config dir or a .opencode) and runs no npm install there. */
export function preseed(dir: string): void {
  mkdirSync(join(dir, "node_modules"), { recursive: true });
  if (!existsSync(join(dir, "package.json"))) writeFileSync(join(dir, "package.json"), JSON.stringify({ dependencies: DEPS }));
  writeFileSync(join(dir, "package-lock.json"), JSON.stringify({ lockfileVersion: 3, packages: { "": { dependencies: DEPS } } }));
}

/** The CLI's environment with OpenCode on PATH (first), isolated; `xdg` as the CLI tests lay it out. */
export async function opencodeEnv(base: NodeJS.ProcessEnv, project: string): Promise<NodeJS.ProcessEnv> {
  const root = await tempDir("cli-oc-");
  const dirs = { HOME: join(root, "home"), XDG_STATE_HOME: join(root, "state"), XDG_CACHE_HOME: join(root, "cache"), TMPDIR: join(root, "tmp") };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  preseed(join(base.XDG_CONFIG_HOME!, "opencode"));
  preseed(join(project, ".opencode"));
  writeFileSync(join(project, ".git/info/exclude"), ".opencode/node_modules\n.opencode/package.json\n.opencode/package-lock.json\n");
  return {
    ...base,
    ...dirs,
    PATH: [dirname(OPENCODE), base.PATH ?? ""].join(delimiter),
    OPENCODE_DISABLE_MODELS_FETCH: "1",
    OPENCODE_DISABLE_AUTOUPDATE: "1",
    OPENCODE_DISABLE_SHARE: "1",
    OPENCODE_DISABLE_LSP_DOWNLOAD: "1",
    OPENCODE_DISABLE_DEFAULT_PLUGINS: "1",
  };
}

/** A PATH of the system's bin directories without `command` (a machine without it, simulated). */
export async function pathWithout(command: string): Promise<string> {
  const bin = await tempDir(`ocs-no-${command}-`);
  for (const dir of ["/usr/local/bin", "/usr/bin", "/usr/sbin", "/bin", "/sbin"])
    if (existsSync(dir))
      for (const name of readdirSync(dir))
        if (name !== command && !existsSync(join(bin, name))) symlinkSync(join(dir, name), join(bin, name));
  return bin;
}
