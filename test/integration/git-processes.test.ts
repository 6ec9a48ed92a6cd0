/**
 * Across processes: `kill -9` at any point of a sync leaves `opencode/N` at the old or
 * the new tip with a clean `git fsck`, and the next sync completes; two processes
 * allocating branch numbers never get the same one.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { GitSync } from "../../.opencode/plugin/sandbox/git/service.js";
import { DirProvider } from "../support/dir-provider.js";
import { cleanupAll, fileStore, git, gitOk, makeRepo, RecordingToaster, tempDir, testConfig } from "./git-support.js";

afterAll(cleanupAll);

const CHILD = fileURLToPath(new URL("./git-child.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

interface Child {
  ready: Promise<void>;
  exit: Promise<{ code: number | null; out: string }>;
  pid: number;
}

function child(...args: string[]): Child {
  // Own process group: the kill takes its git children too, like a real kill of OpenCode's tree.
  const p = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  p.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    if (out.includes("READY")) readyResolve();
  });
  p.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exit = new Promise<{ code: number | null; out: string }>((resolve) =>
    p.on("exit", (code) => {
      readyResolve();
      resolve({ code, out });
    }),
  );
  return { ready, exit, pid: p.pid! };
}

function fsckClean(repo: string) {
  const out = git(repo, "fsck", "--no-progress", "--no-dangling", "--connectivity-only");
  expect(out).not.toMatch(/error|missing|broken/i);
  git(repo, "fsck", "--no-progress", "--no-dangling"); // throws on a non-zero exit
}

describe.each([
  { mode: "not checked out", checkout: false },
  { mode: "checked out (work tree follows)", checkout: true },
])("kill -9 during a sync, branch $mode", ({ checkout }) => {
  it("leaves opencode/N at the old or the new tip, fsck clean, and the next sync completes", { timeout: 180_000 }, async () => {
    const repo = await makeRepo();
    const base = await tempDir("git-kill-sbx-");
    const storePath = join(await tempDir("git-kill-store-"), "state.json");
    const store = fileStore(storePath);
    const sandbox = await new DirProvider(base).create({ labels: {}, id: "sbx1" });
    const mk = () =>
      new GitSync({
        directory: repo,
        config: testConfig(),
        log: silentLogger,
        toast: new RecordingToaster(),
        store,
        sandboxFor: async () => sandbox,
        lockStaleMs: 2000,
      });
    const now = new Date().toISOString();
    const record = { provider: "dir", sandboxId: "sbx1", createdAt: now, lastUsedAt: now };
    await store.set("ses_k", record);
    await store.patch("ses_k", { ...(await mk().seed(sandbox, { sessionID: "ses_k", record, recreated: false })), seededAt: now });
    if (checkout) git(repo, "checkout", "-q", "opencode/1");
    const sbxGit = (...a: string[]) => git(sandbox.projectDir, ...a);
    const outcomes: string[] = [];
    // Kill points step through the whole sync (the sandbox part, the download, the
    // fetch, the ref and work-tree updates) until a child outruns the kill twice.
    let finished = 0;
    for (let i = 0; finished < 2 && i < 40; i++) {
      const delay = i * 20;
      // Several files so the work-tree update takes a moment.
      await sandbox.exec(`for f in 1 2 3 4 5 6 7 8; do echo ${i} >> k$f.txt; done; head -c 20000 /dev/urandom > blob${i}.bin`);
      const old = git(repo, "rev-parse", "opencode/1");
      const c = child("sync", JSON.stringify({ repo, base, sandboxId: "sbx1", sessionID: "ses_k", storePath }));
      await c.ready;
      await new Promise((r) => setTimeout(r, delay));
      try {
        process.kill(-c.pid, "SIGKILL");
      } catch {
        // already exited
      }
      const { out } = await c.exit;
      // The killed holder's lock would go stale in 2 s; drop it so the next kill point
      // lands in git work, not in the lock wait (the final sync below does wait one out).
      rmSync(join(repo, ".git", "opencode-sandboxed", "sync.lock"), { recursive: true, force: true });
      const sandboxHead = sbxGit("rev-parse", "HEAD");
      const tip = git(repo, "rev-parse", "opencode/1");
      if (out.includes("RESULT")) finished++;
      outcomes.push(`${delay}ms:${tip === old ? "old" : "new"}${out.includes("RESULT") ? "(finished)" : ""}`);
      if (process.env.GIT_KILL_DEBUG) console.log(delay, out.slice(-300));
      // The old tip, or a commit the sandbox's HEAD was at (a killed sync's update
      // finished by the next one is an earlier "new" tip).
      const heads = sbxGit("log", "-g", "--format=%H", "HEAD").split("\n");
      expect([old, sandboxHead, ...heads]).toContain(tip);
      expect(tip === old || gitOk(repo, "merge-base", "--is-ancestor", old, tip)).toBe(true);
      fsckClean(repo);
    }
    // One more kill mid-sync, its lock left behind: the next ordinary sync takes the
    // stale lock over and brings everything.
    await sandbox.exec("echo last > last.txt");
    const last = child("sync", JSON.stringify({ repo, base, sandboxId: "sbx1", sessionID: "ses_k", storePath }));
    await last.ready;
    await new Promise((r) => setTimeout(r, 60));
    try {
      process.kill(-last.pid, "SIGKILL");
    } catch {
      // already exited
    }
    await last.exit;
    // The killed sync's script inside the sandbox may still be committing (a sandbox
    // command outlives the host process that started it): let it finish first.
    for (let t = 0; t < 200 && existsSync(join(sandbox.projectDir, ".git/opencode-sandboxed/running")); t++)
      await new Promise((r) => setTimeout(r, 50));
    const r = await mk().sync("ses_k", "idle");
    expect(r.kind).toBe("synced");
    if (process.env.GIT_KILL_DEBUG) console.log("FINAL", JSON.stringify(r), git(repo, "status", "--porcelain"), outcomes.join(" "));
    const head = sbxGit("rev-parse", "HEAD");
    expect(git(repo, "rev-parse", "opencode/1")).toBe(head);
    fsckClean(repo);
    if (checkout) {
      expect(git(repo, "status", "--porcelain")).toBe("");
      expect(readFileSync(join(repo, "k1.txt"), "utf8")).toBe(readFileSync(join(sandbox.projectDir, "k1.txt"), "utf8"));
    }
    console.log(`kill points (checkout=${checkout}): ${outcomes.join(" ")}`);
    expect(outcomes.some((o) => o.includes(":old"))).toBe(true);
    expect(outcomes.some((o) => o.includes(":new"))).toBe(true);
  });
});

describe("branch numbers across processes", () => {
  it("two processes allocating at once never get the same number", { timeout: 60_000 }, async () => {
    const repo = await makeRepo();
    const children = [child("allocate", repo, "8"), child("allocate", repo, "8"), child("allocate", repo, "8")];
    const results = await Promise.all(children.map((c) => c.exit));
    const numbers = results.flatMap(({ code, out }) => {
      expect(code, out).toBe(0);
      return JSON.parse(/RESULT (.*)/.exec(out)![1]) as number[];
    });
    expect(numbers.length).toBe(24);
    expect(new Set(numbers).size).toBe(24);
    const branches = git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/opencode/").split("\n");
    expect(branches.length).toBe(24);
  });
});
