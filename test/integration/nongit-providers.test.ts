/**
 * A project without git on every provider (the directory double, the local sandbox,
 * Daytona through the stand-in with the real SDK): the seed carries the folder's files,
 * a sync keeps the work in the private repository, an apply writes it into the folder.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { projectKey } from "../../.opencode/plugin/sandbox/core/project-key.js";
import { applySession } from "../../.opencode/plugin/sandbox/git/apply-session.js";
import { existingPrivateRepo } from "../../.opencode/plugin/sandbox/git/private-repo.js";
import { ProjectService } from "../../.opencode/plugin/sandbox/service/project.js";
import { disposeProviders, providerCases } from "./git-providers.js";
import { cleanupAll, tempDir, testConfig } from "./git-support.js";

afterAll(async () => {
  await disposeProviders();
  await cleanupAll();
});

// Bounds catch a hang only: Daytona through the stand-in does more per step, and CI machines are loaded.
describe.each(providerCases())("a project without git on $name", { timeout: 180_000 }, ({ make }) => {
  it("seeds the folder's files, keeps the work aside on sync, applies it on purpose", async () => {
    const folder = await tempDir("nongit-p-");
    await writeFile(join(folder, "a.txt"), "a\n");
    await writeFile(join(folder, ".gitignore"), "*.log\n");
    await writeFile(join(folder, "x.log"), "ignored\n");
    const data = await tempDir("nongit-p-data-");
    const provider = await make();
    const key = await projectKey("global", folder);
    const config = testConfig();
    const service = new ProjectService({
      projectId: key,
      worktree: "/",
      directory: folder,
      config,
      log: silentLogger,
      notify: () => {},
      provider: async () => provider,
      stateDir: join(data, "state"),
      filesDir: join(data, "files"),
    });
    const sandbox = await service.sandboxFor("ses_p");
    const seen = await sandbox.exec("cat a.txt; test -e x.log || echo no-log; echo agent > b.txt");
    expect(seen.output.trim()).toBe("a\nno-log");
    expect((await service.sync("ses_p")).kind).toBe("synced");
    expect(await readFile(join(folder, "b.txt"), "utf8").catch(() => null)).toBeNull();
    const files = await existingPrivateRepo({ directory: folder, key, dir: join(data, "files") });
    const { outcome } = await applySession({ files: files!, sessionID: "ses_p", store: service.store, config });
    expect(outcome).toMatchObject({ kind: "applied", changes: [{ path: "b.txt", change: "added" }] });
    expect(await readFile(join(folder, "b.txt"), "utf8")).toBe("agent\n");
    await service.dispose();
  });
});
