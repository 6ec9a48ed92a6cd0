/** Shared setup for the local-provider integration tests: temp roots, clean-up. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger, type Logger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { LocalProvider, type LocalProviderOptions } from "../../.opencode/plugin/sandbox/providers/local/index.js";

export const LIMITS = { memoryMb: 256, maxProcesses: 128, maxOpenFiles: 1024 };

export interface Harness {
  root: string;
  provider: LocalProvider;
  make(options?: Partial<LocalProviderOptions>): LocalProvider;
  cleanup(): Promise<void>;
}

/** A logger that keeps lines, to assert on what the provider says. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const push = (level: string) => (m: string) => void lines.push(`${level} ${m}`);
  return { ...silentLogger, lines, debug: push("debug"), info: push("info"), warn: push("warn"), error: push("error") };
}

export async function harness(options: Partial<LocalProviderOptions> = {}): Promise<Harness> {
  const root = await mkdtemp(join(tmpdir(), "ocsb-"));
  const providers: LocalProvider[] = [];
  const make = (extra: Partial<LocalProviderOptions> = {}) => {
    const p = new LocalProvider({ root, network: "none", ...LIMITS, log: silentLogger, ...options, ...extra });
    providers.push(p);
    return p;
  };
  const provider = make();
  return {
    root,
    provider,
    make,
    async cleanup() {
      for (const p of providers) {
        for (const info of await p.list({}).catch(() => [])) await p.delete(info.id).catch(() => {});
        await p.dispose();
      }
      await rm(root, { recursive: true, force: true });
    },
  };
}
