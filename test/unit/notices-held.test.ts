import { describe, expect, it } from "vitest";
import { words } from "../../.opencode/plugin/sandbox/service/notices.js";

const held = (paths: string[]) =>
  words({
    kind: "synced",
    sessionID: "ses_1",
    title: "Fix it",
    outcome: { kind: "held", branch: "opencode/3", worktree: "/home/u/p", review: "opencode/3-review", to: "a".repeat(40), paths: paths.map((path) => ({ path, reason: "why" })) },
  })!;

describe("the words for work held for review", () => {
  it.each([
    [[".envrc"], [".envrc (why)"], undefined],
    [["a", "b", "c", "d", "e", "f", "g", "h"], ["a (why)", "f (why)"], "and 2 more"],
  ])("%j → names %j", (paths, named, more) => {
    const w = held(paths);
    expect(w.level).toBe("warning");
    for (const n of named) expect(w.text).toContain(n);
    if (more) expect(w.text).toContain(more);
    expect(w.text).toContain('Session "Fix it"');
    expect(w.text).toContain("/home/u/p");
    expect(w.text).toContain("git diff opencode/3 opencode/3-review");
    expect(w.text).toContain("git merge --ff-only opencode/3-review");
  });

  it("is told again only when the paths change", () => {
    expect(held([".envrc"]).once).toBe(held([".envrc"]).once);
    expect(held([".envrc"]).once).not.toBe(held([".envrc", "opencode.json"]).once);
  });
});
