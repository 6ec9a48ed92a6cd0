/** Pure pieces of git sync: bundle headers, pathspecs, sandbox script output, ref names. */
import { describe, expect, it } from "vitest";
import { expectSingleRef, parseBundleHeader } from "../../.opencode/plugin/sandbox/git/bundle.js";
import { blockedMessage, refSafe, sessionRef } from "../../.opencode/plugin/sandbox/git/refs.js";
import { parseMarks } from "../../.opencode/plugin/sandbox/git/sandbox-git.js";
import { ignoredPathspecs } from "../../.opencode/plugin/sandbox/git/snapshot.js";

const A = "a".repeat(40);
const B = "b".repeat(40);

describe("bundle headers", () => {
  it("parses v2 and v3 headers with prerequisites", () => {
    const h = parseBundleHeader(Buffer.from(`# v2 git bundle\n-${B} parent\n${A} refs/opencode-sandboxed/sync\n\nPACK...`));
    expect(h).toEqual({ version: 2, prerequisites: [B], refs: [{ sha: A, name: "refs/opencode-sandboxed/sync" }] });
    const v3 = parseBundleHeader(Buffer.from(`# v3 git bundle\n@object-format=sha1\n${A} refs/x\n\n`));
    expect(v3.refs).toEqual([{ sha: A, name: "refs/x" }]);
  });
  it("rejects what is not a bundle", () => {
    expect(() => parseBundleHeader(Buffer.from("PACK"))).toThrow(/not a git bundle/);
    expect(() => parseBundleHeader(Buffer.from("# v2 git bundle\nnot-a-sha refs/x\n\n"))).toThrow(/bad ref line/);
  });
  it("accepts exactly the one expected ref", () => {
    const one = parseBundleHeader(Buffer.from(`# v2 git bundle\n${A} refs/s\n\n`));
    expect(() => expectSingleRef(one, "refs/s", A)).not.toThrow();
    expect(() => expectSingleRef(one, "refs/s", B)).toThrow(/exactly/);
    expect(() => expectSingleRef(one, "refs/heads/main", A)).toThrow(/exactly/);
  });
});

describe("copyIgnored globs", () => {
  it("match at any depth without a slash, anchored with one", () => {
    expect(ignoredPathspecs([".env", "config/*.local"])).toEqual([":(top,glob).env", ":(top,glob)**/.env", ":(top,glob)config/*.local"]);
    expect(ignoredPathspecs(["", "/"])).toEqual([]);
  });
});

describe("sandbox script output", () => {
  it("collects @@ marks and ignores the rest", () => {
    const marks = parseMarks("noise\n@@HEAD abc\n@@CONFLICT a b.txt\n@@CONFLICT c\n@@ABORTED\n@@lower no\n");
    expect(marks.get("HEAD")).toEqual(["abc"]);
    expect(marks.get("CONFLICT")).toEqual(["a b.txt", "c"]);
    expect(marks.get("ABORTED")).toEqual([""]);
    expect(marks.has("lower")).toBe(false);
  });
});

describe("ref names", () => {
  it("session refs are safe ref components", () => {
    expect(sessionRef("ses_abc-1")).toBe("refs/opencode-sandboxed/sessions/ses_abc-1");
    expect(refSafe("a/b..c d")).toBe("a_b__c_d");
    expect(refSafe("")).toBe("_");
  });
  it("the blocked-branch message names the fix", () => {
    const m = blockedMessage("opencode", "opencode");
    expect(m).toContain("git branch -m opencode opencode-old");
    expect(m).toContain("sync.branchPrefix");
  });
});
