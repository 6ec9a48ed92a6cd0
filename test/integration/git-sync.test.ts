/** Git sync flows with real git: seed, sync, the "nothing local is lost" rules, merge. */
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { sessionRef } from "../../.opencode/plugin/sandbox/git/refs.js";
import { cleanupAll, git, gitOk, harness, makeRepo, testConfig } from "./git-support.js";
import { disposeProviders, providerCases } from "./git-providers.js";

afterAll(async () => {
  await disposeProviders();
  await cleanupAll();
});

const hashFile = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");

// Bounds only catch a hang: Daytona through the stand-in does more per sync than a directory, and CI machines are loaded.
describe.each(providerCases())("git sync on $name", { timeout: 180_000 }, ({ make }) => {
  it("seeds what the user sees without touching their index, stash, branch or work tree", async () => {
    const repo = await makeRepo({ "b.txt": "b\n" });
    writeFileSync(join(repo, "a.txt"), "a changed\n"); // unstaged change
    writeFileSync(join(repo, "staged.txt"), "staged\n");
    git(repo, "add", "staged.txt"); // staged new file
    writeFileSync(join(repo, "untracked.txt"), "u\n");
    writeFileSync(join(repo, "debug.log"), "ignored\n");
    writeFileSync(join(repo, ".env"), "SECRET=1\n");
    writeFileSync(join(repo, "b.txt"), "b stashed\n");
    git(repo, "stash", "push", "-q", "--", "b.txt");
    const before = {
      status: git(repo, "status", "--porcelain"),
      stash: git(repo, "stash", "list"),
      head: git(repo, "rev-parse", "HEAD"),
      branch: git(repo, "symbolic-ref", "HEAD"),
      index: hashFile(join(repo, ".git", "index")),
    };
    writeFileSync(join(repo, "local secret#1"), "TOKEN=2\n");
    writeFileSync(join(repo, ".git", "info", "exclude"), "local secret*\n"); // a rule the sandbox does not get
    const h = await harness(repo, { provider: await make(), config: testConfig({ copyIgnored: [".env", "local secret*"] }) });
    const sandbox = await h.open("ses_seed", { title: "Seed test" });

    expect(await h.sh("ses_seed", "cat a.txt")).toBe("a changed");
    expect(await h.sh("ses_seed", "cat staged.txt")).toBe("staged");
    expect(await h.sh("ses_seed", "cat untracked.txt")).toBe("u");
    expect(await h.sh("ses_seed", "cat b.txt")).toBe("b"); // the stash is not what the user sees
    expect(await h.sh("ses_seed", "test -e debug.log && echo yes || echo no")).toBe("no");
    expect(await h.sh("ses_seed", "cat .env")).toBe("SECRET=1"); // opted in
    expect(await h.sh("ses_seed", "cat 'local secret#1'")).toBe("TOKEN=2");
    expect(await h.sh("ses_seed", "git symbolic-ref HEAD")).toBe("refs/heads/opencode");
    expect(await h.sh("ses_seed", "git status --porcelain")).toBe("");
    // Copied into the sandbox's working tree only: on no branch, and no sync brings them back.
    expect(git(repo, "ls-tree", "-r", "--name-only", "opencode/1")).not.toMatch(/\.env|local secret/);
    expect(git(repo, "for-each-ref", "refs/opencode-sandboxed/ignored")).toBe("");

    const rec = await h.store.get("ses_seed");
    expect(rec?.branch).toBe("opencode/1");
    expect(rec?.branchNumber).toBe(1);
    expect(rec?.baseCommit).toMatch(/^[0-9a-f]{40}$/);
    expect(git(repo, "rev-parse", "opencode/1")).toBe(rec?.baseCommit);
    expect(git(repo, "rev-parse", "opencode/1^")).toBe(before.head);
    expect(await h.sh("ses_seed", "git rev-parse HEAD")).toBe(rec?.baseCommit);

    expect(git(repo, "status", "--porcelain")).toBe(before.status);
    expect(git(repo, "stash", "list")).toBe(before.stash);
    expect(git(repo, "rev-parse", "HEAD")).toBe(before.head);
    expect(git(repo, "symbolic-ref", "HEAD")).toBe(before.branch);
    expect(hashFile(join(repo, ".git", "index"))).toBe(before.index);
    expect(await sandbox.stat(`${sandbox.projectDir}/.git/opencode-sandboxed/seed.bundle`)).toBeNull();

    await h.sh("ses_seed", "echo more >> a.txt");
    expect((await h.gitSync.sync("ses_seed", "idle")).kind).toBe("synced");
    expect(git(repo, "show", "opencode/1:a.txt")).toBe("a changed\nmore");
    expect(git(repo, "ls-tree", "-r", "--name-only", "opencode/1")).not.toMatch(/\.env|local secret/);
  });

  it("seeds a clean checkout at HEAD itself and syncs work incrementally with a message naming the session", async () => {
    const repo = await makeRepo();
    const h = await harness(repo, { provider: await make() });
    await h.open("ses_a", { title: "Add feature X" });
    const rec0 = await h.store.get("ses_a");
    expect(rec0?.baseCommit).toBe(git(repo, "rev-parse", "HEAD"));

    await h.sh("ses_a", "echo new > new.txt && echo more >> a.txt");
    const r1 = await h.gitSync.sync("ses_a", "idle");
    expect(r1.kind).toBe("synced");
    const tip = git(repo, "rev-parse", "opencode/1");
    expect(git(repo, "show", "opencode/1:new.txt")).toBe("new");
    expect(git(repo, "log", "-1", "--format=%B", "opencode/1")).toContain('"Add feature X"');
    expect(git(repo, "log", "-1", "--format=%B", "opencode/1")).toContain("ses_a");
    expect(h.toast.text()).toContain("git log opencode/1");
    expect(h.toast.text()).toContain("git checkout opencode/1");
    expect(git(repo, "rev-parse", sessionRef("ses_a"))).toBe(tip);

    // Nothing new: no commit, no bundle.
    const r2 = await h.gitSync.sync("ses_a", "idle");
    expect(r2.kind === "synced" && r2.bytes).toBe(0);
    expect(git(repo, "rev-parse", "opencode/1")).toBe(tip);

    // One more change: an incremental bundle with just that.
    await h.sh("ses_a", "echo again > again.txt");
    const r3 = await h.gitSync.sync("ses_a", "idle");
    expect(r3.kind === "synced" && r3.bytes).toBeGreaterThan(0);
    expect(r3.kind === "synced" && r3.bytes).toBeLessThan(2000);
    expect(git(repo, "rev-parse", "opencode/1^")).toBe(tip);
    expect(gitOk(repo, "fsck", "--no-progress")).toBe(true);
  });

  it("syncs the agent's own commits and its branch switches", async () => {
    const repo = await makeRepo();
    const h = await harness(repo, { provider: await make() });
    await h.open("ses_b");
    await h.sh("ses_b", "echo 1 > one.txt && git add one.txt && git commit -qm 'agent commit 1'");
    await h.sh("ses_b", "git checkout -q -b feature && echo 2 > two.txt && git add two.txt && git commit -qm 'agent commit 2' && echo 3 > three.txt");
    await h.gitSync.sync("ses_b", "idle");
    const log = git(repo, "log", "--format=%s", "opencode/1");
    expect(log.split("\n").slice(0, 3)).toEqual([expect.stringContaining("opencode session"), "agent commit 2", "agent commit 1"]);
    expect(git(repo, "show", "opencode/1:three.txt")).toBe("3");
  });

  it("records a merge the agent left unfinished as a merge commit; a re-initialised empty repository is reported and changes nothing", async () => {
    const repo = await makeRepo();
    const h = await harness(repo, { provider: await make() });
    await h.open("ses_m");
    await h.sh(
      "ses_m",
      "git checkout -q -b side && echo side > side.txt && git add side.txt && git commit -qm side && git checkout -q opencode && " +
        "echo main > main.txt && git add main.txt && git commit -qm main && git merge -q --no-commit side",
    );
    await h.gitSync.sync("ses_m", "idle");
    expect(git(repo, "log", "-1", "--format=%P", "opencode/1").split(" ")).toHaveLength(2);
    expect(git(repo, "show", "opencode/1:side.txt")).toBe("side");
    const tip = git(repo, "rev-parse", "opencode/1");

    await h.sh("ses_m", "find . -mindepth 1 -maxdepth 1 -exec rm -rf {} + && git init -q . && git checkout -q -b opencode");
    await expect(h.gitSync.sync("ses_m", "idle")).rejects.toThrow("the sandbox's repository has no commit to sync");
    expect(git(repo, "rev-parse", "opencode/1")).toBe(tip);
  });

  it("keeps the user's commits on opencode/N and puts the sandbox's work on a side branch", async () => {
    const repo = await makeRepo();
    const h = await harness(repo, { provider: await make() });
    await h.open("ses_c");
    await h.sh("ses_c", "echo s1 > s.txt");
    await h.gitSync.sync("ses_c", "idle");
    const synced = git(repo, "rev-parse", "opencode/1");
    // The user commits on the branch (in another worktree-free way: commit-tree + update-ref).
    git(repo, "checkout", "-q", "opencode/1");
    writeFileSync(join(repo, "user.txt"), "mine\n");
    git(repo, "add", "user.txt");
    git(repo, "commit", "-qm", "user commit");
    const userTip = git(repo, "rev-parse", "HEAD");
    git(repo, "checkout", "-q", "main");
    await h.sh("ses_c", "echo s2 >> s.txt");
    const r = await h.gitSync.sync("ses_c", "idle");
    expect(r.kind === "synced" && r.outcome.kind).toBe("diverted");
    expect(git(repo, "rev-parse", "opencode/1")).toBe(userTip);
    expect(git(repo, "show", "opencode/1-sandbox-1:s.txt")).toBe("s1\ns2");
    expect(gitOk(repo, "merge-base", "--is-ancestor", synced, "opencode/1-sandbox-1")).toBe(true);
    expect(h.toast.text()).toMatch(/commits made outside the session; they are kept/);
    expect(h.toast.text()).toContain("opencode/1-sandbox-1");
    // Later work keeps moving the side branch, not a new one.
    await h.sh("ses_c", "echo s3 >> s.txt");
    await h.gitSync.sync("ses_c", "idle");
    expect(git(repo, "show", "opencode/1-sandbox-1:s.txt")).toBe("s1\ns2\ns3");
    expect(gitOk(repo, "rev-parse", "--verify", "-q", "opencode/1-sandbox-2")).toBe(false);
    // Bringing the user's branch in makes the sandbox continue opencode/1 again.
    const m = await h.gitSync.merge("ses_c", "opencode/1");
    expect(m.kind).toBe("merged");
    await h.gitSync.sync("ses_c", "idle");
    expect(git(repo, "show", "opencode/1:user.txt")).toBe("mine");
    expect(git(repo, "show", "opencode/1:s.txt")).toBe("s1\ns2\ns3");
  });

  it("fast-forwards a checked-out clean branch; leaves a dirty one alone, tells once, and retries", async () => {
    const repo = await makeRepo();
    const h = await harness(repo, { provider: await make() });
    await h.open("ses_d");
    git(repo, "checkout", "-q", "opencode/1");
    await h.sh("ses_d", "echo d1 > d.txt");
    const r1 = await h.gitSync.sync("ses_d", "idle");
    expect(r1.kind === "synced" && r1.outcome.kind).toBe("advanced");
    expect(readFileSync(join(repo, "d.txt"), "utf8")).toBe("d1\n");
    expect(git(repo, "status", "--porcelain")).toBe("");

    writeFileSync(join(repo, "a.txt"), "local edit\n");
    await h.sh("ses_d", "echo d2 > d.txt");
    const r2 = await h.gitSync.sync("ses_d", "idle");
    expect(r2.kind === "synced" && r2.outcome.kind).toBe("waiting");
    expect(readFileSync(join(repo, "d.txt"), "utf8")).toBe("d1\n");
    expect(readFileSync(join(repo, "a.txt"), "utf8")).toBe("local edit\n");
    await h.sh("ses_d", "echo d3 > d.txt");
    await h.gitSync.sync("ses_d", "idle");
    expect(h.toast.shown.filter((t) => t.message.includes("local changes")).length).toBe(1);
    expect(readFileSync(join(repo, "d.txt"), "utf8")).toBe("d1\n");

    git(repo, "checkout", "-q", "--", "a.txt");
    const r3 = await h.gitSync.sync("ses_d", "idle"); // nothing new in the sandbox: still applies
    expect(r3.kind === "synced" && r3.outcome.kind).toBe("advanced");
    expect(readFileSync(join(repo, "d.txt"), "utf8")).toBe("d3\n");
    expect(git(repo, "status", "--porcelain")).toBe("");
    expect(gitOk(repo, "fsck", "--no-progress")).toBe(true);
  });

  it("gives five sessions syncing at once five correct branches", async () => {
    const repo = await makeRepo();
    const h = await harness(repo, { provider: await make() });
    const ids = ["ses_1", "ses_2", "ses_3", "ses_4", "ses_5"];
    await Promise.all(ids.map((id) => h.open(id)));
    await Promise.all(ids.map((id) => h.sh(id, `echo ${id} > who.txt`)));
    await Promise.all(ids.map((id) => h.gitSync.sync(id, "idle")));
    const branches = new Set<string>();
    for (const id of ids) {
      const rec = await h.store.get(id);
      branches.add(rec!.branch!);
      expect(git(repo, "show", `${rec!.branch}:who.txt`)).toBe(id);
    }
    expect(branches.size).toBe(5);
  });

  it("falls back to a full bundle when the host lacks the base", async () => {
    const repo = await makeRepo();
    const h = await harness(repo, { provider: await make() });
    await h.open("ses_f");
    await h.sh("ses_f", "echo f > f.txt");
    await h.store.patch("ses_f", { lastSyncedCommit: "0123456789012345678901234567890123456789" });
    const r = await h.gitSync.sync("ses_f", "idle");
    expect(r.kind).toBe("synced");
    expect(git(repo, "show", "opencode/1:f.txt")).toBe("f");
  });

  it("re-seeds a re-created sandbox from the tip of its branch", async () => {
    const repo = await makeRepo();
    const h = await harness(repo, { provider: await make() });
    await h.open("ses_r");
    await h.sh("ses_r", "echo kept > kept.txt");
    await h.gitSync.sync("ses_r", "idle");
    await h.open("ses_r", { recreated: true });
    expect(await h.sh("ses_r", "cat kept.txt")).toBe("kept");
    expect((await h.store.get("ses_r"))?.branch).toBe("opencode/1");
    await h.sh("ses_r", "echo more > more.txt");
    await h.gitSync.sync("ses_r", "idle");
    expect(git(repo, "show", "opencode/1:more.txt")).toBe("more");
    expect(git(repo, "show", "opencode/1:kept.txt")).toBe("kept");
  });

  it("merges a local ref into the sandbox; conflicts are reported and the merge aborted", async () => {
    const repo = await makeRepo();
    const h = await harness(repo, { provider: await make() });
    await h.open("ses_m");
    writeFileSync(join(repo, "main2.txt"), "from main\n");
    git(repo, "add", "main2.txt");
    git(repo, "commit", "-qm", "main work");
    const ok = await h.gitSync.merge("ses_m", "main");
    expect(ok.kind).toBe("merged");
    expect(await h.sh("ses_m", "cat main2.txt")).toBe("from main");

    await h.sh("ses_m", "echo sandbox > a.txt");
    writeFileSync(join(repo, "a.txt"), "host\n");
    git(repo, "commit", "-qam", "host a");
    const bad = await h.gitSync.merge("ses_m", "main");
    expect(bad.kind).toBe("conflict");
    expect(bad.conflicts).toEqual(["a.txt"]);
    expect(await h.sh("ses_m", "cat a.txt")).toBe("sandbox");
    expect(await h.sh("ses_m", "test -e .git/MERGE_HEAD && echo merging || echo clean")).toBe("clean");
    expect(h.toast.text()).toContain("conflicts");
  });

  it("with an `opencode` branch: a clear message, the sandbox still works, sync starts once it is renamed", async () => {
    const repo = await makeRepo();
    git(repo, "branch", "opencode");
    const h = await harness(repo, { provider: await make() });
    await h.open("ses_x");
    expect(h.toast.text()).toContain('A local branch named "opencode" exists');
    expect(h.toast.text()).toContain("sync.branchPrefix");
    expect(await h.sh("ses_x", "cat a.txt")).toBe("a");
    await h.sh("ses_x", "echo x > x.txt");
    await expect(h.gitSync.sync("ses_x", "idle")).rejects.toThrow(/opencode/);
    git(repo, "branch", "-m", "opencode", "opencode-old");
    const r = await h.gitSync.sync("ses_x", "idle");
    expect(r.kind === "synced" && r.outcome.branch).toBe("opencode/1");
    expect(git(repo, "show", "opencode/1:x.txt")).toBe("x");
  });

  it("without git: sync is off, the user is told once why and how", async () => {
    const { tempDir } = await import("./git-support.js");
    const dir = await tempDir("no-git-");
    const h = await harness(dir, { provider: await make() });
    expect(await h.seeder.seed((await (h.provider.create({ labels: {} }))), { sessionID: "s1", record: { provider: "x", sandboxId: "y", createdAt: "", lastUsedAt: "" }, recreated: false })).toEqual({});
    await h.open("s2");
    expect(h.toast.shown.length).toBe(1);
    expect(h.toast.text()).toMatch(/not a git repository.*git init/s);
    expect((await h.gitSync.sync("s2", "idle")).kind).toBe("skipped");
    expect(existsSync(join(dir, ".git"))).toBe(false);
  });
});
