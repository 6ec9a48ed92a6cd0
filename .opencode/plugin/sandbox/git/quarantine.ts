/**
 * A bundle from the sandbox is fetched once, into a quarantine: a throwaway bare
 * repository next to the user's (their objects borrowed read-only as alternates, for the
 * bundle's prerequisites and thin deltas), with the same hardened git (no hooks or
 * filters; the bundle's prerequisites and the ref's connectivity checked). There:
 * - its objects are checked as git fsck checks them. git before 2.47 runs no fsck on what
 *   it fetches from a bundle, fetch.fsckObjects or not: a tree entry named `.git`, `..` or
 *   `GIT~1`, or a `.gitmodules` whose url is an option, would land on the user's branch;
 * - its unpacked size is measured — a bundle of 1 MB can carry a 1 GiB file (zlib,
 *   deltas);
 * and only then are the objects it added moved into the user's object store; nothing of
 * a refused bundle ever reaches the user's repository. (Checking in a throwaway repository
 * of its own, then fetching into this one, read every bundle twice.)
 */
import { copyFile, link, mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { GitSyncError } from "./errors.js";
import { rawGit } from "./host-git.js";

export interface QuarantineInput {
  bundle: string;
  /** The ref the bundle carries (its header was checked). */
  ref: string;
  /** The user's object directory. */
  objectsDir: string;
  /** A fresh path for the throwaway repository (removed after). */
  scratch: string;
  hasPrerequisites: boolean;
  /** HostGit.hardening(): the same `-c` flags as every host git call. */
  flags: string[];
  /** Throws (an over-budget error) when the measured objects may not be added; none: not measured. */
  check?: (measured: { bytes: number; objects: number }) => void;
}

/** "need_full": the user lacks the bundle's base; nothing was added. */
export type Quarantined = "admitted" | "need_full";

const QUARANTINE_REF = "refs/quarantine/sync";
/**
 * git's checks, but `update = !command` in a .gitmodules: git has not run such a
 * command from .gitmodules since 2.20 (only from .git/config), and a checked-out branch
 * holds a .gitmodules for review anyway (auto-run.ts) — not worth refusing the work for.
 */
const STRICT = "--strict=gitmodulesUpdate=warn";

export async function fetchQuarantined(input: QuarantineInput): Promise<Quarantined> {
  const { scratch } = input;
  try {
    // The least a git directory needs, made by hand (a `git init` costs a process per sync).
    for (const dir of ["refs", "objects/pack", "objects/info"]) await mkdir(join(scratch, dir), { recursive: true });
    await writeFile(join(scratch, "HEAD"), "ref: refs/heads/main\n");
    const alternates = join(scratch, "objects", "info", "alternates");
    await writeFile(alternates, `${input.objectsDir}\n`);
    const q = (args: string[]) => rawGit([...input.flags, ...args], scratch, { env: { GIT_DIR: scratch } });
    const fetched = await q([
      "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--no-recurse-submodules", "--no-auto-maintenance",
      input.bundle, `+${input.ref}:${QUARANTINE_REF}`,
    ]);
    if (fetched.code !== 0) {
      if (/prerequisite/i.test(fetched.stderr) && input.hasPrerequisites) return "need_full";
      throw new GitSyncError("bad_bundle", `fetching the sandbox's bundle failed: ${fetched.stderr.trim()}`);
    }
    await checkObjects(scratch, q);
    // Thin deltas were completed from the user's objects: what is here stands alone.
    await rm(alternates, { force: true });
    if (input.check) input.check(await measure(q));
    await admit(join(scratch, "objects"), input.objectsDir);
    return "admitted";
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

type Git = (args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;

/**
 * The pack the fetch wrote (a bundle's objects always arrive as one), indexed again with
 * git's object checks; its links resolve through the borrowed objects. The index this
 * writes is thrown away with the quarantine.
 */
async function checkObjects(scratch: string, q: Git): Promise<void> {
  const packs = (await readdir(join(scratch, "objects", "pack"))).filter((f) => f.endsWith(".pack"));
  for (const [i, pack] of packs.entries()) {
    const checked = await q(["index-pack", STRICT, "-o", join(scratch, `check-${i}.idx`), join(scratch, "objects", "pack", pack)]);
    if (checked.code === 0) continue;
    const problems = `${checked.stderr}\n${checked.stdout}`
      .split("\n")
      .filter((l) => /^(error|fatal)/.test(l))
      .slice(0, 5);
    throw new GitSyncError("bad_bundle", `the sandbox's commits hold objects git refuses; nothing was fetched: ${problems.join("; ") || `git index-pack exit ${checked.code}`}`);
  }
}

/** The objects in the quarantine and their unpacked bytes. */
async function measure(q: Git): Promise<{ bytes: number; objects: number }> {
  const listed = await q(["cat-file", "--batch-all-objects", "--batch-check=%(objectsize)"]);
  if (listed.code !== 0) throw new GitSyncError("git_failed", `measuring the sandbox's bundle failed: ${listed.stderr.trim()}`);
  let bytes = 0;
  let objects = 0;
  for (const line of listed.stdout.split("\n")) {
    if (!/^\d+$/.test(line)) continue;
    bytes += Number(line);
    objects++;
  }
  return { bytes, objects };
}

/**
 * Moves the quarantine's objects into the user's store: loose objects first, then each
 * pack with its index last (git finds a pack by its .idx), so a reader never sees an
 * index without its pack. Objects are named by their hash: one already there is kept.
 */
async function admit(from: string, to: string): Promise<void> {
  for (const dir of await readdir(from)) {
    if (!/^[0-9a-f]{2}$/.test(dir)) continue;
    await mkdir(join(to, dir), { recursive: true });
    for (const file of await readdir(join(from, dir))) await place(join(from, dir, file), join(to, dir, file));
  }
  const packs = await readdir(join(from, "pack"));
  for (const pack of packs.filter((f) => f.endsWith(".pack"))) {
    const base = pack.slice(0, -".pack".length);
    await mkdir(join(to, "pack"), { recursive: true });
    for (const ext of [".pack", ".rev", ".idx"])
      if (packs.includes(base + ext)) await place(join(from, "pack", base + ext), join(to, "pack", base + ext));
  }
}

/** A hard link, as git itself moves objects in (never replaces one); a copy across file systems. */
async function place(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return;
    if (code !== "EXDEV" && code !== "EPERM") throw error;
    // Another file system (or no hard links): copy beside, then rename into place.
    const tmp = `${to}.tmp-${process.pid}`;
    await copyFile(from, tmp);
    await rename(tmp, to);
  }
}
