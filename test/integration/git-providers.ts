/**
 * Providers git sync tests run on: the directory double always; the local bubblewrap
 * provider when its preflight passes here (set GIT_SYNC_TEST_LOCAL=0 to skip it). Under
 * CI=true a local provider that cannot start fails those tests with its reason.
 */
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { LocalProvider } from "../../.opencode/plugin/sandbox/providers/local/index.js";
import type { SandboxProvider } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { DirProvider } from "../support/dir-provider.js";
import { LIMITS } from "../support/local-harness.js";
import { tempDir } from "./git-support.js";

export interface ProviderCase {
  name: string;
  make: () => Promise<SandboxProvider>;
}

const made: LocalProvider[] = [];

async function makeLocal(): Promise<LocalProvider> {
  const p = new LocalProvider({ root: await tempDir("ocsb-"), network: "none", ...LIMITS, memoryMb: 1024, log: silentLogger });
  made.push(p);
  return p;
}

/** Why the local provider cannot run here, or undefined when it can. */
async function localMissing(): Promise<string | undefined> {
  if (process.env.GIT_SYNC_TEST_LOCAL === "0" && process.env.CI !== "true") return "GIT_SYNC_TEST_LOCAL=0";
  try {
    await (await makeLocal()).preflight();
    return undefined;
  } catch (error) {
    return `local provider unavailable: ${(error as Error).message}`;
  }
}

const localMissingReason = await localMissing();

/** Deletes the local sandboxes the tests made (call before removing temp dirs). */
export async function disposeProviders() {
  for (const p of made.splice(0)) {
    for (const info of await p.list({}).catch(() => [])) await p.delete(info.id).catch(() => {});
    await p.dispose().catch(() => {});
  }
}

export function providerCases(): ProviderCase[] {
  const cases: ProviderCase[] = [{ name: "dir", make: async () => new DirProvider(await tempDir("git-sbx-")) }];
  if (!localMissingReason) cases.push({ name: "local", make: makeLocal });
  else if (process.env.CI === "true")
    cases.push({ name: "local", make: () => Promise.reject(new Error(`Missing prerequisite under CI=true (CI never skips): ${localMissingReason}`)) });
  else console.warn(`git sync tests: skipped on the local provider: ${localMissingReason}`);
  return cases;
}
