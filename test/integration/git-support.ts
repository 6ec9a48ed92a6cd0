/** Helpers for git sync tests: temp repos, an in-memory store, sessions on a provider. */
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rename, rm, writeFile } from "node:fs/promises";
import { withLock } from "../../.opencode/plugin/sandbox/util/lock.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigSchema, type Config } from "../../.opencode/plugin/sandbox/config.js";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import type { SessionRecord } from "../../.opencode/plugin/sandbox/core/state-store.js";
import type { Toaster, ToastVariant } from "../../.opencode/plugin/sandbox/opencode/toasts.js";
import { words, type Notice } from "../../.opencode/plugin/sandbox/service/notices.js";
import { Seeder } from "../../.opencode/plugin/sandbox/git/seeder.js";
import { GitSync } from "../../.opencode/plugin/sandbox/git/service.js";
import type { Sandbox, SandboxProvider } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { DirProvider } from "../support/dir-provider.js";

export const GIT_TEST_ENV = {
  GIT_AUTHOR_NAME: "Test User",
  GIT_AUTHOR_EMAIL: "test@example.com",
  GIT_COMMITTER_NAME: "Test User",
  GIT_COMMITTER_EMAIL: "test@example.com",
};

/** Plain (unhardened) git, as the user would run it. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: { ...process.env, ...GIT_TEST_ENV },
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 256 * 1024 * 1024,
  }).trim();
}

export function gitOk(cwd: string, ...args: string[]): boolean {
  try {
    git(cwd, ...args);
    return true;
  } catch {
    return false;
  }
}

const cleanups: (() => Promise<void>)[] = [];
export async function tempDir(prefix = "git-sync-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
export async function cleanupAll() {
  for (const c of cleanups.splice(0)) await c().catch(() => {});
}

/** A host repository with one commit (a.txt, .gitignore ignoring *.log and .env). */
export async function makeRepo(files: Record<string, string> = {}): Promise<string> {
  const dir = await tempDir("git-host-");
  git(dir, "init", "-q", "-b", "main");
  git(dir, "config", "user.name", "Test User");
  git(dir, "config", "user.email", "test@example.com");
  const { writeFileSync, mkdirSync } = await import("node:fs");
  const all = { "a.txt": "a\n", ".gitignore": "*.log\n.env\n", ...files };
  for (const [name, content] of Object.entries(all)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  git(dir, "add", "-A");
  git(dir, "commit", "-q", "-m", "initial");
  return dir;
}

export class MemStore {
  readonly sessions = new Map<string, SessionRecord>();
  async get(id: string) {
    const r = this.sessions.get(id);
    return r ? { ...r } : undefined;
  }
  async patch(id: string, patch: Partial<SessionRecord>) {
    const r = this.sessions.get(id);
    if (!r) return undefined;
    const next = { ...r, ...patch };
    this.sessions.set(id, next);
    return { ...next };
  }
  set(id: string, r: SessionRecord) {
    this.sessions.set(id, r);
  }
}

export class RecordingToaster implements Toaster {
  readonly shown: { message: string; variant: ToastVariant }[] = [];
  private readonly keys = new Set<string>();
  show(message: string, variant: ToastVariant, key?: string) {
    if (key !== undefined) {
      if (this.keys.has(key)) return;
      this.keys.add(key);
    }
    this.shown.push({ message, variant });
  }
  async flush() {}
  /** A `Notify` that shows each notice as the OpenCode face would. */
  readonly notify = (notice: Notice) => {
    const w = words(notice);
    if (w) this.show(w.text, w.level, w.once);
  };
  text() {
    return this.shown.map((s) => s.message).join("\n");
  }
}

export function testConfig(sync: Partial<Config["sync"]> = {}): Config {
  return ConfigSchema.parse({ sync: { debounceMs: 0, ...sync } });
}

export interface Harness {
  repo: string;
  store: MemStore;
  toast: RecordingToaster;
  gitSync: GitSync;
  seeder: Seeder;
  provider: SandboxProvider;
  sandboxes: Map<string, Sandbox>;
  /** Creates a sandbox for the session, seeds it (as the session manager would). */
  open(sessionID: string, options?: { title?: string; recreated?: boolean }): Promise<Sandbox>;
  /** Runs a shell command inside the session's sandbox; throws on failure. */
  sh(sessionID: string, command: string): Promise<string>;
}

export async function harness(
  repo: string,
  options: { config?: Config; provider?: SandboxProvider; lockTimeoutMs?: number } = {},
): Promise<Harness> {
  const store = new MemStore();
  const toast = new RecordingToaster();
  const provider = options.provider ?? new DirProvider(await tempDir("git-sbx-"));
  const sandboxes = new Map<string, Sandbox>();
  const gitSync = new GitSync({
    directory: repo,
    config: options.config ?? testConfig(),
    log: silentLogger,
    notify: toast.notify,
    store,
    sandboxFor: async (id) => {
      const s = sandboxes.get(id);
      if (!s) throw new Error(`no sandbox for ${id}`);
      return s;
    },
    isLive: (id) => sandboxes.has(id),
    lockTimeoutMs: options.lockTimeoutMs,
  });
  const seeder = new Seeder({ host: gitSync.host, config: options.config ?? testConfig(), log: silentLogger, notify: toast.notify, store });
  const h: Harness = {
    repo,
    store,
    toast,
    gitSync,
    seeder,
    provider,
    sandboxes,
    async open(sessionID, o = {}) {
      const sandbox = await provider.create({ labels: { session: sessionID } });
      sandboxes.set(sessionID, sandbox);
      const now = new Date().toISOString();
      const previous = store.sessions.get(sessionID);
      const record: SessionRecord = { ...previous, provider: provider.name, sandboxId: sandbox.id, createdAt: now, lastUsedAt: now, title: o.title };
      store.set(sessionID, record);
      const fields = await seeder.seed(sandbox, { sessionID, record, recreated: !!o.recreated });
      await store.patch(sessionID, { ...fields, seededAt: now });
      return sandbox;
    },
    async sh(sessionID, command) {
      const s = sandboxes.get(sessionID)!;
      const r = await s.exec(command, { env: GIT_TEST_ENV });
      if (r.exitCode !== 0) throw new Error(`sandbox command failed (${r.exitCode}): ${command}\n${r.output}`);
      return r.output.trim();
    },
  };
  return h;
}

/** A JSON-file store shared between processes (locked read-modify-write). */
export function fileStore(path: string) {
  const read = async () => JSON.parse(await readFile(path, "utf8").catch(() => "{}")) as Record<string, SessionRecord>;
  return {
    async get(id: string) {
      return (await read())[id];
    },
    async patch(id: string, patch: Partial<SessionRecord>) {
      return withLock(path, async () => {
        const all = await read();
        if (!all[id]) return undefined;
        all[id] = { ...all[id], ...patch };
        await writeFile(`${path}.tmp`, JSON.stringify(all));
        await rename(`${path}.tmp`, path);
        return all[id];
      });
    },
    async set(id: string, record: SessionRecord) {
      await withLock(path, async () => {
        const all = await read();
        all[id] = record;
        await writeFile(`${path}.tmp`, JSON.stringify(all));
        await rename(`${path}.tmp`, path);
      });
    },
  };
}
