/** The service words what the provider alone cannot: the other way to run sandboxes. */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigSchema } from "../../.opencode/plugin/sandbox/config.js";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { isSandboxError, SandboxError } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { ProjectService } from "../../.opencode/plugin/sandbox/service/project.js";
import { DirProvider } from "../support/dir-provider.js";

async function serviceWith(config: object, preflightError: Error) {
  const dir = await mkdtemp(join(tmpdir(), "project-service-"));
  const provider = new DirProvider(dir);
  provider.preflight = async () => {
    throw preflightError;
  };
  return new ProjectService({
    projectId: "p",
    worktree: dir,
    directory: dir,
    config: ConfigSchema.parse(config),
    log: silentLogger,
    notify: () => {},
    stateDir: join(dir, "state"),
    provider: async () => provider,
  });
}

describe("a provider that cannot run here", () => {
  it.each([
    ["local chosen automatically (no Daytona key)", {}, true],
    ["local chosen explicitly", { provider: "local" }, true],
    ["Daytona chosen", { provider: "daytona", daytona: { apiKey: "k-123456" } }, false],
  ])("%s: the message names the fix, and Daytona only where it is the other way", async (_name, config, hint) => {
    const service = await serviceWith(config, new SandboxError("unavailable", "Local sandbox unavailable: bubblewrap is not installed — install it."));
    const error = await service.sandboxFor("ses_1").catch((e: unknown) => e);
    expect(isSandboxError(error, "unavailable")).toBe(true);
    expect((error as Error).message).toMatch(/^Local sandbox unavailable: bubblewrap is not installed — install it\./);
    expect((error as Error).message.includes("set DAYTONA_API_KEY")).toBe(hint);
    await service.dispose();
  });

  it("other errors pass unchanged", async () => {
    const original = new SandboxError("auth", "bad key");
    const service = await serviceWith({}, original);
    expect(await service.sandboxFor("ses_1").catch((e: unknown) => e)).toBe(original);
    await service.dispose();
  });
});
