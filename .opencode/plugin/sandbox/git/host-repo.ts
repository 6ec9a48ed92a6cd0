/**
 * The user's repository as seeding, sync and merge share it: found once, one sync
 * lock per process (see repo-lock.ts), temp bundles inside its git dir, the commit
 * identity, and the notice when there is nothing to sync from or into.
 */
import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Notify } from "../service/notices.js";
import { findRepo, HostGit, type RepoInfo } from "./host-git.js";
import { openPrivateRepo, type PrivateRepo } from "./private-repo.js";
import { RepoLock } from "./repo-lock.js";
import { userIdentity, type Identity } from "./snapshot.js";

export interface HostRepositoryOptions {
  /** The host project directory (OpenCode's `directory`). */
  directory: string;
  branchPrefix: string;
  notify: Notify;
  /** How long a sync waits for another one on the same repository. */
  lockTimeoutMs?: number;
  /**
   * Outside a git repository: keep the work in the project's private repository
   * (project key, and where private repositories live); none: sync is off there.
   */
  files?: { key: string; dir: string };
}

export interface OpenRepo {
  repo: RepoInfo;
  git: HostGit;
  /** Set for a project without git: `repo` is its private repository, seeded from the folder's files. */
  files?: PrivateRepo;
}

export class HostRepository {
  private found: Promise<OpenRepo | undefined> | undefined;
  private lock: RepoLock | undefined;
  private identity: Identity | undefined;
  private hasCommits = false;
  private privateRepo: Promise<OpenRepo> | undefined;
  private toldFiles = false;

  constructor(private readonly o: HostRepositoryOptions) {}

  /** The repository containing `directory`, or undefined (not a repository). */
  find(): Promise<OpenRepo | undefined> {
    return (this.found ??= findRepo(this.o.directory).then((repo) => (repo ? { repo, git: new HostGit(repo.top) } : undefined)));
  }

  /** The repository when it can be synced (it has a commit); otherwise says why, once per call. */
  async open(): Promise<OpenRepo | undefined> {
    const found = await this.find();
    if (!found && this.o.files) return this.openFiles(this.o.files);
    if (!found) {
      this.o.notify({ kind: "sync_off", why: "not_a_repository" });
      return undefined;
    }
    // Once a repository has a commit it keeps having one: checked until then only.
    if (!this.hasCommits) {
      if (!(await found.git.resolve("HEAD"))) {
        this.o.notify({ kind: "sync_off", why: "no_commits" });
        return undefined;
      }
      this.hasCommits = true;
    }
    return found;
  }

  private async openFiles(files: { key: string; dir: string }): Promise<OpenRepo> {
    this.privateRepo ??= openPrivateRepo({ directory: this.o.directory, ...files }).then(
      (p) => ({ repo: p.repo, git: p.git, files: p }),
      (error: unknown) => {
        this.privateRepo = undefined;
        throw error;
      },
    );
    const opened = await this.privateRepo;
    if (!this.toldFiles) {
      this.toldFiles = true;
      this.o.notify({ kind: "files_project", directory: this.o.directory });
    }
    return opened;
  }

  /** Runs `fn` holding the repository's sync lock. */
  locked<T>(repo: RepoInfo, fn: () => Promise<T>): Promise<T> {
    this.lock ??= new RepoLock(repo, this.o.branchPrefix, this.o.lockTimeoutMs ?? 10 * 60_000);
    return this.lock.run(fn);
  }

  /** A fresh path for a temporary bundle, inside the repository's git dir. */
  async tmp(repo: RepoInfo, name: string): Promise<string> {
    const dir = join(repo.commonDir, "opencode-sandboxed", "tmp");
    await mkdir(dir, { recursive: true });
    return join(dir, `${name}-${process.pid}-${randomBytes(4).toString("hex")}.bundle`);
  }

  /** The user's commit identity, looked up once. */
  async who(git: HostGit): Promise<Identity> {
    return (this.identity ??= await userIdentity(git));
  }
}
