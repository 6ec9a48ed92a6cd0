/** Config → the provider that runs this project's sandboxes. */
import { resolveProvider, type Config } from "../config.js";
import type { Logger } from "../core/logger.js";
import { sandboxesDir } from "../core/paths.js";
import { SandboxError, type SandboxProvider } from "./provider.js";

export async function createProvider(config: Config, log: Logger): Promise<SandboxProvider> {
  const which = resolveProvider(config);
  if (which === "daytona") {
    throw new SandboxError(
      "unavailable",
      'The Daytona provider is not part of this version yet. Set "provider": "local" in the plugin options (or unset DAYTONA_API_KEY) to use the local bubblewrap sandbox.',
    );
  }
  const { LocalProvider } = await import("./local/index.js");
  return new LocalProvider({ ...config.local, root: sandboxesDir(), env: config.sandboxEnv, log });
}

/** The other way to run sandboxes, said where a provider cannot run here. */
export function unavailableHint(config: Config): string | undefined {
  return resolveProvider(config) === "local" ? "Or run sandboxes on Daytona instead: set DAYTONA_API_KEY." : undefined;
}
