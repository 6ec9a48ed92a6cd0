/**
 * A damaged state file (garbled, empty, cut in half): the session map is rebuilt from
 * the sandboxes' labels and each session's branch and sync point from the host
 * repository's refs, so the next sync of every session moves its own old branch
 * forward — no new branch number, nothing of another session lost.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { silentLogger, type Logger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { LocalProvider } from "../../.opencode/plugin/sandbox/providers/local/index.js";
import type { SandboxProvider } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { LIMITS } from "../support/local-harness.js";
import { lacks, missingBwrap } from "../support/prereq.js";
import { ProjectService } from "../../.opencode/plugin/sandbox/service/project.js";
import { DirProvider } from "../support/dir-provider.js";
import { cleanupAll, git, GIT_TEST_ENV, makeRepo, tempDir, testConfig } from "./git-support.js";

afterAll(cleanupAll);

function recordingLogger(lines: string[]): Logger {
  const put = (message: string) => void lines.push(message);
  return { debug() {}, info: put, warn: put, error: put, addSecret() {}, flush: async () => {} };
}

/** One project service (one OpenCode process); the provider outlives it, as sandboxes outlive OpenCode. */
function kit(repo: string, provider: SandboxProvider, stateDir: string, log: Logger) {
  return new ProjectService({
    projectId: "p",
    worktree: repo,
    directory: repo,
    config: testConfig(),
    log,
    notify: () => {},
    provider: async () => provider,
    stateDir,
  });
}

const damages = {
  garbled: (text: string) => text.replace(/[{}]/g, "#"),
  empty: () => "",
  "cut in half": (text: string) => text.slice(0, Math.floor(text.length / 2)),
};

describe("a damaged state file", () => {
  it.each([
    { damage: "garbled", ownerRefs: true, together: false, local: false },
    { damage: "empty", ownerRefs: true, together: false, local: false },
    { damage: "cut in half", ownerRefs: true, together: false, local: false },
    // Both sessions' first calls at once: the one that did not find the file damaged waits for the other's rebuild.
    { damage: "garbled", ownerRefs: true, together: true, local: false },
    // A repository whose branches were allocated before owner refs existed: found by the branches' reflogs.
    { damage: "garbled", ownerRefs: false, together: false, local: false },
    // The same on real local (bubblewrap) sandboxes.
    { damage: "cut in half", ownerRefs: true, together: true, local: true },
  ] as const)("$damage (owner refs: $ownerRefs, sessions at once: $together, local: $local): each session's next sync lands on its own old branch", { timeout: 120_000 }, async ({ damage, ownerRefs, together, local }) => {
    if (local && lacks(missingBwrap())) return;
    const repo = await makeRepo();
    const provider: SandboxProvider = local
      ? new LocalProvider({ root: await tempDir("state-rebuild-local-"), network: "none", ...LIMITS, log: silentLogger })
      : new DirProvider(await tempDir("state-rebuild-sbx-"));
    const stateDir = await tempDir("state-rebuild-state-");
    const sessions = ["ses_a", "ses_b"] as const;
    const sh = async (service: ProjectService, id: string, command: string) => {
      const r = await (await service.sandboxFor(id)).exec(command, { env: GIT_TEST_ENV });
      expect(r.exitCode, r.output).toBe(0);
    };

    // Before: each session has a sandbox, a branch, and synced work on it.
    const before = kit(repo, provider, stateDir, recordingLogger([]));
    const ids: Record<string, string> = {};
    for (const id of sessions) {
      ids[id] = (await before.sandboxFor(id)).id;
      await sh(before, id, `echo one > ${id}-1.txt`);
      expect(await before.sync(id)).toMatchObject({ kind: "synced", outcome: { kind: "advanced" } });
    }
    const branches = Object.fromEntries(sessions.map((id) => [id, "" as string | undefined]));
    for (const id of sessions) branches[id] = (await before.store.get(id))?.branch;
    expect(branches).toEqual({ ses_a: "opencode/1", ses_b: "opencode/2" });
    await before.manager.dispose();

    if (!ownerRefs) for (const ref of git(repo, "for-each-ref", "--format=%(refname)", "refs/opencode-sandboxed/owners/").split("\n")) git(repo, "update-ref", "-d", ref);
    const file = join(stateDir, "p.json");
    writeFileSync(file, damages[damage](readFileSync(file, "utf8")));

    // After: a new process finds the same sandboxes, and each session's work reaches its own branch.
    const lines: string[] = [];
    const after = kit(repo, provider, stateDir, recordingLogger(lines));
    try {
      if (together) await Promise.all(sessions.map((id) => after.sandboxFor(id)));
      for (const id of sessions) {
        expect((await after.sandboxFor(id)).id).toBe(ids[id]);
        expect(await after.store.get(id)).toMatchObject({ sandboxId: ids[id], branch: branches[id], branchNumber: Number(branches[id]!.split("/")[1]) });
        await sh(after, id, `echo two > ${id}-2.txt`);
        expect(await after.sync(id)).toMatchObject({ kind: "synced", outcome: { kind: "advanced", branch: branches[id] } });
      }
      for (const id of sessions) {
        // Each branch holds its session's work from before and after, and nothing of the other's.
        const files = git(repo, "ls-tree", "--name-only", branches[id]!).split("\n");
        expect(files.filter((f) => f.startsWith("ses_"))).toEqual([`${id}-1.txt`, `${id}-2.txt`]);
        expect(await after.store.get(id)).toMatchObject({ sandboxId: ids[id], branch: branches[id] });
      }
      expect(git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/opencode/").split("\n")).toEqual(["opencode/1", "opencode/2"]);
      // The log says what was recovered.
      const rebuilt = lines.find((l) => l.startsWith("rebuilt the session map"));
      expect(rebuilt).toContain(`ses_a → sandbox ${ids.ses_a}, branch opencode/1, last synced`);
      expect(rebuilt).toContain(`ses_b → sandbox ${ids.ses_b}, branch opencode/2, last synced`);
      expect(lines.some((l) => l.startsWith(`State file ${file} is unreadable`))).toBe(true);
    } finally {
      await after.manager.dispose();
      for (const info of await provider.list({})) await provider.delete(info.id).catch(() => {});
      await provider.dispose?.();
    }
  });
});

describe("a damaged state file, a session whose work was diverted beside its branch", () => {
  it("keeps moving the same side branch after the rebuild", { timeout: 120_000 }, async () => {
    const repo = await makeRepo();
    const provider = new DirProvider(await tempDir("state-rebuild-sbx-"));
    const stateDir = await tempDir("state-rebuild-state-");
    const id = "ses_side";
    const sh = async (service: ProjectService, command: string) => {
      const r = await (await service.sandboxFor(id)).exec(command, { env: GIT_TEST_ENV });
      expect(r.exitCode, r.output).toBe(0);
    };
    const before = kit(repo, provider, stateDir, recordingLogger([]));
    await sh(before, "echo one > one.txt");
    // The user commits on the session's branch: the sandbox's work then goes beside it.
    git(repo, "checkout", "-q", "opencode/1");
    git(repo, "commit", "-q", "--allow-empty", "-m", "the user's commit");
    git(repo, "checkout", "-q", "main");
    expect(await before.sync(id)).toMatchObject({ outcome: { kind: "diverted", sideBranch: "opencode/1-sandbox-1", created: true } });
    await before.manager.dispose();
    writeFileSync(join(stateDir, "p.json"), "garbage");

    const after = kit(repo, provider, stateDir, recordingLogger([]));
    try {
      await sh(after, "echo two > two.txt");
      expect(await after.sync(id)).toMatchObject({ outcome: { kind: "diverted", branch: "opencode/1", sideBranch: "opencode/1-sandbox-1", created: false } });
      expect(git(repo, "show", "opencode/1-sandbox-1:two.txt")).toBe("two");
      expect(git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/opencode/").split("\n")).toEqual(["opencode/1", "opencode/1-sandbox-1"]);
    } finally {
      await after.manager.dispose();
    }
  });
});
