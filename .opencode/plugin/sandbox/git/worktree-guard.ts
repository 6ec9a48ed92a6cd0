/**
 * What a fast-forward of a checked-out branch would do to the user's working tree,
 * read from git's objects before a file is touched: the paths that run code or
 * configure tools on the host by themselves (auto-run.ts), symlinks that point out of
 * the repository, and how many bytes of files it would write.
 */
import { autoRunReason, symlinkEscapes } from "./auto-run.js";
import type { HostGit } from "./host-git.js";

export interface FlaggedPath {
  path: string;
  reason: string;
}

export interface WorktreeUpdate {
  /** Paths the update must not write unreviewed (empty: it may follow). */
  flagged: FlaggedPath[];
  /** Bytes of files and links it writes (a blob written at many paths counts at each). */
  writeBytes: number;
}

/** A symlink target longer than the kernel accepts is no ordinary link. */
const MAX_LINK_TARGET = 4095;

interface Entry {
  path: string;
  mode: string;
  sha: string;
  deleted: boolean;
}

/** `git diff-tree -r -z --raw` → entries (no renames: each side of a rename is a path). */
export function parseRawDiff(out: string): Entry[] {
  const parts = out.split("\0");
  const entries: Entry[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const meta = parts[i].replace(/^\n/, "");
    if (!meta.startsWith(":")) break;
    const [, newMode, , newSha, status] = meta.slice(1).split(" ");
    entries.push({ path: parts[i + 1], mode: newMode, sha: newSha, deleted: status === "D" });
  }
  return entries;
}

/** Object sizes, in one `cat-file` call. */
async function sizes(git: HostGit, shas: string[]): Promise<Map<string, number>> {
  const map = new Map<string, number>();
  if (!shas.length) return map;
  const out = await git.out(["cat-file", "--batch-check=%(objectname) %(objectsize)"], { input: `${[...new Set(shas)].join("\n")}\n` });
  for (const line of out.split("\n")) {
    const [sha, size] = line.split(" ");
    if (sha && /^\d+$/.test(size ?? "")) map.set(sha, Number(size));
  }
  return map;
}

/** Symlink targets (blobs no longer than MAX_LINK_TARGET), in one `cat-file --batch` call. */
async function targets(git: HostGit, shas: string[]): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  if (!shas.length) return map;
  const r = await git.run(["cat-file", "--batch"], { input: `${[...new Set(shas)].join("\n")}\n`, encoding: "buffer" });
  const buf = r.stdoutBytes ?? Buffer.alloc(0);
  let at = 0;
  while (at < buf.length) {
    const nl = buf.indexOf(0x0a, at);
    if (nl < 0) break;
    const [sha, type, size] = buf.subarray(at, nl).toString("latin1").split(" ");
    if (type === "missing" || !size) {
      at = nl + 1;
      continue;
    }
    const n = Number(size);
    map.set(sha, buf.subarray(nl + 1, nl + 1 + n).toString("utf8"));
    at = nl + 1 + n + 1;
  }
  return map;
}

/** Inspects the update of a working tree from commit `from` to commit `to`. */
export async function inspectUpdate(git: HostGit, from: string, to: string): Promise<WorktreeUpdate> {
  const out = (await git.run(["diff-tree", "-r", "-z", "--raw", "--no-renames", "--no-commit-id", from, to])).stdout;
  const entries = parseRawDiff(out);
  const written = entries.filter((e) => !e.deleted && (e.mode.startsWith("100") || e.mode === "120000"));
  const size = await sizes(git, written.map((e) => e.sha));
  const links = written.filter((e) => e.mode === "120000");
  const linkTargets = await targets(git, links.filter((e) => (size.get(e.sha) ?? Infinity) <= MAX_LINK_TARGET).map((e) => e.sha));
  const flagged: FlaggedPath[] = [];
  let writeBytes = 0;
  for (const e of entries) {
    const reason = autoRunReason(e.path);
    if (reason) flagged.push({ path: e.path, reason });
    if (e.deleted) continue;
    writeBytes += size.get(e.sha) ?? 0;
    if (e.mode !== "120000" || reason) continue;
    const target = linkTargets.get(e.sha);
    if (target === undefined) flagged.push({ path: e.path, reason: "a symlink with an overlong target" });
    else if (symlinkEscapes(e.path, target)) flagged.push({ path: e.path, reason: `a symlink pointing outside the repository (→ ${target})` });
  }
  return { flagged, writeBytes };
}
