/**
 * The review branch and the update inspection on real git (no sandbox needed): which
 * branch held work lands on, that a tip the user committed on is never moved, and what
 * the inspection flags and counts.
 */
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HostGit } from "../../.opencode/plugin/sandbox/git/host-git.js";
import { holdForReview } from "../../.opencode/plugin/sandbox/git/review.js";
import { inspectUpdate, parseRawDiff } from "../../.opencode/plugin/sandbox/git/worktree-guard.js";
import { cleanupAll, git, makeRepo } from "./git-support.js";

afterAll(cleanupAll);

const REFLOG = "opencode-sandboxed: sync session ses_x";

/** A commit on top of `parent` adding `files` (name → content; "->target" makes a symlink). */
function commit(repo: string, parent: string, files: Record<string, string>, message = "c"): string {
  git(repo, "checkout", "-q", "--detach", parent);
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(repo, name, ".."), { recursive: true });
    if (content.startsWith("->")) symlinkSync(content.slice(2), join(repo, name));
    else writeFileSync(join(repo, name), content);
  }
  git(repo, "add", "-A");
  git(repo, "commit", "-q", "-m", message);
  const sha = git(repo, "rev-parse", "HEAD");
  git(repo, "checkout", "-q", "main");
  return sha;
}

describe("holdForReview", () => {
  it.each([
    ["no review branch yet: created", "none", "opencode/1-review"],
    ["the review branch is behind: moved forward", "behind", "opencode/1-review"],
    ["sync set it and the sandbox rewrote history: moved over", "ours", "opencode/1-review"],
    ["the user committed on it: kept, the work waits on -review-2", "user", "opencode/1-review-2"],
  ])("%s", async (_name, state, expected) => {
    const repo = await makeRepo();
    const base = git(repo, "rev-parse", "HEAD");
    const hg = new HostGit(repo);
    const first = commit(repo, base, { "x.txt": "1" });
    const next = commit(repo, first, { "x.txt": "2" });
    const rewritten = commit(repo, base, { "x.txt": "other" });
    let target = next;
    if (state === "behind") git(repo, "branch", "opencode/1-review", first);
    if (state === "ours") {
      await holdForReview(hg, "opencode/1", first, REFLOG);
      target = rewritten;
    }
    if (state === "user") {
      git(repo, "branch", "opencode/1-review", first);
      git(repo, "checkout", "-q", "opencode/1-review");
      writeFileSync(join(repo, "mine.txt"), "mine");
      git(repo, "add", "mine.txt");
      git(repo, "commit", "-q", "-m", "user work");
      git(repo, "checkout", "-q", "main");
    }
    const userTip = state === "user" ? git(repo, "rev-parse", "opencode/1-review") : undefined;
    expect(await holdForReview(hg, "opencode/1", target, REFLOG)).toBe(expected);
    expect(git(repo, "rev-parse", expected)).toBe(target);
    if (userTip) expect(git(repo, "rev-parse", "opencode/1-review")).toBe(userTip);
    // Again with the same commit: the same branch, nothing new.
    expect(await holdForReview(hg, "opencode/1", target, REFLOG)).toBe(expected);
  });
});

describe("inspectUpdate", () => {
  it.each([
    ["ordinary files", { "src/a.ts": "x", "docs/opencode.md": "y" }, []],
    ["a plugin at depth", { "pkg/.opencode/plugin/p.ts": "x" }, ["pkg/.opencode/plugin/p.ts"]],
    ["a link inside", { "l": "->src/a.ts" }, []],
    ["a link to /etc", { "l": "->/etc" }, ["l"]],
    ["a link climbing out", { "a/l": "->../../x" }, ["a/l"]],
    ["a link named .envrc", { ".envrc": "->a.txt" }, [".envrc"]],
  ])("%s", async (_name, files, flagged) => {
    const repo = await makeRepo();
    const base = git(repo, "rev-parse", "HEAD");
    const to = commit(repo, base, files as Record<string, string>);
    const r = await inspectUpdate(new HostGit(repo), base, to);
    expect(r.flagged.map((f) => f.path).sort()).toEqual([...flagged].sort());
  });

  it("counts a blob at each path it is written to, and a deletion of an auto-run path is flagged", async () => {
    const repo = await makeRepo({ ".envrc": "old" });
    const base = git(repo, "rev-parse", "HEAD");
    git(repo, "checkout", "-q", "--detach", base);
    for (const n of ["b1", "b2", "b3"]) writeFileSync(join(repo, n), "z".repeat(1000));
    git(repo, "rm", "-q", ".envrc");
    git(repo, "add", "-A");
    git(repo, "commit", "-q", "-m", "c");
    const to = git(repo, "rev-parse", "HEAD");
    git(repo, "checkout", "-q", "main");
    const r = await inspectUpdate(new HostGit(repo), base, to);
    expect(r.writeBytes).toBe(3000);
    expect(r.flagged.map((f) => f.path)).toEqual([".envrc"]);
  });

  it("parses raw diff entries, including names with spaces and newlines", () => {
    const sha = "a".repeat(40);
    const zero = "0".repeat(40);
    const out = `:000000 100644 ${zero} ${sha} A\0a b\nc\0:100644 000000 ${sha} ${zero} D\0gone\0`;
    expect(parseRawDiff(out)).toEqual([
      { path: "a b\nc", mode: "100644", sha, deleted: false },
      { path: "gone", mode: "000000", sha: zero, deleted: true },
    ]);
  });
});
