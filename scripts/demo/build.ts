/**
 * The demo loads the plugin as a package is loaded: from dist/. Build it when it is
 * missing or older than a source file; a user who cannot write the checkout gets the
 * build as it is, with a warning.
 */
import { spawn } from "node:child_process";
import { constants, existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { canOpen } from "./prerequisites.js";

export type BuildState = "fresh" | "missing" | "stale";

/** Newest modification time of the plugin's TypeScript sources. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === "node_modules") continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

export function buildState(repo: string): BuildState {
  const entry = join(repo, "dist/plugin/index.js");
  if (!existsSync(entry)) return "missing";
  return statSync(entry).mtimeMs >= newestSource(join(repo, ".opencode/plugin")) ? "fresh" : "stale";
}

export const canBuild = (repo: string) => canOpen(repo, constants.W_OK);

/** `npm run build` (atomic: dist/ is swapped in whole); rejects with its output. */
export function build(repo: string, timeoutMs = 300_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", ["run", "build"], { cwd: repo, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (e) => reject(new Error(`npm run build could not start: ${e.message}`)));
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`npm run build failed (${signal ?? `exit ${code}`}):\n${output.trim()}`));
    });
  });
}
