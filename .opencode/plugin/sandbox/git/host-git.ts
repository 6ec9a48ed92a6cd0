/**
 * Host-side git, hardened. It only ever runs in the user's own repository (never in
 * the sandbox's), and content that came out of the sandbox (commits, trees,
 * `.gitattributes`, `.gitmodules`) must not make it run anything:
 * - hooks off (`core.hooksPath=/dev/null`), fsmonitor off;
 * - every filter driver the host's config defines is neutralized: a `filter=<name>`
 *   attribute in a fetched tree can only run a driver that host config defines
 *   (bundles carry no config), so blanking all of them closes that door — at the
 *   price that LFS smudge/clean do not run for files sync touches;
 * - no submodule recursion, no auto-gc inside our lock, no gpg prompts for our
 *   own snapshot commits; the caller's GIT_* environment is dropped so nothing
 *   redirects the repository.
 */
import { execFile } from "node:child_process";
import { GitSyncError } from "./errors.js";

export interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout as bytes, with `encoding: "buffer"`. */
  stdoutBytes?: Buffer;
}

export interface GitRunOptions {
  /** Run in this directory instead of the repository's (e.g. a linked worktree). */
  cwd?: string;
  env?: Record<string, string>;
  input?: string;
  /** Return a non-zero exit instead of throwing. */
  allowFail?: boolean;
  timeoutMs?: number;
  /** "buffer": keep stdout as bytes (blob contents). */
  encoding?: "utf8" | "buffer";
}

const BASE_FLAGS = [
  "core.hooksPath=/dev/null",
  "core.fsmonitor=false",
  "core.untrackedCache=false",
  "submodule.recurse=false",
  "fetch.recurseSubmodules=false",
  "transfer.fsckObjects=true",
  "fetch.fsckObjects=true",
  "commit.gpgSign=false",
  "tag.gpgSign=false",
  "gc.auto=0",
  "maintenance.auto=false",
  "advice.detachedHead=false",
];

/** Environment for host git: the caller's minus every GIT_* variable, plus ours. */
export function gitEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("GIT_")) env[k] = v;
  return { ...env, LC_ALL: "C", LANG: "C", GIT_TERMINAL_PROMPT: "0", GIT_ATTR_NOSYSTEM: "1", ...extra };
}

/** Runs git without any hardening: for discovering the repository and its filter drivers. */
export function rawGit(args: string[], cwd: string, options: GitRunOptions = {}): Promise<GitResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      "git",
      args,
      { cwd, env: gitEnv(options.env), maxBuffer: 512 * 1024 * 1024, timeout: options.timeoutMs ?? 0, encoding: "buffer" },
      (error, out, err) => {
        const stdout = out.toString("utf8");
        const stderr = err.toString("utf8");
        const code = error ? (typeof (error as { code?: unknown }).code === "number" ? (error as { code: number }).code : -1) : 0;
        if (error && code === -1) {
          reject(new GitSyncError("git_failed", `git ${args[0]} could not run: ${error.message}`, { cause: error }));
          return;
        }
        resolve({ code, stdout, stderr, stdoutBytes: options.encoding === "buffer" ? out : undefined });
      },
    );
    // git may exit without reading stdin (an error, or no input wanted): not our failure.
    child.stdin?.on("error", () => {});
    child.stdin?.end(options.input ?? "");
  });
}

export class HostGit {
  private flags: string[] | undefined;

  /**
   * `dir`: the repository's top-level directory (host). `env`: added to every call
   * (a private repository's GIT_DIR, see private-repo.ts).
   */
  constructor(
    readonly dir: string,
    private readonly env: Record<string, string> = {},
  ) {}

  /** `-c` flags: the fixed ones plus a blank for every filter driver host config defines. */
  async hardening(): Promise<string[]> {
    if (this.flags) return this.flags;
    const drivers = new Set<string>();
    const listed = await rawGit(["config", "--null", "--name-only", "--get-regexp", "^filter\\."], this.dir, { env: this.env });
    for (const name of listed.stdout.split("\0")) {
      const m = /^filter\.(.+)\.[^.]+$/s.exec(name);
      if (m) drivers.add(m[1]);
    }
    const flags: string[] = [];
    for (const f of BASE_FLAGS) flags.push("-c", f);
    for (const d of drivers)
      for (const key of ["smudge", "clean", "process"]) flags.push("-c", `filter.${d}.${key}=`);
    for (const d of drivers) flags.push("-c", `filter.${d}.required=false`);
    return (this.flags = flags);
  }

  async run(args: string[], options: GitRunOptions = {}): Promise<GitResult> {
    const flags = await this.hardening();
    const result = await rawGit([...flags, ...args], options.cwd ?? this.dir, { ...options, env: { ...this.env, ...options.env } });
    if (result.code !== 0 && !options.allowFail)
      throw new GitSyncError(
        "git_failed",
        `git ${args.filter((a) => !a.startsWith("-")).slice(0, 2).join(" ")} failed (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`,
      );
    return result;
  }

  /** stdout, trimmed. */
  async out(args: string[], options: GitRunOptions = {}): Promise<string> {
    return (await this.run(args, options)).stdout.trim();
  }

  /** The commit a ref or revision names, or undefined. */
  async resolve(rev: string): Promise<string | undefined> {
    const r = await this.run(["rev-parse", "-q", "--verify", "--end-of-options", `${rev}^{commit}`], { allowFail: true });
    return r.code === 0 ? r.stdout.trim() : undefined;
  }

  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    const r = await this.run(["merge-base", "--is-ancestor", ancestor, descendant], { allowFail: true });
    if (r.code > 1) throw new GitSyncError("git_failed", `git merge-base failed: ${r.stderr.trim()}`);
    return r.code === 0;
  }

  async hasCommit(sha: string): Promise<boolean> {
    const r = await this.run(["cat-file", "-e", `${sha}^{commit}`], { allowFail: true });
    return r.code === 0;
  }
}

/** Repository facts the rest of sync needs; undefined when `directory` is not in a work tree. */
export interface RepoInfo {
  top: string;
  /** Shared by all linked worktrees: locks and private files live here. */
  commonDir: string;
  gitDir: string;
}

export async function findRepo(directory: string): Promise<RepoInfo | undefined> {
  const r = await rawGit(["rev-parse", "--show-toplevel", "--path-format=absolute", "--git-common-dir", "--git-dir"], directory).catch(
    () => undefined,
  );
  if (!r || r.code !== 0) return undefined;
  const [top, commonDir, gitDir] = r.stdout.trim().split("\n");
  if (!top || !commonDir || !gitDir) return undefined;
  return { top, commonDir, gitDir };
}
