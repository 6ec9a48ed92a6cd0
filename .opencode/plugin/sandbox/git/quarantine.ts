/**
 * How much a bundle from the sandbox would add to the user's object store, measured
 * before it is fetched: a bundle of 1 MB can carry a 1 GiB file (zlib, deltas). Its
 * pack is unbundled into a throwaway bare repository next to the user's (their objects
 * borrowed read-only as alternates, for the bundle's prerequisites and thin deltas),
 * then the borrowing is cut and the objects it holds are counted. Nothing of it ever
 * reaches the user's repository: the real fetch (with fsck) follows only when it fits.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { GitSyncError } from "./errors.js";
import { rawGit } from "./host-git.js";

export type Measured = { bytes: number; objects: number } | "need_full";

/**
 * The unpacked size of the objects `bundle` carries. `objectsDir`: the user's object
 * directory; `scratch`: a fresh path for the throwaway repository (removed after).
 */
export async function measureBundle(bundle: string, objectsDir: string, scratch: string, hasPrerequisites: boolean): Promise<Measured> {
  try {
    // The least a git directory needs, made by hand (a `git init` costs a process per sync).
    for (const dir of ["refs", "objects/pack", "objects/info"]) await mkdir(join(scratch, dir), { recursive: true });
    await writeFile(join(scratch, "HEAD"), "ref: refs/heads/main\n");
    const alternates = join(scratch, "objects", "info", "alternates");
    await writeFile(alternates, `${objectsDir}\n`);
    // Neither command runs hooks or filters: no hardening flags needed (they cost a process).
    const q = (args: string[]) => rawGit(args, scratch, { env: { GIT_DIR: scratch } });
    const unbundled = await q(["bundle", "unbundle", bundle]);
    if (unbundled.code !== 0) {
      if (/prerequisite/i.test(unbundled.stderr) && hasPrerequisites) return "need_full";
      throw new GitSyncError("bad_bundle", `reading the sandbox's bundle failed: ${unbundled.stderr.trim()}`);
    }
    // Thin deltas were completed from the user's objects: the pack stands alone now.
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
    return { bytes, objects };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
