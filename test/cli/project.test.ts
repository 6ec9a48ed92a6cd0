/** The CLI finds the project as OpenCode does (same id → same state file) and reads the plugin's options from OpenCode's configuration. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { pluginOptions } from "../../.opencode/plugin/sandbox/cli/plugin-options.js";
import { locateProject } from "../../.opencode/plugin/sandbox/cli/project.js";
import { cleanupAll, git, makeRepo, tempDir } from "../integration/git-support.js";

afterAll(cleanupAll);

describe("locateProject", () => {
  it("a repository: the root commit, from any subdirectory", async () => {
    const repo = await makeRepo({ "pkg/x.txt": "x\n" });
    const root = git(repo, "rev-list", "--max-parents=0", "HEAD");
    expect(await locateProject(repo)).toEqual({ id: root, worktree: repo, directory: repo });
    expect(await locateProject(join(repo, "pkg"))).toEqual({ id: root, worktree: repo, directory: join(repo, "pkg") });
  });

  it("the id OpenCode cached in .git/opencode wins", async () => {
    const repo = await makeRepo();
    writeFileSync(join(repo, ".git", "opencode"), "cached-project-id\n");
    expect((await locateProject(repo)).id).toBe("cached-project-id");
  });

  it("a linked worktree belongs to its main checkout's project", async () => {
    const repo = await makeRepo();
    const linked = join(await tempDir("cli-linked-"), "wt");
    git(repo, "worktree", "add", "-q", "-b", "side", linked);
    expect(await locateProject(linked)).toMatchObject({ id: git(repo, "rev-list", "--max-parents=0", "HEAD"), worktree: repo });
  });

  it("no repository, or no commit yet: the global project", async () => {
    const plain = await tempDir("cli-plain-");
    expect(await locateProject(plain)).toMatchObject({ id: "global", worktree: "/" });
    const empty = await tempDir("cli-empty-");
    git(empty, "init", "-q");
    expect(await locateProject(empty)).toMatchObject({ id: "global", worktree: empty });
  });
});

describe("pluginOptions", () => {
  it("takes the plugin entry's options, the project's configuration over the global one, comments and trailing commas allowed", async () => {
    const repo = await makeRepo();
    const config = await tempDir("cli-xdg-config-");
    mkdirSync(join(config, "opencode"));
    writeFileSync(join(config, "opencode", "opencode.json"), JSON.stringify({ plugin: [["opencode-sandboxed", { provider: "local", logLevel: "debug" }]] }));
    const env = { XDG_CONFIG_HOME: config };
    expect(await pluginOptions(repo, repo, env)).toEqual({ provider: "local", logLevel: "debug" });
    writeFileSync(
      join(repo, "opencode.jsonc"),
      `{
        // the project's own
        "plugin": [
          "some-other-plugin",
          ["opencode-sandboxed", { "sync": { "branchPrefix": "agent" /* not opencode */ }, }],
        ],
      }`,
    );
    expect(await pluginOptions(repo, repo, env)).toEqual({ sync: { branchPrefix: "agent" } });
  });

  it("a plain entry has no options; a file that does not parse is skipped", async () => {
    const repo = await makeRepo();
    writeFileSync(join(repo, "opencode.json"), JSON.stringify({ plugin: ["file:///somewhere/opencode-sandboxed/dist/plugin/index.js"] }));
    mkdirSync(join(repo, ".opencode"));
    writeFileSync(join(repo, ".opencode", "opencode.json"), "{ not json");
    expect(await pluginOptions(repo, repo, { XDG_CONFIG_HOME: await tempDir("cli-xdg-config-") })).toEqual({});
  });
});
