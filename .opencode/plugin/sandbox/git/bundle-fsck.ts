/**
 * The objects of a bundle from the sandbox, checked as git fsck checks them, before anything of it
 * reaches the user's repository. git before 2.47 runs no fsck on what it fetches from
 * a bundle, fetch.fsckObjects or not: a tree entry named `.git`, `..` or `GIT~1`, or a
 * `.gitmodules` whose url is an option, would land on the user's branch (refused only
 * later, by a checkout or by the server the user pushes to). The pack is unbundled into
 * a throwaway bare repository borrowing the user's objects read-only (for the bundle's
 * prerequisites and thin deltas); its pack is checked (index-pack --strict).
 */
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { GitSyncError } from "./errors.js";
import { rawGit } from "./host-git.js";

/**
 * git's checks, but `update = !command` in a .gitmodules: git has not run such a
 * command from .gitmodules since 2.20 (only from .git/config), and a checked-out branch
 * holds a .gitmodules for review anyway (auto-run.ts) — not worth refusing the work for.
 */
const STRICT = "--strict=gitmodulesUpdate=warn";

/** Throws GitSyncError bad_bundle naming git's complaints; "need_full": the user lacks the bundle's base. */
export async function fsckBundle(bundle: string, objectsDir: string, scratch: string): Promise<"ok" | "need_full"> {
  try {
    for (const dir of ["refs", "objects/pack", "objects/info"]) await mkdir(join(scratch, dir), { recursive: true });
    await writeFile(join(scratch, "HEAD"), "ref: refs/heads/main\n");
    await writeFile(join(scratch, "objects", "info", "alternates"), `${objectsDir}\n`);
    // Neither command runs hooks or filters (a bare repository, no checkout).
    const q = (args: string[]) => rawGit(args, scratch, { env: { GIT_DIR: scratch } });
    const unbundled = await q(["bundle", "unbundle", bundle]);
    if (unbundled.code !== 0) {
      if (/prerequisite/i.test(unbundled.stderr)) return "need_full";
      throw new GitSyncError("bad_bundle", `reading the sandbox's bundle failed: ${unbundled.stderr.trim()}`);
    }
    // The pack unbundle wrote (thin deltas completed), indexed again with git's object
    // checks (--strict; links resolve through the borrowed objects); the index it
    // writes is thrown away with the rest.
    const packs = (await readdir(join(scratch, "objects", "pack"))).filter((f) => f.endsWith(".pack"));
    for (const [i, pack] of packs.entries()) {
      const checked = await q(["index-pack", STRICT, "-o", join(scratch, `check-${i}.idx`), join(scratch, "objects", "pack", pack)]);
      if (checked.code === 0) continue;
      const problems = `${checked.stderr}\n${checked.stdout}`
        .split("\n")
        .filter((l) => /^(error|fatal)/.test(l))
        .slice(0, 5);
      throw new GitSyncError(
        "bad_bundle",
        `the sandbox's commits hold objects git refuses; nothing was fetched: ${problems.join("; ") || `git index-pack exit ${checked.code}`}`,
      );
    }
    return "ok";
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
