/**
 * The providers the contract suite runs on. Each entry makes a provider (and says
 * what it lacks on this machine); every provider must pass the same suite. Daytona
 * runs through the real SDK against the local stand-in of its API, once per daemon
 * behaviour (commands split on spaces, or piped into a shell).
 */
import { ConfigSchema } from "../../.opencode/plugin/sandbox/config.js";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { DaytonaProvider } from "../../.opencode/plugin/sandbox/providers/daytona/index.js";
import type { SandboxProvider } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { harness } from "../support/local-harness.js";
import { missingBwrap, missingCommand } from "../support/prereq.js";
import { startDaytonaStandin, type DaemonMode } from "../standin/daytona/index.js";

export interface ContractProvider {
  name: string;
  /** Why it cannot run here (a missing prerequisite), or undefined. */
  missing(): string | undefined;
  make(): Promise<{ provider: SandboxProvider; cleanup(): Promise<void> }>;
}

function daytona(daemon: DaemonMode): ContractProvider {
  return {
    name: `daytona (stand-in, ${daemon} daemon)`,
    missing: missingBwrap,
    async make() {
      const standin = await startDaytonaStandin({ daemon });
      const { apiKey: _, ...defaults } = ConfigSchema.parse({}).daytona;
      const provider = new DaytonaProvider({ ...defaults, apiKey: standin.apiKey, apiUrl: standin.apiUrl, target: "us", installationId: "contract00000000", log: silentLogger });
      return {
        provider,
        async cleanup() {
          await provider.dispose();
          await standin.close();
        },
      };
    },
  };
}

export const contractProviders: ContractProvider[] = [
  {
    name: "local",
    missing: () => missingBwrap() ?? missingCommand("slirp4netns"),
    async make() {
      const h = await harness({ network: "isolated" });
      return { provider: h.provider, cleanup: h.cleanup };
    },
  },
  daytona("shell"),
  daytona("split"),
];
