/**
 * The JavaScript runtime the agent runs on inside the sandbox. Inside OpenCode the
 * plugin runs on Bun and `process.execPath` is the opencode binary, which behaves as
 * plain Bun with BUN_BE_BUN=1 (measured: ~10 ms start). Under Node (tests, CLI) it
 * is that node. Either is bound read-only into the sandbox at RUNTIME_INSIDE, so it
 * need not live under /usr. Fallbacks: node/bun on the host's /usr.
 */
import { accessSync, constants, realpathSync, statSync } from "node:fs";

export interface Runtime {
  /** Host path of the binary. */
  path: string;
  bun: boolean;
}

function executable(path: string): string | null {
  try {
    accessSync(path, constants.X_OK);
    const real = realpathSync(path);
    return statSync(real).isFile() ? real : null;
  } catch {
    return null;
  }
}

export function findRuntime(override?: string): Runtime | null {
  const candidates: Runtime[] = [];
  if (override) candidates.push({ path: override, bun: /(^|\/)(bun|opencode)[^/]*$/.test(override) });
  else {
    const versions = process.versions as Record<string, string | undefined>;
    candidates.push({ path: process.execPath, bun: !!versions.bun });
    for (const p of ["/usr/bin/node", "/usr/local/bin/node", "/usr/bin/nodejs", "/usr/local/bin/bun", "/usr/bin/bun"])
      candidates.push({ path: p, bun: p.endsWith("bun") });
  }
  for (const c of candidates) {
    const path = executable(c.path);
    if (path) return { path, bun: c.bun };
  }
  return null;
}
