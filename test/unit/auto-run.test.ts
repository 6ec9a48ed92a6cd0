import { describe, expect, it } from "vitest";
import { autoRunReason, symlinkEscapes } from "../../.opencode/plugin/sandbox/git/auto-run.js";

describe("autoRunReason", () => {
  it.each([
    [".opencode/plugin/evil.ts", true],
    ["sub/pkg/.opencode/plugin/evil.ts", true],
    ["opencode.json", true],
    ["a/b/opencode.jsonc", true],
    [".envrc", true],
    ["deep/.envrc", true],
    [".vscode/tasks.json", true],
    [".VSCode/settings.json", true],
    [".idea/workspace.xml", true],
    [".gitattributes", true],
    ["lib/.gitattributes", true],
    [".gitmodules", true],
    [".husky/pre-commit", true],
    [".githooks/pre-push", true],
    [".npmrc", true],
    [".opencode", true],
    ["src/index.ts", false],
    ["docs/opencode.md", false],
    ["my.envrc.example", false],
    ["vscode/readme.md", false],
    ["src/opencode.json.bak", false],
  ])("%s → %s", (path, autoRuns) => {
    expect(autoRunReason(path) !== undefined).toBe(autoRuns);
  });
});

describe("symlinkEscapes", () => {
  it.each([
    ["link", "/", true],
    ["link", "/etc/shadow", true],
    ["a/link", "../..", true],
    ["a/link", "../../etc", true],
    ["link", "..", true],
    ["a/link", "../b", false],
    ["link", "src/x.ts", false],
    ["a/b/link", "../../c", false],
    ["link", "", true],
  ])("%s → %s escapes: %s", (link, target, escapes) => {
    expect(symlinkEscapes(link, target)).toBe(escapes);
  });
});
