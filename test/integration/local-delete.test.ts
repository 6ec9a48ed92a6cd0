/**
 * Delete always finishes (issue 13, item 6): a sandbox shapes its workspace to resist
 * removal — 2,100 levels deep (Node's fs.rm fails with ENAMETOOLONG there), directories
 * with mode 000, symlinks to host files and directories, a mount point below it — and
 * the host checks: its own files intact, the sandbox's directory gone, its uid reservation
 * and the session's mapping freed; what cannot be removed is reported and removed later.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { removeTree } from "../../.opencode/plugin/sandbox/providers/local/remove-tree.js";
import { harness, memoryLogger, type Harness } from "../support/local-harness.js";
import { lacks, missingBwrap, missingCommand, missingRoot } from "../support/prereq.js";
import { git, makeRepo, cleanupAll } from "./git-support.js";
import { sessionKit } from "./session-kit.js";

const DEPTH = 2100;

/** Host files the sandbox points at; delete must leave them as they are. */
async function canaries() {
  const dir = await mkdtemp(join(tmpdir(), "ocsb-canary-"));
  writeFileSync(join(dir, "keep.txt"), "keep\n");
  mkdirSync(join(dir, "sub"));
  writeFileSync(join(dir, "sub", "keep2.txt"), "keep2\n");
  return {
    dir,
    intact: () => readFileSync(join(dir, "keep.txt"), "utf8") === "keep\n" && readFileSync(join(dir, "sub", "keep2.txt"), "utf8") === "keep2\n",
  };
}

/** The sandbox's side: a tree built to resist removal, pointing at the host's files. */
const hostile = (canary: string) =>
  [
    "cd /workspace",
    // perl: chdir by one relative name at a time, as deep as the kernel lets a tree go.
    `perl -e 'for (1..${DEPTH}) { mkdir "d" or die "mkdir: $!"; chdir "d" or die "chdir: $!" } open(F, ">f") or die; print F "x"; close F; symlink("${canary}", "out") or die; chmod(0, ".") or die'`,
    "mkdir -p locked/inner && echo x > locked/inner/f && chmod 000 locked/inner locked",
    `ln -s '${canary}' out-dir && ln -s '${canary}/keep.txt' out-file && ln -s / root && ln -s /etc/passwd pw`,
    "echo built",
  ].join(" && ");

describe("deleting a local sandbox that resists removal", { timeout: 300_000 }, () => {
  if (lacks(missingBwrap())) return;
  let h: Harness;
  const log = memoryLogger();

  beforeAll(async () => {
    h = await harness({ log });
  });
  afterAll(async () => {
    await h?.cleanup();
    await cleanupAll();
  });

  it("Node's own recursive rm fails on such a tree (the trap is real); removeTree does not", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ocsb-deep-"));
    execFileSync("perl", ["-e", `chdir "${dir}"; for (1..${DEPTH}) { mkdir "d" or die; chdir "d" or die } chmod(0, ".")`]);
    const error = await rm(dir, { recursive: true, force: true }).then(() => undefined, (e: NodeJS.ErrnoException) => e.code);
    expect(error).toBe("ENAMETOOLONG");
    expect(await removeTree(dir)).toEqual({ removed: true });
    expect(existsSync(dir)).toBe(false);
  });

  it("removes the whole tree, follows no symlink out, and frees the uid", async () => {
    const canary = await canaries();
    const sandbox = await h.provider.create({ labels: { test: "delete" } });
    const built = await sandbox.exec(hostile(canary.dir));
    expect(built.output.trim()).toBe("built");
    const meta = JSON.parse(readFileSync(join(h.root, sandbox.id, "meta.json"), "utf8")) as { uid: number };

    await h.provider.delete(sandbox.id);

    expect(canary.intact()).toBe(true);
    expect(existsSync(join(h.root, sandbox.id))).toBe(false);
    expect(readdirSync(join(h.root, ".trash"))).toEqual([]);
    if (process.getuid?.() === 0) expect(existsSync(join(h.root, ".uids", String(meta.uid)))).toBe(false);
    expect((await h.provider.list({})).map((s) => s.id)).not.toContain(sandbox.id);
  });
});

describe("removeTree as an ordinary user (OpenCode not root)", { timeout: 300_000 }, () => {
  if (lacks(missingRoot(), missingCommand("setpriv"))) return;
  const USER = "65534";
  const as = (command: string, args: string[], env: Record<string, string> = {}) =>
    execFileSync("setpriv", [`--reuid=${USER}`, `--regid=${USER}`, "--clear-groups", "--", command, ...args], {
      env: { PATH: process.env.PATH, HOME: "/tmp", ...env },
      encoding: "utf8",
    });

  it("opens up directories of mode 000 at any depth and removes them; symlinks out are not followed", async () => {
    const canary = await canaries();
    const dir = await mkdtemp("/tmp/ocsb-user-rm-");
    execFileSync("chown", [USER, dir]);
    as("perl", ["-e", `chdir "${dir}"; mkdir "t"; chdir "t"; symlink("${canary.dir}", "out"); for (1..${DEPTH}) { mkdir "d" or die; chdir "d" or die } open(F, ">f"); close F; chmod(0, ".")`]);
    as("chmod", ["000", join(dir, "t")]);
    // Plain rm cannot, as that user: the trap is real.
    expect(() => as("rm", ["-rf", join(dir, "t")], {})).toThrow();
    const OPENCODE = join(process.cwd(), "node_modules/opencode-linux-x64/bin/opencode");
    const out = as(OPENCODE, [join(process.cwd(), "test/support/remove-tree-child.ts")], { BUN_BE_BUN: "1", OCSB_PATH: join(dir, "t") });
    expect(JSON.parse(out.trim().split("\n").at(-1)!)).toEqual({ removed: true });
    expect(existsSync(join(dir, "t"))).toBe(false);
    expect(canary.intact()).toBe(true);
    await rm(dir, { recursive: true, force: true });
  });
});

describe("a sandbox whose directory holds a mount point", { timeout: 300_000 }, () => {
  if (lacks(missingBwrap(), missingRoot())) return;
  let base: string;
  let stateDir: string;
  const log = memoryLogger();
  const mounts: string[] = [];

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), "ocsb-del-"));
    stateDir = await mkdtemp(join(tmpdir(), "ocsb-del-state-"));
  });
  afterAll(async () => {
    for (const m of mounts) {
      try {
        execFileSync("umount", ["-l", m], { stdio: "ignore" });
      } catch {}
    }
    await rm(base, { recursive: true, force: true });
    await rm(stateDir, { recursive: true, force: true });
    await cleanupAll();
  });

  it("is deleted all the same: the mapping and the uid are freed, the mount's files are not touched, the leftover is reported and removed later", async () => {
    const repo = await makeRepo();
    const canary = await canaries();
    const kit = sessionKit({ repo, base, stateDir, log });
    const sandbox = await kit.manager.sandboxFor("ses_del");
    const id = (await kit.store.read()).sessions.ses_del.sandboxId;
    expect((await sandbox.exec(hostile(canary.dir))).output.trim()).toBe("built");
    const meta = JSON.parse(readFileSync(join(base, id, "meta.json"), "utf8")) as { uid: number };
    // A mount below the sandbox's directory (as a crashed unmount step would leave one):
    // removal must not descend into it, and must not be stopped by it.
    const point = join(base, id, "etc", "mnt");
    mkdirSync(point);
    execFileSync("mount", ["--bind", canary.dir, point]);
    mounts.push(point);

    await kit.manager.delete("ses_del");

    expect((await kit.store.read()).sessions.ses_del).toBeUndefined();
    expect(existsSync(join(base, ".uids", String(meta.uid)))).toBe(false);
    expect(existsSync(join(base, id))).toBe(false);
    expect(canary.intact()).toBe(true);
    const left = readdirSync(join(base, ".trash"));
    expect(left.length).toBe(1);
    expect(log.lines.join("\n")).toMatch(new RegExp(`warn local sandbox ${id} deleted, but not all its files could be removed \\(still mounted`));
    // The mount moved with the directory: release it, as an unmount step retried would.
    const moved = join(base, ".trash", left[0], "etc", "mnt");
    execFileSync("umount", [moved]);
    expect(canary.intact()).toBe(true);

    // The next start of a provider on this root tries again, and succeeds.
    const again = sessionKit({ repo, base, stateDir, log });
    await again.manager.sandboxFor("ses_next");
    expect(readdirSync(join(base, ".trash"))).toEqual([]);
    await again.manager.delete("ses_next");
    await again.provider.dispose();
    await kit.provider.dispose();
    git(repo, "status");
  });
});
