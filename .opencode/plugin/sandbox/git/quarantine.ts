/**
 * A bundle from the sandbox is fetched once, into a quarantine: a throwaway bare
 * repository next to the user's (their objects borrowed read-only as alternates, for the
 * bundle's prerequisites and thin deltas), with the same hardened git (no hooks or
 * filters; the bundle's prerequisites and the ref's connectivity checked; its objects'
 * names and contents are bundle-fsck.ts's, as git before 2.47 does not fsck a bundle's
 * objects on fetch). There its unpacked size is
 * measured — a bundle of 1 MB can carry a 1 GiB file (zlib, deltas) — and only when it
 * fits the budget are the objects it added moved into the user's object store; nothing
 * of a refused bundle ever reaches the user's repository. (Measuring in one throwaway
 * repository and then fetching the bundle again read it twice on every sync.)
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
  /** Throws (an over-budget error) when the measured objects may not be added. */
  check: (measured: { bytes: number; objects: number }) => void;
}

/** The objects added to the user's store, or "need_full": the user lacks the bundle's base. */
export type Quarantined = { bytes: number; objects: number } | "need_full";

const QUARANTINE_REF = "refs/quarantine/sync";

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
    // Thin deltas were completed from the user's objects: what is here stands alone.
    await rm(alternates, { force: true });
    const listed = await q(["cat-file", "--batch-all-objects", "--batch-check=%(objectsize)"]);
    if (listed.code !== 0) throw new GitSyncError("git_failed", `measuring the sandbox's bundle failed: ${listed.stderr.trim()}`);
    let bytes = 0;
    let objects = 0;
    for (const line of listed.stdout.split("\n")) {
      if (!/^\d+$/.test(line)) continue;
      bytes += Number(line);
      objects++;
    }
    input.check({ bytes, objects });
    await admit(join(scratch, "objects"), input.objectsDir);
    return { bytes, objects };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
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
