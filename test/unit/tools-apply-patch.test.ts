/**
 * apply_patch on the directory-backed double. Outputs, errors and resulting files are the
 * ones OpenCode 1.18.33's built-in produced for the same patches (recorded with a scripted
 * gpt-* model), with the project path replaced by HOST_DIR.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { applyPatchTool } from "../../.opencode/plugin/sandbox/tools/apply-patch.js";
import { parsePatch } from "../../.opencode/plugin/sandbox/tools/patch-parser.js";
import { fakeCtx, HOST_DIR, makeEnv, run, type Env } from "./tools-sandbox-harness.js";

const H = HOST_DIR;
const B = "*** Begin Patch";
const E = "*** End Patch";
const patch = (...lines: string[]) => [B, ...lines, E].join("\n");
let env: Env;

const SEED: Record<string, string> = {
  "patch/a.py": 'def greet():\n    print("Hi")\n\ndef other():\n    return 1\n',
  "patch/move.txt": "move me\n",
  "patch/del.txt": "delete me\nplease\n",
  "patch/crlf.txt": "x\r\ny\r\n",
  "patch/bom.txt": "\uFEFFone\ntwo\n",
  "patch/quotes.txt": "say \u201chello\u201d \u2014 ok\n",
};

beforeEach(async () => {
  env = await makeEnv();
  for (const [p, c] of Object.entries(SEED)) {
    mkdirSync(dirname(join(env.root, p)), { recursive: true });
    writeFileSync(join(env.root, p), c);
  }
  mkdirSync(join(env.root, "patch/dir-not-file"));
});
afterEach(async () => env.cleanup());

const content = (p: string) => readFileSync(join(env.root, p), "utf8");
const apply = async (patchText: string, options: Parameters<typeof fakeCtx>[0] = {}) => {
  const c = fakeCtx(options);
  return { result: await run(applyPatchTool(env.deps), { patchText }, c.ctx), ...c };
};

describe("apply_patch: changes like the built-in", () => {
  it.each([
    ["add", patch("*** Add File: patch/hello.txt", "+Hello world", "+second"), "A patch/hello.txt", { "patch/hello.txt": "Hello world\nsecond\n" }],
    [
      "update with @@ context",
      patch("*** Update File: patch/a.py", "@@ def greet():", '-    print("Hi")', '+    print("Hello, world!")'),
      "M patch/a.py",
      { "patch/a.py": 'def greet():\n    print("Hello, world!")\n\ndef other():\n    return 1\n' },
    ],
    [
      "update + move",
      patch("*** Update File: patch/move.txt", "*** Move to: patch/moved/there.txt", "@@", "-move me", "+moved"),
      "M patch/moved/there.txt",
      { "patch/moved/there.txt": "moved\n", "patch/move.txt": null },
    ],
    ["delete", patch("*** Delete File: patch/del.txt"), "D patch/del.txt", { "patch/del.txt": null }],
    // CRLF file, LF patch: the matched line loses its \r like upstream (trimEnd comparison)
    ["CRLF file", patch("*** Update File: patch/crlf.txt", "@@", "-x", "+z"), "M patch/crlf.txt", { "patch/crlf.txt": "z\ny\r\n" }],
    [
      "absolute path + pure insertion at the end",
      patch(`*** Add File: ${H}/patch/abs.txt`, "+abs", "*** Update File: patch/a.py", "@@", "+appended"),
      "A patch/abs.txt\nM patch/a.py",
      { "patch/abs.txt": "abs\n", "patch/a.py": SEED["patch/a.py"] + "appended\n" },
    ],
    ["empty added file", patch("*** Add File: patch/empty.txt"), "A patch/empty.txt", { "patch/empty.txt": "" }],
    ["BOM kept on update", patch("*** Update File: patch/bom.txt", "@@", "-two", "+2"), "M patch/bom.txt", { "patch/bom.txt": "\uFEFFone\n2\n" }],
    [
      "typographic punctuation matches ASCII",
      patch("*** Update File: patch/quotes.txt", "@@", '-say "hello" - ok', "+said"),
      "M patch/quotes.txt",
      { "patch/quotes.txt": "said\n" },
    ],
    [
      "heredoc-wrapped patch",
      `<<'EOF'\n${patch("*** Add File: patch/h.txt", "+h")}\nEOF`,
      "A patch/h.txt",
      { "patch/h.txt": "h\n" },
    ],
    ["CRLF patch text", patch("*** Add File: patch/c.txt", "+c").replaceAll("\n", "\r\n"), "A patch/c.txt", { "patch/c.txt": "c\r\n" }],
    [
      "$ patterns literal",
      patch("*** Update File: patch/move.txt", "@@", "-move me", "+$& $1 $$"),
      "M patch/move.txt",
      { "patch/move.txt": "$& $1 $$\n" },
    ],
  ] as const)("%s", async (_name, patchText, summary, files) => {
    const { result } = await apply(patchText);
    expect(result.output).toBe(`Success. Updated the following files:\n${summary}`);
    expect(result.title).toBe(result.output);
    for (const [p, c] of Object.entries(files)) {
      if (c === null) expect(existsSync(join(env.root, p))).toBe(false);
      else expect(content(p)).toBe(c);
    }
  });

  it.each([
    ["no markers", "no markers", "apply_patch verification failed: Error: Invalid patch format: missing Begin/End markers"],
    ["empty patch", patch(), "patch rejected: empty patch"],
    ["no hunks", patch("garbage"), "apply_patch verification failed: no hunks found"],
    ["empty patchText", "", "patchText is required"],
    [
      "update of a missing file",
      patch("*** Update File: patch/nope.txt", "@@", "-a", "+b"),
      `apply_patch verification failed: Failed to read file to update: ${H}/patch/nope.txt`,
    ],
    [
      "update of a directory",
      patch("*** Update File: patch/dir-not-file", "@@", "-a", "+b"),
      `apply_patch verification failed: Failed to read file to update: ${H}/patch/dir-not-file`,
    ],
    ["delete of a missing file", patch("*** Delete File: patch/nope.txt"), `apply_patch verification failed: NotFound: FileSystem.readFile (${H}/patch/nope.txt)`],
    [
      "context not found",
      patch("*** Update File: patch/a.py", "@@ def missing():", "-x", "+y"),
      `apply_patch verification failed: Error: Failed to find context 'def missing():' in ${H}/patch/a.py`,
    ],
    [
      "lines not found",
      patch("*** Update File: patch/a.py", "@@", "-not there", "+y"),
      `apply_patch verification failed: Error: Failed to find expected lines in ${H}/patch/a.py:\nnot there`,
    ],
  ])("error: %s", async (_name, patchText, message) => {
    await expect(apply(patchText)).rejects.toThrow(new Error(message));
  });

  it("verifies everything before writing anything", async () => {
    await expect(apply(patch("*** Add File: patch/new.txt", "+n", "*** Update File: patch/a.py", "@@", "-nope", "+x"))).rejects.toThrow(
      /Failed to find expected lines/,
    );
    expect(existsSync(join(env.root, "patch/new.txt"))).toBe(false);
  });
});

describe("apply_patch: permissions and paths", () => {
  it("one `edit` ask for all files, relative patterns, diff and files metadata", async () => {
    const { asks, result } = await apply(
      patch("*** Add File: patch/n.txt", "+n", "*** Update File: patch/move.txt", "*** Move to: patch/m2.txt", "@@", "-move me", "+m", "*** Delete File: patch/del.txt"),
    );
    expect(asks).toHaveLength(1);
    expect(asks[0]).toMatchObject({
      permission: "edit",
      patterns: ["patch/n.txt", "patch/move.txt", "patch/del.txt"],
      always: ["*"],
      metadata: { filepath: "patch/n.txt, patch/move.txt, patch/del.txt" },
    });
    const files = asks[0].metadata.files as Record<string, unknown>[];
    expect(files.map((f) => [f.type, f.relativePath, f.additions, f.deletions])).toEqual([
      ["add", "patch/n.txt", 1, 0],
      ["move", "patch/m2.txt", 1, 1],
      ["delete", "patch/del.txt", 0, 3],
    ]);
    expect(files[1]).toMatchObject({ filePath: `${H}/patch/move.txt`, movePath: `${H}/patch/m2.txt` });
    expect(result.metadata.diff).toBe(asks[0].metadata.diff);
  });

  it('`"edit": "deny"` blocks every change', async () => {
    await expect(apply(patch("*** Add File: patch/x.txt", "+x", "*** Delete File: patch/del.txt"), { deny: (r) => r.permission === "edit" })).rejects.toThrow(
      /denied/,
    );
    expect(existsSync(join(env.root, "patch/x.txt"))).toBe(false);
    expect(content("patch/del.txt")).toBe(SEED["patch/del.txt"]);
  });

  it("paths escaping the project ask external_directory (denied → nothing written)", async () => {
    await expect(apply(patch("*** Add File: ../../escape.txt", "+x"), { deny: (r) => r.permission === "external_directory" })).rejects.toThrow(
      /external_directory/,
    );
    expect(existsSync("/escape.txt")).toBe(false);
  });

  it("shell metacharacters in deleted/moved names are never interpreted", async () => {
    const name = "patch/x $(touch pwned) 'q' `y`;|&.txt";
    writeFileSync(join(env.root, name), "v\n");
    const { result } = await apply(
      patch(`*** Update File: ${name}`, `*** Move to: ${name}.moved`, "@@", "-v", "+w", `*** Delete File: patch/del.txt`),
    );
    expect(result.output).toContain(`M ${name}.moved`);
    expect(existsSync(join(env.root, name))).toBe(false);
    expect(content(`${name}.moved`)).toBe("w\n");
    expect(existsSync(join(env.root, "pwned"))).toBe(false);
    expect(existsSync(join(env.root, "patch/pwned"))).toBe(false);
  });

  it("a malformed patch never asks for a sandbox", async () => {
    let asked = 0;
    const tool = applyPatchTool({ ...env.deps, sandboxFor: async (id) => (asked++, env.deps.sandboxFor(id)) });
    await expect(run(tool, { patchText: "nope" }, fakeCtx().ctx)).rejects.toThrow(/missing Begin\/End markers/);
    expect(asked).toBe(0);
  });
});

describe("parsePatch", () => {
  it.each([
    ["skips unknown lines and empty headers", patch("junk", "*** Add File:", "*** Delete File: a"), [{ type: "delete", path: "a" }]],
    [
      "ignores '*** End of File' like upstream",
      patch("*** Update File: f", "@@", "-a", "+b", "*** End of File"),
      [{ type: "update", path: "f", movePath: undefined, chunks: [{ oldLines: ["a"], newLines: ["b"], changeContext: undefined, isEndOfFile: undefined }] }],
    ],
    [
      "context lines go to both sides; blank hunk lines are dropped",
      patch("*** Update File: f", "@@ ctx", " keep", "", "-old", "+new"),
      [{ type: "update", path: "f", movePath: undefined, chunks: [{ oldLines: ["keep", "old"], newLines: ["keep", "new"], changeContext: "ctx", isEndOfFile: undefined }] }],
    ],
    ["markers may be indented", `  ${B}\n*** Delete File: x\n  ${E}  `, [{ type: "delete", path: "x" }]],
  ] as const)("%s", (_name, text, hunks) => {
    expect(parsePatch(text)).toEqual(hunks);
  });
});
