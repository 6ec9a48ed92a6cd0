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
import { StateStore } from "../../.opencode/plugin/sandbox/core/state-store.js";
import { Seeder } from "../../.opencode/plugin/sandbox/git/seeder.js";
import { GitSync } from "../../.opencode/plugin/sandbox/git/service.js";
import { DirProvider } from "../support/dir-provider.js";
import { cleanupAll, git, gitOk, makeRepo, tempDir, testConfig } from "./git-support.js";
import { until } from "../support/until.js";

afterAll(cleanupAll);

const CHILD = fileURLToPath(new URL("./git-child.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

interface Child {
  /** True once `text` was printed; false when the process exited first. */
  printed(text: string): Promise<boolean>;
  exit: Promise<{ code: number | null; out: string }>;
  pid: number;
}

function child(...args: string[]): Child {
  // Own process group: the kill takes its git children too, like a real kill of OpenCode's tree.
  const p = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const waiting: { text: string; resolve: (seen: boolean) => void }[] = [];
  const check = (exited: boolean) => {
    for (const w of waiting.splice(0)) {
      if (out.includes(w.text)) w.resolve(true);
      else if (exited) w.resolve(false);
      else waiting.push(w);
    }
  };
  p.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    check(false);
  });
  p.stderr.on("data", (d: Buffer) => (out += d.toString()));
  const exit = new Promise<{ code: number | null; out: string }>((resolve) =>
    p.on("close", (code) => {
      check(true);
      resolve({ code, out });
    }),
  );
  let closed = false;
  void exit.then(() => (closed = true));
  return {
    printed: (text) =>
      new Promise((resolve) => {
        if (out.includes(text)) resolve(true);
        else if (closed) resolve(false);
        else waiting.push({ text, resolve });
      }),
    exit,
    pid: p.pid!,
  };
}

function killGroup(pid: number) {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // already exited
  }
}

function fsckClean(repo: string) {
  const out = git(repo, "fsck", "--no-progress", "--no-dangling", "--connectivity-only");
  expect(out).not.toMatch(/error|missing|broken/i);
  git(repo, "fsck", "--no-progress", "--no-dangling"); // throws on a non-zero exit
}

const phasesOf = (out: string) => [...out.matchAll(/^PHASE (\S+)$/gm)].map((m) => m[1]);

describe.each([
  { mode: "not checked out", checkout: false },
  { mode: "checked out (work tree follows)", checkout: true },
])("kill -9 during a sync, branch $mode", ({ checkout }) => {
  it("at every named phase and at points spread over a measured run: old or new tip, fsck clean, the next sync completes", { timeout: 300_000 }, async () => {
    const repo = await makeRepo();
    const base = await tempDir("git-kill-sbx-");
    const stateDir = await tempDir("git-kill-state-");
    const store = new StateStore({ projectId: "p", worktree: repo, log: silentLogger, dir: stateDir });
    const sandbox = await new DirProvider(base).create({ labels: {}, id: "sbx1" });
    const mk = () =>
      new GitSync({
        directory: repo,
        config: testConfig(),
        log: silentLogger,
        notify: () => {},
        store,
        sandboxFor: async () => sandbox,
      });
    const now = new Date().toISOString();
    const record = { provider: "dir", sandboxId: "sbx1", createdAt: now, lastUsedAt: now };
    await store.set("ses_k", record);
    await store.patch("ses_k", { ...(await new Seeder({ host: mk().host, config: testConfig(), log: silentLogger, notify: () => {}, store }).seed(sandbox, { sessionID: "ses_k", record, recreated: false })), seededAt: now });
    if (checkout) git(repo, "checkout", "-q", "opencode/1");
    const sbxGit = (...a: string[]) => git(sandbox.projectDir, ...a);
    const lock = join(repo, ".git", "opencode-sandboxed", "sync.lock");
    const sandboxRunning = join(sandbox.projectDir, ".git/opencode-sandboxed/running");
    let round = 0;
    const change = () =>
      // Several files so the work-tree update takes a moment.
      sandbox.exec(`for f in 1 2 3 4 5 6 7 8; do echo ${round} >> k$f.txt; done; head -c 20000 /dev/urandom > blob${round++}.bin`);
    const start = (pauseAt?: string) => child("sync", JSON.stringify({ repo, base, sandboxId: "sbx1", sessionID: "ses_k", stateDir, pauseAt }));

    const scriptAlive = () => {
      const pid = Number(existsSync(sandboxRunning) ? readFileSync(sandboxRunning, "utf8").trim() : 0);
      if (!pid) return false;
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    /** After a kill: nothing of the killed sync may still run, and its lock goes (else the next one waits it out). */
    const settle = async () => {
      // The killed sync's script inside the sandbox may still be committing (a sandbox
      // command outlives the host process that started it): let it finish first.
      // Its marker may stay (a script that died of SIGPIPE runs no EXIT trap): its pid decides.
      await until(() => !scriptAlive(), "the killed sync's sandbox script to end");
      rmSync(lock, { recursive: true, force: true });
      rmSync(join(stateDir, "p.json.lock"), { recursive: true, force: true });
    };
    /** The invariants after any kill; returns whether the branch moved. */
    const check = (old: string) => {
      const tip = git(repo, "rev-parse", "opencode/1");
      // The old tip, or a commit the sandbox's HEAD was at (a killed sync's update
      // finished by the next one is an earlier "new" tip).
      const heads = sbxGit("log", "-g", "--format=%H", "HEAD").split("\n");
      expect(heads).toContain(tip);
      expect(tip === old || gitOk(repo, "merge-base", "--is-ancestor", old, tip)).toBe(true);
      fsckClean(repo);
      return tip;
    };

    // 1. An uninterrupted run: which phases a sync passes here, and how long it takes.
    await change();
    const measured = start();
    expect(await measured.printed("READY")).toBe(true);
    const t0 = performance.now();
    const { out: measuredOut } = await measured.exit;
    const duration = performance.now() - t0;
    expect(measuredOut).toContain("RESULT");
    const phases = phasesOf(measuredOut);
    expect(phases).toEqual(
      checkout
        ? ["sync:bundled", "sync:downloaded", "sync:fetched", "sync:worktree-marked", "sync:worktree-updated", "sync:applied", "state:written"]
        : ["sync:bundled", "sync:downloaded", "sync:fetched", "sync:applied", "state:written"],
    );
    expect(git(repo, "rev-parse", "opencode/1")).toBe(sbxGit("rev-parse", "HEAD"));

    // 2. A kill exactly at each phase: before the branch moves it keeps its tip; from then on it holds the new one.
    const outcomes: string[] = [];
    for (const phase of phases) {
      await change();
      const old = git(repo, "rev-parse", "opencode/1");
      const c = start(phase);
      expect(await c.printed(`PAUSED ${phase}`), `never reached ${phase}`).toBe(true);
      const head = sbxGit("rev-parse", "HEAD");
      killGroup(c.pid);
      await c.exit;
      await settle();
      const tip = check(old);
      const moved = phase === "sync:applied" || phase === "state:written";
      if (moved) expect(tip, phase).toBe(head);
      else expect(tip, phase).not.toBe(head);
      outcomes.push(`${phase}:${tip === head ? "new" : "old"}`);
    }

    // 3. Kills at points spread over the measured run land inside git's own work too
    // (a half-written pack, a half-updated work tree): the invariants hold wherever they land.
    for (let k = 0; k < 8; k++) {
      await change();
      const old = git(repo, "rev-parse", "opencode/1");
      const c = start();
      await c.printed("READY");
      await new Promise((r) => setTimeout(r, (duration * k) / 8));
      killGroup(c.pid);
      const { out } = await c.exit;
      await settle();
      check(old);
      outcomes.push(`${Math.round((duration * k) / 8)}ms${out.includes("RESULT") ? "(finished)" : ""}`);
    }

    // 4. One more kill holding the lock, the lock left behind: the next ordinary sync
    // takes the stale lock over and brings everything.
    await change();
    const last = start("sync:fetched");
    expect(await last.printed("PAUSED sync:fetched")).toBe(true);
    killGroup(last.pid);
    await last.exit;
    expect(existsSync(lock)).toBe(true);
    const r = await mk().sync("ses_k", "idle");
    expect(r.kind).toBe("synced");
    const head = sbxGit("rev-parse", "HEAD");
    expect(git(repo, "rev-parse", "opencode/1")).toBe(head);
    fsckClean(repo);
    if (checkout) {
      expect(git(repo, "status", "--porcelain")).toBe("");
      expect(readFileSync(join(repo, "k1.txt"), "utf8")).toBe(readFileSync(join(sandbox.projectDir, "k1.txt"), "utf8"));
    }
    console.log(`kill points (checkout=${checkout}, uninterrupted sync ${Math.round(duration)} ms): ${outcomes.join(" ")}`);
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
