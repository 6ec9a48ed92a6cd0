/**
 * Providers git sync tests run on: the directory double always; the local bubblewrap
 * provider when it exists and its preflight passes here (set GIT_SYNC_TEST_LOCAL=0 to skip).
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { SandboxProvider } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { DirProvider } from "../support/dir-provider.js";
import { tempDir } from "./git-support.js";

export interface ProviderCase {
  name: string;
  make: () => Promise<SandboxProvider>;
}

const localPath = fileURLToPath(new URL("../../.opencode/plugin/sandbox/providers/local/index.ts", import.meta.url));

async function localCase(): Promise<ProviderCase | undefined> {
  if (process.env.GIT_SYNC_TEST_LOCAL === "0" || !existsSync(localPath)) return undefined;
  try {
    const mod = (await import(localPath)) as { LocalProvider?: new (...args: any[]) => SandboxProvider };
    if (!mod.LocalProvider) return undefined;
    const probe = new mod.LocalProvider({});
    await probe.preflight();
    return { name: "local", make: async () => new mod.LocalProvider!({}) };
  } catch (error) {
    console.warn(`git sync tests: local provider unavailable: ${(error as Error).message}`);
    return undefined;
  }
}

const local = await localCase();

export function providerCases(): ProviderCase[] {
  const cases: ProviderCase[] = [{ name: "dir", make: async () => new DirProvider(await tempDir("git-sbx-")) }];
  if (local) cases.push(local);
  return cases;
}
