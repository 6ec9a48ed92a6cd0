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

async function onPath(command: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? "").split(delimiter).filter(Boolean)) {
    const file = join(dir, command);
    if (await access(file, constants.X_OK).then(() => true, () => false)) return file;
  }
  return undefined;
}

export async function opencodeChecks(): Promise<Check[]> {
  const file = await onPath("opencode");
  if (!file) return [{ name: "opencode", ok: false, warning: true, detail: "not found on PATH", fix: "install OpenCode: npm install -g opencode-ai" }];
  try {
    const { stdout } = await run(file, ["--version"], { timeout: 30_000 });
    return [{ name: "opencode", ok: true, detail: `${stdout.trim()} (${file})` }];
  } catch (error) {
    return [{ name: "opencode", ok: false, warning: true, detail: `${file} --version failed: ${(error as Error).message.split("\n")[0]}` }];
  }
}
