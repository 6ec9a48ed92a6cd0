/**
 * A project without git keeps the sandbox's work in a private bare repository of its
 * own (under the plugin's storage, keyed by the project's real path — see
 * core/project-key.ts), never in the user's folder: seeds are snapshots of the folder's
 * files (files-snapshot.ts), syncs bring the sandbox's commits to branches there, and
 * the user applies them on purpose (apply-files.ts).
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { GitSyncError } from "./errors.js";
import { HostGit, rawGit, type RepoInfo } from "./host-git.js";

export interface PrivateRepoOptions {
  /** The user's folder (OpenCode's `directory`). */
  directory: string;
  /** The project key (a `dir-…` key for a folder without git). */
  key: string;
  /** Where private repositories live (core/paths.ts filesReposDir). */
  dir: string;
}

/** A private repository, opened: the folder it keeps work for, and git pointed at it. */
export interface PrivateRepo {
  directory: string;
  repo: RepoInfo;
  git: HostGit;
}

export const privateRepoPath = (o: Pick<PrivateRepoOptions, "dir" | "key">) => join(o.dir, `${o.key}.git`);

/** Git for a private repository: GIT_DIR is fixed, so no folder around it can be taken for it. */
export function privateGit(path: string): HostGit {
  return new HostGit(path, { GIT_DIR: path });
}

/** The project's private repository, created on first use (`git init` again is harmless when two processes race). */
export async function openPrivateRepo(o: PrivateRepoOptions): Promise<PrivateRepo> {
  const path = privateRepoPath(o);
  await mkdir(dirname(path), { recursive: true });
  const made = await rawGit(["init", "-q", "--bare", path], dirname(path));
  if (made.code !== 0) throw new GitSyncError("git_failed", `could not create the private repository ${path}: ${made.stderr.trim()}`);
  // Blobs hold the folder's bytes as they are: apply compares and writes them byte for byte
  // (a global core.autocrlf would make every CRLF file look changed).
  await rawGit(["config", "core.autocrlf", "false"], path, { env: { GIT_DIR: path } });
  // For a person looking at the storage: which folder this repository keeps work for.
  await writeFile(join(path, "opencode-sandboxed-directory"), o.directory + "\n");
  return { directory: o.directory, repo: { top: path, commonDir: path, gitDir: path }, git: privateGit(path) };
}

/** The private repository when it exists (the CLI reads; it does not create one). */
export async function existingPrivateRepo(o: PrivateRepoOptions): Promise<PrivateRepo | undefined> {
  const path = privateRepoPath(o);
  const r = await rawGit(["rev-parse", "--is-bare-repository"], path, { env: { GIT_DIR: path } }).catch(() => undefined);
  if (!r || r.code !== 0) return undefined;
  return { directory: o.directory, repo: { top: path, commonDir: path, gitDir: path }, git: privateGit(path) };
}
