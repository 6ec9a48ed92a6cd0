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
import { RepoLock } from "./repo-lock.js";
import { userIdentity, type Identity } from "./snapshot.js";

export interface HostRepositoryOptions {
  /** The host project directory (OpenCode's `directory`). */
  directory: string;
  branchPrefix: string;
  notify: Notify;
  /** How long a sync waits for another one on the same repository. */
  lockTimeoutMs?: number;
}

export interface OpenRepo {
  repo: RepoInfo;
  git: HostGit;
}

export class HostRepository {
  private found: Promise<OpenRepo | undefined> | undefined;
  private lock: RepoLock | undefined;
  private identity: Identity | undefined;
  private hasCommits = false;

  constructor(private readonly o: HostRepositoryOptions) {}

  /** The repository containing `directory`, or undefined (not a repository). */
  find(): Promise<OpenRepo | undefined> {
    return (this.found ??= findRepo(this.o.directory).then((repo) => (repo ? { repo, git: new HostGit(repo.top) } : undefined)));
  }

  /** The repository when it can be synced (it has a commit); otherwise says why, once per call. */
  async open(): Promise<OpenRepo | undefined> {
    const found = await this.find();
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
