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
import { HostGit } from "./host-git.js";

export type Measured = { bytes: number; objects: number } | "need_full";

/**
 * The unpacked size of the objects `bundle` carries. `objectsDir`: the user's object
 * directory; `scratch`: a fresh path for the throwaway repository (removed after).
 */
export async function measureBundle(bundle: string, objectsDir: string, scratch: string, hasPrerequisites: boolean): Promise<Measured> {
  await mkdir(scratch, { recursive: true });
  try {
    const q = new HostGit(scratch, { GIT_DIR: scratch });
    await q.run(["init", "--bare", "-q", "--template=", scratch]);
    const alternates = join(scratch, "objects", "info", "alternates");
    await mkdir(join(scratch, "objects", "info"), { recursive: true });
    await writeFile(alternates, `${objectsDir}\n`);
    const unbundled = await q.run(["bundle", "unbundle", bundle], { allowFail: true });
    if (unbundled.code !== 0) {
      if (/prerequisite/i.test(unbundled.stderr) && hasPrerequisites) return "need_full";
      throw new GitSyncError("bad_bundle", `reading the sandbox's bundle failed: ${unbundled.stderr.trim()}`);
    }
    // Thin deltas were completed from the user's objects: the pack stands alone now.
    await rm(alternates, { force: true });
    const listed = await q.out(["cat-file", "--batch-all-objects", "--batch-check=%(objectsize)"]);
    let bytes = 0;
    let objects = 0;
    for (const line of listed.split("\n")) {
      if (!/^\d+$/.test(line)) continue;
      bytes += Number(line);
      objects++;
    }
    return { bytes, objects };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
