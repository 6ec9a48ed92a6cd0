/**
 * Providers git sync tests run on: the directory double always; the local bubblewrap
 * provider, and Daytona (the real SDK against the stand-in, which is backed by local
 * sandboxes), when the local preflight passes here (set GIT_SYNC_TEST_LOCAL=0 to skip
 * them). Under CI=true a provider that cannot start fails those tests with its reason.
 */
import { ConfigSchema } from "../../.opencode/plugin/sandbox/config.js";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { DaytonaProvider } from "../../.opencode/plugin/sandbox/providers/daytona/index.js";
import { LocalProvider } from "../../.opencode/plugin/sandbox/providers/local/index.js";
import type { SandboxProvider } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { startDaytonaStandin, type DaytonaStandin } from "../standin/daytona/index.js";
import { DirProvider } from "../support/dir-provider.js";
import { LIMITS } from "../support/local-harness.js";
import { tempDir } from "./git-support.js";

export interface ProviderCase {
  name: string;
  make: () => Promise<SandboxProvider>;
}

const made: LocalProvider[] = [];
const standins: { standin: DaytonaStandin; provider: DaytonaProvider }[] = [];

async function makeDaytona(): Promise<DaytonaProvider> {
  const standin = await startDaytonaStandin({ provider: { root: await tempDir("ocsb-dt-"), memoryMb: 1024 } });
  const { apiKey: _, ...defaults } = ConfigSchema.parse({}).daytona;
  const provider = new DaytonaProvider({ ...defaults, apiKey: standin.apiKey, apiUrl: standin.apiUrl, target: "us", installationId: "gitsync000000000", log: silentLogger });
  standins.push({ standin, provider });
  return provider;
}

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
  for (const { standin, provider } of standins.splice(0)) {
    await provider.dispose().catch(() => {});
    await standin.close().catch(() => {});
  }
  for (const p of made.splice(0)) {
    for (const info of await p.list({}).catch(() => [])) await p.delete(info.id).catch(() => {});
    await p.dispose().catch(() => {});
  }
}

export function providerCases(): ProviderCase[] {
  const cases: ProviderCase[] = [{ name: "dir", make: async () => new DirProvider(await tempDir("git-sbx-")) }];
  if (!localMissingReason) cases.push({ name: "local", make: makeLocal }, { name: "daytona", make: makeDaytona });
  else if (process.env.CI === "true")
    for (const name of ["local", "daytona"])
      cases.push({ name, make: () => Promise.reject(new Error(`Missing prerequisite under CI=true (CI never skips): ${localMissingReason}`)) });
  else console.warn(`git sync tests: skipped on the local provider: ${localMissingReason}`);
  return cases;
}
