/**
 * apply-files.ts with real git, host only: the session's tip is made from a second
 * folder (as a sandbox's commit would be, on top of the base), then applied to the
 * user's folder — shapes a three-way apply must get right, all or nothing.
 */
import { chmod, lstat, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { applyFiles } from "../../.opencode/plugin/sandbox/git/apply-files.js";
import { filesSnapshot } from "../../.opencode/plugin/sandbox/git/files-snapshot.js";
import { openPrivateRepo } from "../../.opencode/plugin/sandbox/git/private-repo.js";
import { cleanupAll, tempDir } from "./git-support.js";

afterAll(cleanupAll);

const identity = { name: "T", email: "t@example.com" };
const opts = { copyIgnored: [], limitBytes: 1 << 30, identity };

async function put(dir: string, files: Record<string, string>) {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(dir, name, ".."), { recursive: true });
    await writeFile(join(dir, name), content);
  }
}

async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }))
    if (!e.isDirectory()) out.push(`${join(e.parentPath, e.name).slice(dir.length + 1)}=${await readFile(join(e.parentPath, e.name), "utf8")}`);
  return out.sort();
}

describe("applying a session's files", () => {
  it.each([
    ["a directory the agent replaced by a file", { "d/x": "x" }, {}, { d: "now a file" }, "applied", ["d=now a file"]],
    ["a file the agent replaced by a directory", { f: "f" }, {}, { "f/y": "y" }, "applied", ["f/y=y"]],
    // The user's ignored file inside: the directory cannot give way without losing it.
    ["a directory holding the user's ignored file, where the agent puts a file", { ".gitignore": "*.log\n", "d/x": "x" }, { "d/keep.log": "mine" }, { ".gitignore": "*.log\n", d: "file" }, "changed", [".gitignore=*.log\n", "d/keep.log=mine", "d/x=x"]],
    // An ignored file is not in the snapshot: the agent's file of that name must not overwrite it (a .env, say).
    ["a new file where the user has an ignored one", { ".gitignore": "*.log\n" }, { "new.log": "secret" }, { ".gitignore": "", "new.log": "agent" }, "changed", [".gitignore=*.log\n", "new.log=secret"]],
  ])("%s", async (_name, base, userOnly, theirs, kind, after) => {
    const folder = await tempDir("apply-f-");
    const scratch = await tempDir("apply-s-");
    const repo = await openPrivateRepo({ directory: folder, key: "dir-test", dir: await tempDir("apply-r-") });
    await put(folder, base);
    const seed = await filesSnapshot(repo, { ...opts, message: "base" });
    await put(folder, userOnly);
    await put(scratch, theirs);
    const tip = await filesSnapshot({ ...repo, directory: scratch }, { ...opts, message: "agent", parent: seed.commit });
    const outcome = await applyFiles({ files: repo, base: seed.commit, theirs: tip.commit, ...opts });
    expect(outcome.kind).toBe(kind);
    expect(await listing(folder)).toEqual(after);
  });

  it("keeps the executable bit the agent set", async () => {
    const folder = await tempDir("apply-f-");
    const scratch = await tempDir("apply-s-");
    const repo = await openPrivateRepo({ directory: folder, key: "dir-test", dir: await tempDir("apply-r-") });
    await put(folder, { "a.txt": "a" });
    const seed = await filesSnapshot(repo, { ...opts, message: "base" });
    await put(scratch, { "a.txt": "a", "run.sh": "#!/bin/sh\necho hi\n" });
    await chmod(join(scratch, "run.sh"), 0o755);
    const tip = await filesSnapshot({ ...repo, directory: scratch }, { ...opts, message: "agent", parent: seed.commit });
    expect((await applyFiles({ files: repo, base: seed.commit, theirs: tip.commit, ...opts })).kind).toBe("applied");
    expect((await lstat(join(folder, "run.sh"))).mode & 0o111).not.toBe(0);
  });
});
