/**
 * What `doctor` checks besides the provider: git and the commit identity sync uses,
 * the plugin's state and log directories, and the OpenCode found on PATH. Each is a
 * provider-style Check, so one renderer shows them all.
 */
import { execFile } from "node:child_process";
import { access, constants, stat } from "node:fs/promises";
import { delimiter, dirname, join } from "node:path";
import { promisify } from "node:util";
import { logPath, stateDir } from "../core/paths.js";
import { rawGit } from "../git/host-git.js";
import type { Check } from "../providers/provider.js";
import { guardIn } from "./guard-file.js";
import { probeOpencode, type Probe } from "./opencode-probe.js";
import type { ProjectLocation } from "./project.js";

const run = promisify(execFile);

export async function gitChecks(project: ProjectLocation): Promise<Check[]> {
  const version = await rawGit(["--version"], project.directory).catch(() => undefined);
  if (!version || version.code !== 0)
    return [{ name: "git", ok: false, detail: "git is not on PATH: sessions' work cannot come back as branches", fix: "install git (e.g. apt-get install git)" }];
  const checks: Check[] = [{ name: "git", ok: true, detail: version.stdout.trim() }];
  if (project.id === "global")
    checks.push({ name: "repository", ok: false, warning: true, detail: `${project.directory} is not a git repository with a commit: sync is off`, fix: 'git init && git add -A && git commit -m "initial commit"' });
  else checks.push({ name: "repository", ok: true, detail: `${project.worktree} (project ${project.id})` });
  const get = async (key: string) => (await rawGit(["config", key], project.directory).catch(() => undefined))?.stdout.trim();
  const [name, email] = [await get("user.name"), await get("user.email")];
  checks.push(
    name && email
      ? { name: "identity", ok: true, detail: `${name} <${email}> (commits of synced work)` }
      : { name: "identity", ok: false, warning: true, detail: "no user.name/user.email: synced work is committed as opencode-sandboxed <opencode-sandboxed@localhost>", fix: 'git config --global user.name "Your Name" && git config --global user.email you@example.com' },
  );
  return checks;
}

/** Writable, or (not made yet) creatable: the nearest existing ancestor is writable. */
async function writable(name: string, path: string): Promise<Check> {
  let dir = path;
  while (!(await stat(dir).then(() => true, () => false)) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    await access(dir, constants.W_OK);
    return { name, ok: true, detail: dir === path ? path : `${path} (not made yet; ${dir} is writable)` };
  } catch {
    return { name, ok: false, detail: `${dir} is not writable`, fix: `make ${dir} writable for this user, or set XDG_DATA_HOME` };
  }
}

export async function pathChecks(): Promise<Check[]> {
  return [await writable("state directory", stateDir()), await writable("log directory", dirname(logPath()))];
}

export async function onPath(command: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? "").split(delimiter).filter(Boolean)) {
    const file = join(dir, command);
    if (await access(file, constants.X_OK).then(() => true, () => false)) return file;
  }
  return undefined;
}

/**
 * The OpenCode on PATH, then what it makes of this project: whether its effective
 * configuration lists the plugin, whether the plugin loads (OpenCode started headless,
 * the plugin's start-up record looked for), and whether the fail-safe guard is there.
 */
export async function opencodeChecks(project: ProjectLocation, progress: (line: string) => void = () => {}): Promise<Check[]> {
  const root = project.worktree === "/" ? project.directory : project.worktree;
  const guard = await guardCheck(root);
  const file = await onPath("opencode");
  if (!file)
    return [
      { name: "opencode", ok: false, warning: true, detail: "not found on PATH, so whether it lists and loads the plugin is not checked", fix: "install OpenCode: npm install -g opencode-ai" },
      guard,
    ];
  let version: string;
  try {
    const { stdout } = await run(file, ["--version"], { timeout: 30_000 });
    version = stdout.trim();
  } catch (error) {
    return [{ name: "opencode", ok: false, warning: true, detail: `${file} --version failed: ${(error as Error).message.split("\n")[0]}` }, guard];
  }
  progress(`· starting OpenCode (${file} debug config) to check that it loads the plugin…`);
  return [{ name: "opencode", ok: true, detail: `${version} (${file})` }, ...pluginChecks(await probeOpencode(file, project.directory)), guard];
}

const INIT = "npx opencode-sandboxed init";

export function pluginChecks(probe: Probe): Check[] {
  if (probe.kind === "failed") return [{ name: "plugin", ok: false, warning: true, detail: `not checked: ${probe.message}` }];
  const ours = probe.plugins.filter((p) => p.ours);
  if (!ours.length)
    return [{ name: "plugin listed", ok: false, detail: "OpenCode's configuration for this project does not list opencode-sandboxed: its tools run on this machine", fix: `${INIT} (adds it to opencode.json)` }];
  const where = ours.map((p) => `${p.spec}${p.source ? ` (${p.source})` : ""}`).join(", ");
  return [
    { name: "plugin listed", ok: true, detail: where },
    probe.loaded
      ? { name: "plugin loads", ok: true, detail: probe.loaded }
      : {
          name: "plugin loads",
          ok: false,
          detail: `OpenCode started without it (it does not say why): the entry cannot be installed or loaded`,
          fix: `check the entry: an npm name must exist on the registry (npm view ${ours[0].spec.split("@file:")[0]}), a path must exist; then ${INIT}`,
        },
  ];
}

async function guardCheck(root: string): Promise<Check> {
  const g = await guardIn(root);
  if (!g.present)
    return { name: "guard", ok: false, warning: true, detail: `${g.path} is missing: if the plugin fails to load, OpenCode runs tools on this machine without a word`, fix: INIT };
  if (g.version === undefined) return { name: "guard", ok: false, warning: true, detail: `${g.path} is not opencode-sandboxed's guard`, fix: `rename it, then ${INIT}` };
  return { name: "guard", ok: true, detail: `version ${g.version}: ${g.path}` };
}
