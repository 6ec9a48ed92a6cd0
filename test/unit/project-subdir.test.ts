import { describe, expect, it } from "vitest";
import { projectSubdir } from "../../.opencode/plugin/sandbox/service/project.js";

describe("projectSubdir: where OpenCode's directory sits in the repository the sandbox holds", () => {
  it.each([
    ["/repo", "/repo", ""],
    ["/repo", "/repo/packages/app", "packages/app"],
    ["/repo", "/repo/a b/c", "a b/c"],
    ["/", "/home/me/notes", ""], // not a git repository: OpenCode says "/"
    [undefined, "/repo", ""],
    ["/repo", "/elsewhere", ""],
    ["/repo", "/repository", ""], // a sibling that shares the prefix
  ])("worktree %s, directory %s → %j", (worktree, directory, expected) => {
    expect(projectSubdir(worktree, directory)).toBe(expected);
  });
});
