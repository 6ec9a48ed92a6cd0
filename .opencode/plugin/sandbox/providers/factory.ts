/** Config → the provider that runs this project's sandboxes. */
import { resolveProvider, type Config } from "../config.js";
import { installationId } from "../core/installation.js";
import type { Logger } from "../core/logger.js";
import { sandboxesDir } from "../core/paths.js";
import { SandboxError, type SandboxProvider } from "./provider.js";

/** What a provider reports while it runs (besides its log). */
export interface ProviderEvents {
  /** A sandbox's connection refused by its egress policy (local network "allowlist"). */
  egressBlocked?: (event: { sandboxId: string; labels: Record<string, string>; host: string; port: number; why: string; option: string }) => void;
}

export async function createProvider(config: Config, log: Logger, events: ProviderEvents = {}): Promise<SandboxProvider> {
  if (resolveProvider(config) === "daytona") {
    const { apiKey, ...daytona } = config.daytona;
    if (!apiKey) throw new SandboxError("auth", `The Daytona provider needs an API key: set DAYTONA_API_KEY (Daytona at ${daytona.apiUrl}).`);
    const { DaytonaProvider } = await import("./daytona/index.js");
    return new DaytonaProvider({ ...daytona, apiKey, env: config.sandboxEnv, installationId: await installationId(), log });
  }
  const { LocalProvider } = await import("./local/index.js");
  return new LocalProvider({ ...config.local, root: sandboxesDir(), env: config.sandboxEnv, log, onEgressBlocked: events.egressBlocked });
}

/** The other way to run sandboxes, said where a provider cannot run here. */
export function unavailableHint(config: Config): string | undefined {
  return resolveProvider(config) === "local" ? "Or run sandboxes on Daytona instead: set DAYTONA_API_KEY." : undefined;
}
