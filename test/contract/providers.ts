/**
 * The providers the contract suite runs on. Each entry makes a provider (and says
 * what it lacks on this machine); every provider must pass the same suite.
 */
import type { SandboxProvider } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { harness } from "../support/local-harness.js";
import { missingBwrap, missingCommand } from "../support/prereq.js";

export interface ContractProvider {
  name: string;
  /** Why it cannot run here (a missing prerequisite), or undefined. */
  missing(): string | undefined;
  make(): Promise<{ provider: SandboxProvider; cleanup(): Promise<void> }>;
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
];
