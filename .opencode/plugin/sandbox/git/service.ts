/**
 * GitSync: seeds a sandbox's repository from what the user sees, syncs the sandbox's
 * HEAD back to `<prefix>/<N>`, merges host refs into a running sandbox. One bundle
 * file each way; the host runs git only in the user's repository (hardened, see
 * host-git.ts), serialized per repository by a lock in its git dir.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../config.js";
import { FileLock } from "../util/lock.js";
import type { Logger } from "../core/logger.js";
import { reach, type PhaseHook } from "../util/phases.js";
import type { SeedContext } from "../core/session-manager.js";
import type { SessionRecord } from "../core/state-store.js";
import type { Sandbox } from "../providers/provider.js";
import { mergeConflictText, type Notify } from "../service/notices.js";
import { applySync, type ApplyOutcome } from "./apply.js";
import { expectSingleRef, readBundleHeader } from "./bundle.js";
import { GitSyncError, isGitSyncError } from "./errors.js";
import { findRepo, HostGit, type RepoInfo } from "./host-git.js";
import { allocateBranch, branchRef, sessionRef } from "./refs.js";
import { MERGE_SCRIPT, runScript, sandboxPath, SANDBOX_SYNC_REF, SEED_SCRIPT, SYNC_SCRIPT } from "./sandbox-git.js";
import { snapshot, userIdentity, type Identity } from "./snapshot.js";

export type SyncReason = "idle" | "delete" | "shutdown" | "manual";

export type SyncResult =
  | { kind: "skipped"; why: string }
  | {
      kind: "synced";
      commit: string;
      outcome: ApplyOutcome;
      bytes: number;
      committed: boolean;
      /** Milliseconds: inside the sandbox (commit + bundle), download, on the host (under the lock). */
      ms: { sandbox: number; download: number; host: number };
    };

export interface MergeResult {
  kind: "merged" | "conflict" | "up_to_date";
  /** The sandbox's HEAD after the merge. */
  head?: string;
  conflicts: string[];
  message: string;
}

export interface GitSyncOptions {
  /** The host project directory (OpenCode's `directory`). */
  directory: string;
  config: Pick<Config, "sync">;
  log: Logger;
  /** What the user is told about; a face renders it. */
  notify: Notify;
  store: {
    get(sessionID: string): Promise<SessionRecord | undefined>;
    patch(sessionID: string, patch: Partial<SessionRecord>): Promise<SessionRecord | undefined>;
  };
  /** The session's live sandbox (may reconnect/start it). */
  sandboxFor: (sessionID: string) => Promise<Sandbox>;
  /** True when this process holds a live handle for the session (idle/shutdown syncs need one). */
  isLive?: (sessionID: string) => boolean;
  /** Session title for commit messages when no event told us yet. */
  titleOf?: (sessionID: string) => Promise<string | undefined>;
  /** How long a sync waits for another one on the same repository. */
  lockTimeoutMs?: number;
  /** Tests: stop at named points (see core/phases.ts). */
  phases?: PhaseHook;
}

export class GitSync {
  private repoInfo: Promise<RepoInfo | undefined> | undefined;
  private git: HostGit | undefined;
  private identity: Identity | undefined;
  private hasCommits = false;
  private readonly titles = new Map<string, string>();
  private readonly running = new Map<string, Promise<SyncResult>>();
  private readonly queued = new Map<string, Promise<SyncResult>>();
  private readonly all = new Set<Promise<unknown>>();

  constructor(private readonly options: GitSyncOptions) {}

  /** A session's title from `session.updated`: used in commit messages. */
  noteTitle(sessionID: string, title: string | undefined) {
    if (title) this.titles.set(sessionID, title);
  }

  /** The repository containing `directory`, or undefined (not a repository). */
  repo(): Promise<RepoInfo | undefined> {
    return (this.repoInfo ??= findRepo(this.options.directory).then((r) => {
      if (r) this.git = new HostGit(r.top);
      return r;
    }));
  }

  private repoLock: FileLock | undefined;

  /**
   * Runs `fn` holding the repository's sync lock. A `running` marker found on entry
   * means the previous holder was killed mid-way: ref locks it left on the refs sync
   * writes (born after the marker) would block every later sync, so they go.
   */
  private locked<T>(repo: RepoInfo, fn: () => Promise<T>): Promise<T> {
    const timeoutMs = this.options.lockTimeoutMs ?? 10 * 60_000;
    this.repoLock ??= new FileLock(join(repo.commonDir, "opencode-sandboxed", "sync"), { timeoutMs });
    return this.repoLock.run(async () => {
      const marker = join(repo.commonDir, "opencode-sandboxed", "running");
      const left = await stat(marker).catch(() => undefined);
      if (left) await sweepRefLocks(repo, this.options.config.sync.branchPrefix, left.mtimeMs - 1000);
      await writeFile(marker, String(process.pid));
      try {
        return await fn();
      } finally {
        await rm(marker, { force: true });
      }
    });
  }

  private async hostTmp(repo: RepoInfo, name: string): Promise<string> {
    const dir = join(repo.commonDir, "opencode-sandboxed", "tmp");
    await mkdir(dir, { recursive: true });
    return join(dir, `${name}-${process.pid}-${randomBytes(4).toString("hex")}.bundle`);
  }

  private async title(sessionID: string, record?: SessionRecord): Promise<string | undefined> {
    const known = this.titles.get(sessionID) ?? record?.title;
    if (known) return known;
    const fetched = await this.options.titleOf?.(sessionID).catch(() => undefined);
    if (fetched) this.titles.set(sessionID, fetched);
    return fetched;
  }

  private async commitMessage(sessionID: string, reason: string, record?: SessionRecord): Promise<string> {
    const title = await this.title(sessionID, record);
    const name = title ? `"${title.replace(/\s+/g, " ").trim()}"` : "(untitled)";
    return `opencode session ${name} (${sessionID})\n\nWork of OpenCode session ${name}, id ${sessionID}; synced on ${reason}.`;
  }

  private async who(git: HostGit): Promise<Identity> {
    return (this.identity ??= await userIdentity(git));
  }

  private noGit(why: "not_a_repository" | "no_commits") {
    this.options.notify({ kind: "sync_off", why });
  }

  private async hostRepo(): Promise<{ repo: RepoInfo; git: HostGit } | undefined> {
    const repo = await this.repo();
    if (!repo) {
      this.noGit("not_a_repository");
      return undefined;
    }
    const git = this.git!;
    // Once a repository has a commit it keeps having one: checked until then only.
    if (!this.hasCommits) {
      if (!(await git.resolve("HEAD"))) {
        this.noGit("no_commits");
        return undefined;
      }
      this.hasCommits = true;
    }
    return { repo, git };
  }

  // ---------------------------------------------------------------- seed

  /** SessionManagerOptions.seed: fills a new (or re-created) sandbox's repository. */
  seed = async (sandbox: Sandbox, ctx: SeedContext): Promise<Partial<SessionRecord>> => {
    const host = await this.hostRepo();
    if (!host) return {};
    const { repo, git } = host;
    const { sessionID } = ctx;
    const record = ctx.record;
    const prefix = this.options.config.sync.branchPrefix;
    const reflog = `opencode-sandboxed: seed session ${sessionID}`;
    const tmp = await this.hostTmp(repo, "seed");
    try {
      const fields: Partial<SessionRecord> = await this.locked(repo, async () => {
        let commit: string | undefined;
        let out: Partial<SessionRecord> = {};
        // A branch already recorded: the old sandbox vanished, or a seed was killed after
        // allocating it. Either way, continue from the session's synced work.
        if (ctx.recreated || record.branch) {
          commit =
            (record.branch && (await git.resolve(branchRef(record.branch)))) ||
            (await git.resolve(sessionRef(sessionID))) ||
            (record.lastSyncedCommit && (await git.hasCommit(record.lastSyncedCommit)) ? record.lastSyncedCommit : undefined);
          if (commit) out = { lastSyncedCommit: commit, baseCommit: record.baseCommit ?? commit };
        }
        if (!commit) {
          const snap = await snapshot(git, repo, {
            copyIgnored: this.options.config.sync.copyIgnored,
            message: `opencode-sandboxed: uncommitted changes at the start of session ${sessionID}`,
            identity: await this.who(git),
          });
          commit = snap.commit;
          if (snap.submodules.length) this.options.notify({ kind: "submodules_skipped", sessionID, paths: snap.submodules });
          if (snap.copiedIgnored.length) this.options.log.info(`copied ignored files into the sandbox: ${snap.copiedIgnored.join(", ")}`, sessionID);
          out = { baseCommit: commit, lastSyncedCommit: commit };
          if (this.options.config.sync.enabled && !record.branch) {
            try {
              const { branch, branchNumber } = await allocateBranch(git, prefix, commit, reflog);
              out = { ...out, branch, branchNumber, branchTip: commit };
              // Recorded at once: a seed killed from here on resumes this branch instead of taking another number.
              await this.options.store.patch(sessionID, out);
              this.options.log.info(`session syncs to branch ${branch} (base ${commit.slice(0, 12)})`, sessionID);
            } catch (error) {
              if (!isGitSyncError(error, "branch_blocked")) throw error;
              this.blocked(error, sessionID);
            }
          }
        }
        // Keeps the seed commit reachable (a snapshot commit is otherwise dangling) and names it for the bundle.
        await git.run(["update-ref", "-m", reflog, sessionRef(sessionID), commit]);
        await git.run(["bundle", "create", tmp, sessionRef(sessionID)]);
        return out;
      });
      await reach(this.options.phases, "seed:bundled");
      const remote = sandboxPath(sandbox, "seed.bundle");
      await sandbox.writeFile(remote, await readFile(tmp));
      const id = await this.who(git);
      await runScript(sandbox, SEED_SCRIPT, { OC_BUNDLE: remote, OC_REF: sessionRef(sessionID), OC_NAME: id.name, OC_EMAIL: id.email });
      await reach(this.options.phases, "seed:done");
      return fields;
    } finally {
      await rm(tmp, { force: true });
    }
  };

  private blocked(error: GitSyncError, sessionID: string) {
    this.options.notify({ kind: "branch_blocked", sessionID, message: error.message });
  }

  // ---------------------------------------------------------------- sync

  /**
   * Syncs the session's sandbox HEAD to its branch. Calls for one session are
   * serialized; a call while one runs is coalesced into one follow-up sync.
   * `connect`: reach the sandbox even when this process has no live handle
   * (before a delete, on demand) — idle/shutdown syncs skip sessions not live here.
   */
  sync(sessionID: string, reason: SyncReason = "manual", options: { connect?: boolean } = {}): Promise<SyncResult> {
    const connect = options.connect ?? (reason === "delete" || reason === "manual");
    const queued = this.queued.get(sessionID);
    if (queued) return queued;
    const running = this.running.get(sessionID);
    const start = (): Promise<SyncResult> => {
      this.queued.delete(sessionID);
      const p = this.syncNow(sessionID, reason, connect).finally(() => {
        if (this.running.get(sessionID) === p) this.running.delete(sessionID);
      });
      this.running.set(sessionID, p);
      return p;
    };
    let p: Promise<SyncResult>;
    if (running) {
      p = running.then(start, start);
      this.queued.set(sessionID, p);
    } else p = start();
    this.all.add(p);
    void p.catch(() => {}).finally(() => this.all.delete(p));
    return p;
  }

  /** Resolves when every sync started so far has finished (errors are the callers'). */
  async flush(): Promise<void> {
    while (this.all.size) await Promise.allSettled([...this.all]);
  }

  private async syncNow(sessionID: string, reason: SyncReason, connect: boolean): Promise<SyncResult> {
    const { log } = this.options;
    if (!this.options.config.sync.enabled) return { kind: "skipped", why: "sync is disabled (sync.enabled = false)" };
    const record = (await this.options.store.get(sessionID));
    if (!record) return { kind: "skipped", why: "the session has no sandbox" };
    if (record.parentId) return { kind: "skipped", why: "a subagent session: its root session syncs" };
    if (!record.seededAt || !record.baseCommit) return { kind: "skipped", why: "the sandbox's repository was not seeded from git" };
    if (!connect && this.options.isLive && !this.options.isLive(sessionID))
      return { kind: "skipped", why: "no live sandbox in this process" };
    const host = await this.hostRepo();
    if (!host) return { kind: "skipped", why: "no git repository" };
    const { repo, git } = host;
    const started = Date.now();
    const sandbox = await this.options.sandboxFor(sessionID);
    // A base the host lost is caught when the bundle is fetched (then: a full bundle).
    const base: string | undefined = record.lastSyncedCommit ?? record.baseCommit;
    let result = await this.fromSandbox(sandbox, sessionID, reason, record, repo, base);
    const hostStart = performance.now();
    try {
      let outcome: { outcome: ApplyOutcome; fields: Partial<SessionRecord> } | "need_full";
      outcome = await this.locked(repo, () => this.intoHost(git, repo, sessionID, record, result.head, result.bundle));
      if (outcome === "need_full") {
        // The host lacks the bundle's base (gc'd, or a rewritten repo): ask for everything.
        log.warn(`host lacks the sync base; requesting a full bundle`, sessionID);
        await rm(result.bundle ?? "", { force: true });
        result = await this.fromSandbox(sandbox, sessionID, reason, record, repo, undefined);
        outcome = await this.locked(repo, () => this.intoHost(git, repo, sessionID, record, result.head, result.bundle));
        if (outcome === "need_full") throw new GitSyncError("bad_bundle", "the sandbox's full bundle still lacks commits the host needs");
      }
      await reach(this.options.phases, "sync:applied");
      await this.options.store.patch(sessionID, { lastSyncedCommit: result.head, ...outcome.fields });
      this.report(sessionID, outcome.outcome, record);
      log.info(
        `synced (${reason}) ${result.head.slice(0, 12)}: ${outcome.outcome.kind} ${outcome.outcome.branch}; ${result.bytes} bytes in ${Date.now() - started} ms`,
        sessionID,
      );
      const ms = { sandbox: result.sandboxMs, download: result.downloadMs, host: performance.now() - hostStart };
      return { kind: "synced", commit: result.head, outcome: outcome.outcome, bytes: result.bytes, committed: result.committed, ms };
    } finally {
      if (result.bundle) await rm(result.bundle, { force: true });
    }
  }

  /** Commit and bundle inside the sandbox; download the bundle. */
  private async fromSandbox(
    sandbox: Sandbox,
    sessionID: string,
    reason: string,
    record: SessionRecord,
    repo: RepoInfo,
    base: string | undefined,
  ): Promise<{ head: string; bundle?: string; bytes: number; committed: boolean; sandboxMs: number; downloadMs: number }> {
    const t0 = performance.now();
    const id = await this.who(this.git!);
    const remote = sandboxPath(sandbox, `sync-${randomBytes(6).toString("hex")}.bundle`);
    const { marks } = await runScript(sandbox, SYNC_SCRIPT, {
      OC_BASE: base ?? "",
      OC_BUNDLE: remote,
      OC_MSG: await this.commitMessage(sessionID, reason, record),
      OC_NAME: id.name,
      OC_EMAIL: id.email,
    });
    const head = marks.get("HEAD")?.[0];
    if (!head || head === "none" || !/^[0-9a-f]{40,64}$/.test(head))
      throw new GitSyncError("sandbox_failed", "the sandbox's repository has no commit to sync");
    const committed = marks.has("COMMITTED");
    const sandboxMs = performance.now() - t0;
    await reach(this.options.phases, "sync:bundled");
    if (!marks.has("BUNDLE")) return { head, bytes: 0, committed, sandboxMs, downloadMs: 0 };
    const bytes = await sandbox.readFile(remote);
    const downloadMs = performance.now() - t0 - sandboxMs;
    const local = await this.hostTmp(repo, "sync");
    await writeFile(local, bytes);
    // Best effort: the next sync sweeps what is left anyway.
    void sandbox.exec(`rm -f "$OC_RM"`, { env: { OC_RM: remote }, timeoutMs: 30_000 }).catch(() => {});
    await reach(this.options.phases, "sync:downloaded");
    return { head, bundle: local, bytes: bytes.length, committed, sandboxMs, downloadMs };
  }

  /** Under the lock: fetch the bundle into the session's private ref, then move the branch. */
  private async intoHost(
    git: HostGit,
    repo: RepoInfo,
    sessionID: string,
    stale: SessionRecord,
    head: string,
    bundle: string | undefined,
  ): Promise<{ outcome: ApplyOutcome; fields: Partial<SessionRecord> } | "need_full"> {
    const record = ((await this.options.store.get(sessionID))) ?? stale;
    const reflog = `opencode-sandboxed: sync session ${sessionID}`;
    const privateRef = sessionRef(sessionID);
    if (bundle) {
      // The header is checked here (one ref, the expected commit); fetching from a bundle
      // runs git's own bundle verification (prerequisites present and connected) and
      // index-pack's checks — a separate `git bundle verify` would repeat that.
      const header = await readBundleHeader(bundle);
      expectSingleRef(header, SANDBOX_SYNC_REF, head);
      const fetched = await git.run(
        [
          "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules", "--no-auto-maintenance",
          bundle, `+${SANDBOX_SYNC_REF}:${privateRef}`,
        ],
        { allowFail: true },
      );
      if (fetched.code !== 0) {
        if (/prerequisite/i.test(fetched.stderr) && header.prerequisites.length) return "need_full";
        throw new GitSyncError("bad_bundle", `fetching the sandbox's bundle failed: ${fetched.stderr.trim()}`);
      }
    } else {
      if (!(await git.hasCommit(head))) return "need_full";
      await git.run(["update-ref", "-m", reflog, privateRef, head]);
    }
    await reach(this.options.phases, "sync:fetched");
    const fields: Partial<SessionRecord> = {};
    let branch = record.branch;
    if (!branch) {
      // Allocation failed at seed time (a blocking branch): try again now.
      try {
        const a = await allocateBranch(git, this.options.config.sync.branchPrefix, head, reflog);
        Object.assign(fields, { branch: a.branch, branchNumber: a.branchNumber, branchTip: head });
        return { outcome: { kind: "advanced", branch: a.branch, to: head }, fields };
      } catch (error) {
        if (isGitSyncError(error, "branch_blocked")) this.blocked(error, sessionID);
        throw error;
      }
    }
    const outcome = await applySync({
      git, repo, branch, sideBranch: record.sideBranch, branchTip: record.branchTip, commit: head, reflog, phases: this.options.phases,
    });
    if (outcome.kind === "advanced" && outcome.branch === branch) fields.branchTip = head;
    if (outcome.kind === "diverted") fields.sideBranch = outcome.sideBranch;
    return { outcome, fields };
  }

  private report(sessionID: string, outcome: ApplyOutcome, record: SessionRecord) {
    this.options.notify({ kind: "synced", sessionID, title: this.titles.get(sessionID) ?? record.title, outcome });
  }

  // ---------------------------------------------------------------- host → sandbox

  /**
   * Merges a host ref (branch, tag, commit) into the sandbox's HEAD. Conflicts are
   * never resolved: the merge is aborted and the files are returned.
   */
  async merge(sessionID: string, ref: string): Promise<MergeResult> {
    const host = await this.hostRepo();
    if (!host) throw new GitSyncError("no_repository", "this project is not a git repository with commits: nothing to merge");
    const { repo, git } = host;
    if (!ref || ref.startsWith("-")) throw new GitSyncError("git_failed", `not a ref: ${JSON.stringify(ref)}`);
    const commit = await git.resolve(ref);
    if (!commit) throw new GitSyncError("git_failed", `no commit named ${JSON.stringify(ref)} in your repository`);
    const record = (await this.options.store.get(sessionID));
    const sandbox = await this.options.sandboxFor(sessionID);
    const id = await this.who(git);
    const incoming = `refs/opencode-sandboxed/merge/${sessionRef(sessionID).split("/").pop()}`;
    const run = async (full: boolean) => {
      const tmp = await this.hostTmp(repo, "merge");
      try {
        const bases = full ? [] : [record?.lastSyncedCommit, record?.baseCommit].filter((c): c is string => !!c);
        const excl: string[] = [];
        for (const b of bases) if (await git.hasCommit(b)) excl.push(`^${b}`);
        let contained = false;
        for (const b of excl) if (await git.isAncestor(commit, b.slice(1))) contained = true;
        const env: Record<string, string> = {
          OC_COMMIT: commit,
          OC_MSG: `Merge ${ref} from the user's repository into the session`,
          OC_NAME: id.name,
          OC_EMAIL: id.email,
          OC_BASE: "",
        };
        if (!contained) {
          await this.locked(repo, async () => {
            await git.run(["update-ref", incoming, commit]);
            await git.run(["bundle", "create", "-q", tmp, incoming, ...excl]);
          });
          const remote = sandboxPath(sandbox, "merge.bundle");
          await sandbox.writeFile(remote, await readFile(tmp));
          Object.assign(env, { OC_BUNDLE: remote, OC_REF: incoming });
        }
        return (await runScript(sandbox, MERGE_SCRIPT, { ...env, OC_MSG: env.OC_MSG })).marks;
      } finally {
        await rm(tmp, { force: true });
      }
    };
    let marks = await run(false);
    if (marks.has("FETCHFAIL")) marks = await run(true);
    if (marks.has("FETCHFAIL")) throw new GitSyncError("sandbox_failed", `could not bring ${ref} into the sandbox`);
    const conflicts = marks.get("CONFLICT") ?? [];
    if (marks.has("ABORTED")) {
      this.options.notify({ kind: "merge_conflict", sessionID, ref, conflicts });
      return { kind: "conflict", conflicts, message: mergeConflictText(ref, conflicts) };
    }
    const head = marks.get("MERGED")?.[0];
    const before = marks.get("HEAD")?.[0];
    const kind = head && before === head ? "up_to_date" : "merged";
    const message = kind === "up_to_date" ? `${ref} is already part of the sandbox's branch.` : `Merged ${ref} (${commit.slice(0, 12)}) into the sandbox's branch.`;
    return { kind, head, conflicts: [], message };
  }
}

/** Removes `*.lock` files newer than `since` under the refs sync writes, packed-refs.lock and index locks. */
async function sweepRefLocks(repo: RepoInfo, prefix: string, since: number): Promise<void> {
  const dirs = [join(repo.commonDir, "refs", "opencode-sandboxed"), join(repo.commonDir, "refs", "heads", ...prefix.split("/"))];
  // Index locks too: the killed holder may have been updating a checked-out branch's files.
  const candidates = [join(repo.commonDir, "packed-refs.lock"), join(repo.commonDir, "index.lock"), join(repo.gitDir, "index.lock")];
  for (const w of await readdir(join(repo.commonDir, "worktrees")).catch(() => [] as string[]))
    candidates.push(join(repo.commonDir, "worktrees", w, "index.lock"));
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory() && depth < 8) await walk(p, depth + 1);
      else if (e.name.endsWith(".lock")) candidates.push(p);
    }
  };
  for (const d of dirs) await walk(d, 0);
  for (const c of candidates) {
    const st = await stat(c).catch(() => undefined);
    if (st && st.mtimeMs >= since) await rm(c, { recursive: true, force: true });
  }
}
