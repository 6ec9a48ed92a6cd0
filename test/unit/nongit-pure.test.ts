/** Projects without git, the pure parts: their key, merge-tree's answer, the words users read. */
import { mkdir, mkdtemp, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { projectKey } from "../../.opencode/plugin/sandbox/core/project-key.js";
import { parseMergeTree } from "../../.opencode/plugin/sandbox/git/apply-files.js";
import { words, type Notice } from "../../.opencode/plugin/sandbox/service/notices.js";

describe("projectKey", async () => {
  const root = await mkdtemp(join(tmpdir(), "project-key-"));
  await mkdir(join(root, "one"));
  await mkdir(join(root, "two"));
  await symlink(join(root, "one"), join(root, "link-to-one"));
  const one = await projectKey("global", join(root, "one"));

  it.each([
    ["a git project keeps OpenCode's id", "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "one", "4b825dc642cb6eb9a060e54bf8d69288fbee4904"],
    ['"global" becomes the folder\'s own key', "global", "one", one],
    ["no id at all: the same", undefined, "one", one],
    ["the same folder through a symlink: the same key", "global", "link-to-one", one],
  ])("%s", async (_name, id, dir, want) => {
    expect(await projectKey(id, join(root, dir))).toBe(want);
  });

  it("two folders never share a key, and a key is label-safe", async () => {
    const two = await projectKey("global", join(root, "two"));
    expect(two).not.toBe(one);
    for (const k of [one, two]) expect(k).toMatch(/^dir-[0-9a-f]{16}$/);
  });
});

describe("parseMergeTree", () => {
  it.each([
    ["a clean merge", "9709415127\0", { tree: "9709415127", conflicts: [] }],
    [
      "a content conflict, with the message that explains it",
      "97094\0a\0\x001\0a\0Auto-merging\0Auto-merging a\n\x001\0a\0CONFLICT (contents)\0CONFLICT (content): Merge conflict in a\n\0",
      { tree: "97094", conflicts: [{ path: "a", why: "CONFLICT (content): Merge conflict in a" }] },
    ],
    [
      "a path without a message",
      "97094\0b\0\0",
      { tree: "97094", conflicts: [{ path: "b", why: "changed on both sides" }] },
    ],
  ])("%s", (_name, out, want) => {
    expect(parseMergeTree(out)).toEqual(want);
  });
});

describe("what the user is told", () => {
  const advanced = { kind: "advanced", branch: "opencode/2", to: "abc" } as const;
  it.each<[string, Notice, RegExp | undefined]>([
    ["a folder without git, once", { kind: "files_project", directory: "/home/u/notes" }, /\/home\/u\/notes is not a git repository.*never written here by itself.*opencode-sandboxed diff.*opencode-sandboxed apply.*git init/],
    ["work kept aside after a sync", { kind: "synced", sessionID: "ses_1", title: "T", outcome: advanced, files: true }, /^Session "T": work saved as opencode\/2; your files are untouched\..*apply opencode\/2$/],
    ["a side branch kept aside", { kind: "synced", sessionID: "ses_1", outcome: { kind: "diverted", branch: "opencode/2", sideBranch: "opencode/2-sandbox-1", created: true, reason: "rewritten" }, files: true }, /work saved as opencode\/2-sandbox-1/],
    ["nothing new: silent", { kind: "synced", sessionID: "ses_1", outcome: { kind: "up_to_date", branch: "opencode/2" }, files: true }, undefined],
    ["a git project still speaks of branches", { kind: "synced", sessionID: "ses_1", outcome: advanced }, /git log opencode\/2/],
  ])("%s", (_name, notice, want) => {
    const w = words(notice);
    if (!want) expect(w).toBeUndefined();
    else expect(w?.text).toMatch(want);
  });

  it("the folder notice is told once per project; a size refusal once per message", () => {
    expect(words({ kind: "files_project", directory: "/x" })?.once).toBe("files-project");
    expect(words({ kind: "files_too_large", sessionID: "s", message: "m" })).toMatchObject({ level: "error", text: "m" });
  });
});
