/** Where the plugin keeps things on the host. These paths are compatibility contracts. */
import { join } from "node:path";
import { xdgData } from "xdg-basedir";

/**
 * OpenCode's own data directory's parent, resolved as OpenCode resolves it (xdg-basedir,
 * read when the process starts): the plugin's files sit beside OpenCode's.
 */
export function dataHome(): string {
  if (!xdgData) throw new Error("No data directory: set XDG_DATA_HOME or HOME");
  return xdgData;
}

export const stateDir = () => join(dataHome(), "opencode", "storage", "daytona");
export const statePath = (projectId: string) => join(stateDir(), `${projectId}.json`);
export const logPath = () => join(dataHome(), "opencode", "log", "daytona.log");
/** Workspaces and run directories of local sandboxes. */
export const sandboxesDir = () => join(dataHome(), "opencode", "sandboxes");
/** Private repositories of projects without git (git/private-repo.ts), one per project key. */
export const filesReposDir = () => join(dataHome(), "opencode", "storage", "opencode-sandboxed-files");
/** The preview links told per sandbox (tools/told-ports.ts), kept across OpenCode processes. */
export const portsDir = () => join(dataHome(), "opencode", "storage", "opencode-sandboxed-ports");
