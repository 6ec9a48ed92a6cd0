/**
 * Sync lets nothing in behind the user's back (issue 13, item 9): an agent in a real
 * sandbox commits what would run by itself on the host once it lands in a checked-out
 * `opencode/<N>`; from the host, the checkout and its HEAD must not move, the work
 * must wait on `opencode/<N>-review`, and the user must be told which paths and how to
 * take it. A harmless update still fast-forwards the checkout. Beyond the size budget
 * a sync is refused and nothing is written.
 */
import { existsSync, lstatSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isGitSyncError } from "../../.opencode/plugin/sandbox/git/errors.js";
import { cleanupAll, git, gitOk, harness, makeRepo, testConfig, type Harness } from "./git-support.js";
import { disposeProviders, providerCases } from "./git-providers.js";

afterAll(async () => {
  await disposeProviders();
  await cleanupAll();
});

/** What the agent does in the sandbox; the paths that must be held. */
const ATTACKS: [string, string, string[]][] = [
  ["an OpenCode plugin", "mkdir -p .opencode/plugin && echo 'export default {}' > .opencode/plugin/x.ts", [".opencode/plugin/x.ts"]],
  ["opencode.json with an MCP command", `echo '{"mcp":{"x":{"type":"local","command":["sh","-c","id"]}}}' > opencode.json`, ["opencode.json"]],
  [".envrc (direnv)", "echo 'touch /tmp/pwned' > .envrc", [".envrc"]],
  ["editor tasks at depth", "mkdir -p pkg/sub/.vscode && echo '{}' > pkg/sub/.vscode/tasks.json", ["pkg/sub/.vscode/tasks.json"]],
  ["git attributes and hooks", "echo '* filter=x' > .gitattributes && mkdir -p .husky && echo 'id' > .husky/pre-commit", [".gitattributes", ".husky/pre-commit"]],
  ["a symlink to /etc/shadow", "ln -s /etc/shadow shadow", ["shadow"]],
  ["a symlink to /", "ln -s / root", ["root"]],
  ["a symlink climbing out", "mkdir -p d && ln -s ../../.. d/up", ["d/up"]],
];

describe.each(providerCases())("sync into a checked-out branch on $name", { timeout: 180_000 }, ({ make }) => {
  let h: Harness;
  let repo: string;
  const ses = "ses_auto";

  beforeAll(async () => {
    repo = await makeRepo();
    h = await harness(repo, { provider: await make() });
    await h.open(ses);
    git(repo, "checkout", "-q", "opencode/1");
  });

  it("fast-forwards a harmless update", async () => {
    await h.sh(ses, "echo ok > ok.txt && ln -s ok.txt link-in && mkdir -p src && echo x > src/.opencode.md");
    const r = await h.gitSync.sync(ses, "idle");
    expect(r.kind === "synced" && r.outcome.kind).toBe("advanced");
    expect(readFileSync(join(repo, "ok.txt"), "utf8")).toBe("ok\n");
    expect(lstatSync(join(repo, "link-in")).isSymbolicLink()).toBe(true);
    expect(git(repo, "status", "--porcelain")).toBe("");
  });

  it.each(ATTACKS)("holds %s for review; the checkout and HEAD stay", async (_name, command, paths) => {
    const before = git(repo, "rev-parse", "HEAD");
    const shown = h.toast.shown.length;
    const harmless = `harmless-${paths[0].replace(/\W/g, "_")}.txt`;
    await h.sh(ses, `${command} && echo harmless > ${harmless}`);
    const r = await h.gitSync.sync(ses, "idle");
    expect(r.kind === "synced" && r.outcome.kind).toBe("held");
    if (r.kind !== "synced" || r.outcome.kind !== "held") return;
    expect(r.outcome.review).toBe("opencode/1-review");
    expect(r.outcome.paths.map((p) => p.path).sort()).toEqual(expect.arrayContaining(paths));
    // From the host: nothing moved, nothing written — not even the harmless file of the same update.
    expect(git(repo, "rev-parse", "HEAD")).toBe(before);
    expect(git(repo, "rev-parse", "opencode/1")).toBe(before);
    expect(git(repo, "symbolic-ref", "HEAD")).toBe("refs/heads/opencode/1");
    for (const p of paths) expect(existsSync(join(repo, p)) || lstatExists(join(repo, p))).toBe(false);
    expect(existsSync(join(repo, harmless))).toBe(false);
    expect(git(repo, "status", "--porcelain")).toBe("");
    // The work waits, whole, on the review branch; the user is told what and how.
    expect(git(repo, "rev-parse", "opencode/1-review")).toBe(r.commit);
    for (const p of paths) expect(gitOk(repo, "cat-file", "-e", `opencode/1-review:${p}`)).toBe(true);
    const told = h.toast.shown.slice(shown).map((t) => t.message).join("\n");
    for (const p of paths) expect(told).toContain(p);
    expect(told).toContain("git merge --ff-only opencode/1-review");

    // The agent undoes it: the update is harmless again and the checkout follows.
    await h.sh(ses, `git rm -rq --cached --ignore-unmatch -- ${paths.map((p) => `'${p}'`).join(" ")} >/dev/null && rm -rf -- ${paths.map((p) => `'${p}'`).join(" ")}`);
    const undone = await h.gitSync.sync(ses, "idle");
    expect(undone.kind === "synced" && undone.outcome.kind).toBe("advanced");
    expect(existsSync(join(repo, harmless))).toBe(true);
    expect(git(repo, "status", "--porcelain")).toBe("");
  });

  it("moves the review branch on with later work; the user takes it with git merge --ff-only", async () => {
    await h.sh(ses, "echo 'use flake' > .envrc");
    const r1 = await h.gitSync.sync(ses, "idle");
    expect(r1.kind === "synced" && r1.outcome.kind).toBe("held");
    await h.sh(ses, "echo more > more.txt");
    const r2 = await h.gitSync.sync(ses, "idle");
    expect(r2.kind === "synced" && r2.outcome.kind).toBe("held");
    expect(git(repo, "rev-parse", "opencode/1-review")).toBe(r2.kind === "synced" ? r2.commit : "");
    git(repo, "merge", "-q", "--ff-only", "opencode/1-review");
    expect(readFileSync(join(repo, ".envrc"), "utf8")).toBe("use flake\n");
    await h.sh(ses, "echo after > after.txt");
    const r3 = await h.gitSync.sync(ses, "idle");
    expect(r3.kind === "synced" && r3.outcome.kind).toBe("advanced");
    expect(readFileSync(join(repo, "after.txt"), "utf8")).toBe("after\n");
  });
});

function lstatExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

const MiB = 1024 * 1024;

describe.each(providerCases())("the size budget on $name", { timeout: 300_000 }, ({ make }) => {
  // [case, what the agent writes, branch checked out, refused with (undefined: synced)]
  const cases: [string, string, boolean, string | undefined][] = [
    ["an incompressible file beyond it (the bundle)", "head -c 3145728 /dev/urandom > big.bin", false, "is a bundle of"],
    ["a file that compresses 1000:1 (the objects it would add)", "head -c 16777216 /dev/zero > zeros.bin", false, "would add to your repository's objects"],
    ["one blob at many paths, checked out (the files it would write)", "head -c 524288 /dev/urandom > b0 && for i in 1 2 3 4 5 6; do cp b0 b$i; done", true, "would write into your checkout of opencode/1"],
    ["one blob at many paths, not checked out (only the ref moves)", "head -c 524288 /dev/urandom > b0 && for i in 1 2 3 4 5 6; do cp b0 b$i; done", false, undefined],
    ["work within it", "head -c 262144 /dev/urandom > small.bin", true, undefined],
  ];

  it.each(cases)("%s", async (_name, command, checkedOut, refused) => {
    const repo = await makeRepo();
    const h = await harness(repo, { provider: await make(), config: testConfig({ sizeBudgetMb: 1 }) });
    await h.open("ses_b");
    if (checkedOut) git(repo, "checkout", "-q", "opencode/1");
    const before = git(repo, "rev-parse", "opencode/1");
    const packs = git(repo, "count-objects", "-v");
    await h.sh("ses_b", command);
    const r = await h.gitSync.sync("ses_b", "idle").catch((e: unknown) => e);
    if (!refused) {
      expect((r as { kind?: string }).kind).toBe("synced");
      return;
    }
    expect(isGitSyncError(r, "over_budget")).toBe(true);
    expect((r as Error).message).toContain(refused);
    expect((r as Error).message).toContain("sync.sizeBudgetMb");
    expect(git(repo, "rev-parse", "opencode/1")).toBe(before);
    expect(git(repo, "status", "--porcelain")).toBe("");
    if (!checkedOut) expect(git(repo, "count-objects", "-v")).toBe(packs); // nothing fetched
    // The work stays in the sandbox, committed.
    expect(await h.sh("ses_b", "git status --porcelain")).toBe("");
    expect(Number(await h.sh("ses_b", "du -bc * | tail -1 | cut -f1"))).toBeGreaterThan(1 * MiB);
  });
});
