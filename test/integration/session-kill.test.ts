/**
 * `kill -9` of OpenCode while it makes a session's sandbox, at each named point of
 * creation and seeding: the next process for the session ends up with one working,
 * seeded sandbox on one branch; a sandbox the killed process made but never recorded
 * is left alone (it could be another process's) and removed with the session.
 */
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { LABEL_PLUGIN } from "../../.opencode/plugin/sandbox/core/session-manager.js";
import { lacks, missingBwrap } from "../support/prereq.js";
import { cleanupAll, git, makeRepo, tempDir } from "./git-support.js";
import { sessionKit } from "./session-kit.js";

afterAll(cleanupAll);

const CHILD = fileURLToPath(new URL("./session-child.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Runs the child until it prints PAUSED (then kills its process group) or exits. */
function runChild(input: object): Promise<{ paused: boolean; out: string }> {
  const p = spawn(process.execPath, ["--import", "tsx", CHILD, JSON.stringify(input)], { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let paused = false;
  p.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    if (!paused && out.includes("PAUSED")) {
      paused = true;
      process.kill(-p.pid!, "SIGKILL");
    }
  });
  p.stderr.on("data", (d: Buffer) => (out += d.toString()));
  return new Promise((resolve) => p.on("close", () => resolve({ paused, out })));
}

describe("kill -9 while a session's sandbox is made", () => {
  if (lacks(missingBwrap())) return;

  it.each([
    { phase: "create:made", unrecorded: 1 },
    { phase: "state:written", unrecorded: 1 },
    { phase: "seed:bundled", unrecorded: 0 },
    { phase: "seed:done", unrecorded: 0 },
  ])("at $phase: the next process finishes the job with one sandbox and one branch", { timeout: 180_000 }, async ({ phase, unrecorded }) => {
    const repo = await makeRepo();
    writeFileSync(join(repo, "dirty.txt"), "uncommitted\n"); // the seed is a snapshot, not HEAD
    const base = await tempDir("session-kill-sbx-");
    const stateDir = await tempDir("session-kill-state-");
    const sessionID = "ses_kill";
    const { paused, out } = await runChild({ repo, base, stateDir, sessionID, pauseAt: phase });
    expect(paused, out).toBe(true);

    const kit = sessionKit({ repo, base, stateDir, log: silentLogger });
    try {
      const sandbox = await kit.manager.sandboxFor(sessionID);
      const record = await kit.store.get(sessionID);
      expect(record).toMatchObject({ sandboxId: sandbox.id, branch: "opencode/1", branchNumber: 1 });
      expect(record?.seededAt).toBeTruthy();
      // Seeded: the user's files, on the sandbox's branch.
      expect((await sandbox.exec("cat a.txt dirty.txt && git rev-parse --abbrev-ref HEAD")).output).toBe("a\nuncommitted\nopencode\n");
      expect(git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/opencode/")).toBe("opencode/1");
      const labelled = async () => (await kit.provider.list({ plugin: LABEL_PLUGIN, project: "p", session: sessionID })).map((i) => i.id);
      expect((await labelled()).filter((id) => id !== sandbox.id)).toHaveLength(unrecorded);
      // Work goes on: a change syncs to the session's branch.
      await sandbox.exec("echo after > after.txt");
      expect(await kit.gitSync.sync(sessionID, "manual")).toMatchObject({ kind: "synced", outcome: { kind: "advanced", branch: "opencode/1" } });
      expect(git(repo, "show", "opencode/1:after.txt")).toBe("after");
      // Deleting the session removes every sandbox made for it, recorded or not.
      await kit.manager.delete(sessionID);
      expect(await labelled()).toEqual([]);
    } finally {
      await kit.manager.dispose();
      for (const info of await kit.provider.list({})) await kit.provider.delete(info.id).catch(() => {});
      await kit.provider.dispose();
    }
  });
});
