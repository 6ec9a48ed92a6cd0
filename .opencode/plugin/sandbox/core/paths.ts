/** Where the plugin keeps things on the host. These paths are compatibility contracts. */
import { homedir } from "node:os";
import { join } from "node:path";

/** Read at call time (not import time) so tests and `opencode serve` see the current env. */
export function dataHome(): string {
  const xdg = process.env.XDG_DATA_HOME;
  return xdg && xdg.startsWith("/") ? xdg : join(homedir(), ".local", "share");
}

export const stateDir = () => join(dataHome(), "opencode", "storage", "daytona");
export const statePath = (projectId: string) => join(stateDir(), `${projectId}.json`);
export const logPath = () => join(dataHome(), "opencode", "log", "daytona.log");
/** Workspaces and run directories of local sandboxes. */
export const sandboxesDir = () => join(dataHome(), "opencode", "sandboxes");
