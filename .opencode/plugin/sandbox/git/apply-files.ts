/**
 * A session's work on a project without git, written into the user's folder on
 * purpose (`opencode-sandboxed apply`): a three-way merge — base: the files the
 * sandbox started from (or the work applied last), ours: the folder now (a snapshot),
 * theirs: the session's synced tip. Either every change is written or none: conflicts,
 * refused paths, or a file that changes while the apply runs stop it before the folder
 * is touched. Paths that configure or run tools on the host by themselves, and symlinks
 * pointing outside the folder, are refused unless the caller allows them.
 */
import { createHash, randomBytes } from "node:crypto";
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, rmdir, symlink, unlink, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { autoRunReason, symlinkEscapes } from "./auto-run.js";
import { GitSyncError } from "./errors.js";
import { filesSnapshot } from "./files-snapshot.js";
import type { PrivateRepo } from "./private-repo.js";
import type { Identity } from "./snapshot.js";
import { reach, type PhaseHook } from "../util/phases.js";

export interface FileChange {
  path: string;
  change: "added" | "modified" | "deleted";
}

export interface PathProblem {
  path: string;
  why: string;
}

export type FilesApplyOutcome =
  /** Every change is in the folder now; `commit`: the tip applied. */
  | { kind: "applied"; changes: FileChange[]; commit: string }
  /** The folder already holds the session's work. */
  | { kind: "up_to_date"; commit: string }
  /** The folder and the session changed the same files: nothing written. */
  | { kind: "conflict"; conflicts: PathProblem[] }
  /** Paths the caller did not allow (auto-run configuration, escaping symlinks, unsafe paths): nothing written. */
  | { kind: "refused"; refused: PathProblem[] }
  /** Paths the folder holds otherwise than the snapshot saw (changed meanwhile, or an ignored file in the way): nothing written. */
  | { kind: "changed"; paths: string[] };

export interface ApplyFilesInput {
  files: PrivateRepo;
  /** What the folder's files were when the session's work began (the seed, or the tip applied last). */
  base: string;
  /** The session's synced tip. */
  theirs: string;
  identity: Identity;
  copyIgnored: string[];
  limitBytes: number;
  allow?: { autoRun?: boolean; escapingSymlinks?: boolean };
  /** Decide, write nothing. */
  dryRun?: boolean;
  /** Tests: stop at named points (see util/phases.ts). */
  phases?: PhaseHook;
}

interface Entry {
  mode: string;
  blob: string;
}

interface Planned {
  path: string;
  change: FileChange["change"];
  /** What the folder holds now (none: nothing there). */
  before?: Entry;
  /** What it will hold (none: deleted). */
  after?: Entry;
}

const NULL_SHA = /^0+$/;

export async function applyFiles(input: ApplyFilesInput): Promise<FilesApplyOutcome> {
  const { files, base, theirs } = input;
  const { git } = files;
  if (!(await git.hasCommit(base))) throw new GitSyncError("git_failed", `the session's base ${base.slice(0, 12)} is missing from ${files.repo.gitDir}`);
  const ours = await filesSnapshot(files, {
    copyIgnored: input.copyIgnored,
    limitBytes: input.limitBytes,
    message: `opencode-sandboxed: the files of ${files.directory} before an apply`,
    identity: input.identity,
    parent: base,
  });
  // ours' only parent is base, and theirs grew from it: merge-tree finds base as the merge base.
  const merged = await git.run(["merge-tree", "--write-tree", "-z", "--name-only", ours.commit, theirs], { allowFail: true });
  if (merged.code > 1) throw new GitSyncError("git_failed", `git merge-tree failed: ${merged.stderr.trim()}`);
  const parsed = parseMergeTree(merged.stdout);
  if (merged.code === 1) return { kind: "conflict", conflicts: parsed.conflicts };
  const plan = await planChanges(git, ours.commit, parsed.tree);
  if (!plan.length) return { kind: "up_to_date", commit: theirs };
  const refused = await policy(git, plan, input.allow ?? {});
  if (refused.length) return { kind: "refused", refused };
  if (input.dryRun) return { kind: "applied", changes: plan.map(({ path, change }) => ({ path, change })), commit: theirs };
  const changed = await write(files, plan, input.phases);
  if (changed.length) return { kind: "changed", paths: changed };
  return { kind: "applied", changes: plan.map(({ path, change }) => ({ path, change })), commit: theirs };
}

/** `merge-tree -z --name-only`: the tree, the conflicted paths, then messages (count, paths, type, text). */
export function parseMergeTree(out: string): { tree: string; conflicts: PathProblem[] } {
  const parts = out.split("\0");
  const tree = parts[0] ?? "";
  let i = 1;
  const names: string[] = [];
  while (i < parts.length && parts[i] !== "") names.push(parts[i++]);
  i++;
  const why = new Map<string, string>();
  while (i < parts.length && /^\d+$/.test(parts[i])) {
    const n = Number(parts[i]);
    const paths = parts.slice(i + 1, i + 1 + n);
    const type = parts[i + 1 + n] ?? "";
    const text = (parts[i + 2 + n] ?? "").trim();
    i += n + 3;
    if (type.startsWith("CONFLICT")) for (const p of paths) if (!why.has(p)) why.set(p, text);
  }
  return { tree, conflicts: [...new Set(names)].map((path) => ({ path, why: why.get(path) ?? "changed on both sides" })) };
}

async function planChanges(git: PrivateRepo["git"], from: string, to: string): Promise<Planned[]> {
  const out = (await git.run(["diff-tree", "-r", "-z", "--no-renames", "--no-ext-diff", from, to])).stdout.split("\0");
  const plan: Planned[] = [];
  for (let i = 0; i + 1 < out.length; i += 2) {
    const meta = out[i];
    const path = out[i + 1];
    if (!meta.startsWith(":")) break;
    const [srcMode, dstMode, srcBlob, dstBlob, status] = meta.slice(1).split(" ");
    const before = NULL_SHA.test(srcBlob) ? undefined : { mode: srcMode, blob: srcBlob };
    const after = NULL_SHA.test(dstBlob) ? undefined : { mode: dstMode, blob: dstBlob };
    plan.push({ path, change: status === "A" ? "added" : status === "D" ? "deleted" : "modified", before, after });
  }
  return plan;
}

/** Paths the apply may not write without the caller's leave. */
async function policy(git: PrivateRepo["git"], plan: Planned[], allow: NonNullable<ApplyFilesInput["allow"]>): Promise<PathProblem[]> {
  const refused: PathProblem[] = [];
  for (const p of plan) {
    const parts = p.path.split("/");
    if (parts.some((c) => !c || c === "." || c === ".." || c.toLowerCase() === ".git")) {
      refused.push({ path: p.path, why: "not a path inside the folder" });
      continue;
    }
    if (!p.after) continue;
    if (p.after.mode === "160000") {
      refused.push({ path: p.path, why: "a nested git repository (its content is not in the session's work)" });
      continue;
    }
    const reason = autoRunReason(p.path);
    if (reason && !allow.autoRun) refused.push({ path: p.path, why: `${reason} (allow with --allow-auto-run)` });
    if (p.after.mode === "120000") {
      const target = (await git.run(["cat-file", "blob", p.after.blob])).stdout;
      if (symlinkEscapes(p.path, target) && !allow.escapingSymlinks)
        refused.push({ path: p.path, why: `a symlink to ${JSON.stringify(target)}, outside the folder (allow with --allow-escaping-symlinks)` });
    }
  }
  return refused;
}

/** What a path in the folder holds, as a tree entry (blob id of SHA-1 repositories); undefined when nothing is there. */
async function onDisk(path: string): Promise<Entry | "other" | undefined> {
  const st = await lstat(path).catch(() => undefined);
  if (!st) return undefined;
  let data: Buffer;
  let mode: string;
  if (st.isSymbolicLink()) [data, mode] = [Buffer.from(await readlink(path)), "120000"];
  else if (st.isFile()) [data, mode] = [await readFile(path), st.mode & 0o111 ? "100755" : "100644"];
  else return "other";
  return { mode, blob: createHash("sha1").update(`blob ${data.length}\0`).update(data).digest("hex") };
}

const same = (a: Entry | "other" | undefined, b: Entry | undefined) =>
  a === b || (!!a && !!b && a !== "other" && a.blob === b.blob && a.mode === b.mode);

/** Paths whose content is no longer what the snapshot saw. */
async function drifted(directory: string, plan: Planned[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of plan) {
    const now = await onDisk(join(directory, p.path));
    // A directory where a new file goes: blocked() decides whether it can give way.
    if (now === "other" && !p.before && (await lstat(join(directory, p.path))).isDirectory()) continue;
    if (!same(now, p.before)) out.push(p.path);
  }
  return out;
}

/**
 * New files whose place the folder holds otherwise than the plan expects: a parent that
 * is a symlink or a file the plan does not delete, or a directory where the file goes
 * that still holds files the plan does not delete. Checked before anything is written.
 */
async function blocked(directory: string, plan: Planned[]): Promise<string[]> {
  const deleted = new Set(plan.filter((p) => !p.after).map((p) => p.path));
  const out: string[] = [];
  for (const p of plan) {
    if (!p.after) continue;
    const parts = p.path.split("/");
    let bad = false;
    for (let i = 1; i < parts.length && !bad; i++) {
      const rel = parts.slice(0, i).join("/");
      const st = await lstat(join(directory, rel)).catch(() => undefined);
      if (!st || st.isDirectory()) continue;
      bad = !deleted.has(rel);
      if (!bad) break; // deleted first, then made a directory
    }
    const here = await lstat(join(directory, p.path)).catch(() => undefined);
    if (!bad && here?.isDirectory()) {
      const inside = await readdir(join(directory, p.path), { recursive: true, withFileTypes: true });
      bad = inside.some((e) => !e.isDirectory() && !deleted.has(`${p.path}/${relative(join(directory, p.path), join(e.parentPath, e.name)).split(sep).join("/")}`));
    }
    if (bad) out.push(p.path);
  }
  return out;
}

/**
 * Stages every new file in a temporary directory inside the folder (same file system:
 * renames), checks nothing changed since the snapshot, then deletes and renames into place.
 */
async function write(files: PrivateRepo, plan: Planned[], phases: PhaseHook | undefined): Promise<string[]> {
  const { directory, git } = files;
  const staging = join(directory, `.opencode-sandboxed-apply-${randomBytes(4).toString("hex")}`);
  await mkdir(staging);
  try {
    const staged = new Map<string, string>();
    let n = 0;
    for (const p of plan) {
      if (!p.after) continue;
      const tmp = join(staging, String(n++));
      const bytes = (await git.run(["cat-file", "blob", p.after.blob], { encoding: "buffer" })).stdoutBytes ?? Buffer.alloc(0);
      if (p.after.mode === "120000") await symlink(bytes.toString("utf8"), tmp);
      else await writeFile(tmp, bytes, { mode: p.after.mode === "100755" ? 0o755 : 0o644 });
      staged.set(p.path, tmp);
    }
    await reach(phases, "apply:staged");
    const changed = [...(await drifted(directory, plan)), ...(await blocked(directory, plan))];
    if (changed.length) return changed;
    // Deletions first: a file may give way to a directory of the same name.
    for (const p of plan) if (!p.after) await unlink(join(directory, p.path));
    for (const p of plan) {
      const tmp = staged.get(p.path);
      if (!tmp) continue;
      const target = join(directory, p.path);
      await mkdirInside(directory, dirname(p.path));
      // A directory where the file goes (the session replaced a directory by a file): its files were deleted above.
      if ((await lstat(target).catch(() => undefined))?.isDirectory()) await removeEmptyTree(target);
      await rename(tmp, target);
    }
    for (const p of plan) if (!p.after) await removeEmptyParents(directory, dirname(p.path));
    return [];
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** `mkdir -p` of a folder-relative directory that never goes through a symlink. */
async function mkdirInside(directory: string, rel: string): Promise<void> {
  let at = directory;
  for (const part of rel === "." ? [] : rel.split("/")) {
    at = join(at, part);
    const st = await lstat(at).catch(() => undefined);
    if (!st) await mkdir(at);
    else if (!st.isDirectory()) throw new GitSyncError("git_failed", `cannot write below ${at}: it is not a directory (a symlink or a file)`);
  }
}

/** Removes a directory holding only directories (rmdir fails on anything else: nothing of the user's goes). */
async function removeEmptyTree(dir: string): Promise<void> {
  for (const e of await readdir(dir, { withFileTypes: true })) if (e.isDirectory()) await removeEmptyTree(join(dir, e.name));
  await rmdir(dir);
}

async function removeEmptyParents(directory: string, rel: string): Promise<void> {
  for (let dir = rel; dir && dir !== "."; dir = dirname(dir)) {
    const removed = await rmdir(join(directory, dir)).then(() => true, () => false);
    if (!removed) return;
  }
}
