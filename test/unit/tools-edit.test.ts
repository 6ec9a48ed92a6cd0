/**
 * edit (and write) on the directory-backed double. File results and error texts are the
 * ones OpenCode 1.18.33's built-in produced for the same calls (recorded with a scripted
 * model), except where a test says it deviates on purpose.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ERR_EMPTY_OLD,
  ERR_IDENTICAL,
  ERR_MULTIPLE,
  ERR_NOT_FOUND,
  ERR_TOO_LARGE,
  replace,
} from "../../.opencode/plugin/sandbox/tools/edit-replacers.js";
import { editTool } from "../../.opencode/plugin/sandbox/tools/edit.js";
import { writeTool } from "../../.opencode/plugin/sandbox/tools/write.js";
import { fakeCtx, HOST_DIR, makeEnv, run, type Env } from "./tools-sandbox-harness.js";

const H = HOST_DIR;
let env: Env;

const SEED: Record<string, string> = {
  "a.txt": "line1\nline2\nline3\n",
  "crlf.txt": "one\r\ntwo\r\nthree\r\n",
  "indent.ts": "function f() {\n    if (x) {\n        return 1;\n    }\n}\n",
  "dollar.txt": "price = 5\n",
  "multi.txt": "foo\nfoo\n",
  "ws.txt": "  alpha   beta  \n",
  "anchor.ts": "function a() {\n  const x = 1;\n  const y = 2;\n  return x + y;\n}\n",
  "bom.txt": "\uFEFFhello\nworld\n",
  "empty.txt": "",
  "tabs.py": "def f():\n\tif x:\n\t\treturn 1\n",
  "escaped.ts": 'const s = "a\\nb";\n',
  "dir/keep.txt": "k\n",
};

beforeEach(async () => {
  env = await makeEnv();
  for (const [p, c] of Object.entries(SEED)) {
    mkdirSync(dirname(join(env.root, p)), { recursive: true });
    writeFileSync(join(env.root, p), c);
  }
});
afterEach(async () => env.cleanup());

const content = (p: string) => readFileSync(join(env.root, p), "utf8");

describe("edit: results like the built-in", () => {
  it.each([
    ["exact, unique", "a.txt", "line2", "LINE2", false, "line1\nLINE2\nline3\n"],
    ["CRLF file, LF oldString/newString: stays CRLF", "crlf.txt", "one\ntwo", "uno\ndos", false, "uno\r\ndos\r\nthree\r\n"],
    ["CRLF file, CRLF oldString", "crlf.txt", "two\r\nthree", "2\r\n3", false, "one\r\n2\r\n3\r\n"],
    [
      "indentation-shifted oldString (built-in inserts newString as given)",
      "indent.ts",
      "if (x) {\n    return 1;\n}",
      "if (y) {\n    return 2;\n}",
      false,
      "function f() {\nif (y) {\n    return 2;\n}\n}\n",
    ],
    ["trimmed-line match", "indent.ts", "return 1;", "return 7;", false, "function f() {\n    if (x) {\n        return 7;\n    }\n}\n"],
    ["$ patterns are literal", "dollar.txt", "5", "$& $1 $$ $'", false, "price = $& $1 $$ $'\n"],
    // Deliberate deviation: the built-in's replaceAll goes through String.replaceAll and turns "$&-$$" into "foo-$".
    ["replaceAll with $ patterns stays literal", "multi.txt", "foo", "$&-$$", true, "$&-$$\n$&-$$\n"],
    ["replaceAll", "multi.txt", "foo", "bar", true, "bar\nbar\n"],
    ["whitespace-normalised match takes the whole line", "ws.txt", "alpha beta", "gamma", false, "gamma\n"],
    [
      "block anchors with a fuzzy middle",
      "anchor.ts",
      "function a() {\n  const x = 1;\n  const yy = 2;\n  return x + y;\n}",
      "function a() {\n  return 3;\n}",
      false,
      "function a() {\n  return 3;\n}\n",
    ],
    ["tabs kept around the match", "tabs.py", "if x:\n\t\treturn 1", "if y:\n\t\treturn 2", false, "def f():\n\tif y:\n\t\treturn 2\n"],
    ["escaped oldString matches the real text", "escaped.ts", 'const s = \\"a\\\\nb\\";', 'const s = "c";', false, 'const s = "c";\n'],
    ["BOM kept", "bom.txt", "world", "earth", false, "\uFEFFhello\nearth\n"],
  ] as const)("%s", async (_name, path, oldString, newString, replaceAll, expected) => {
    const { ctx } = fakeCtx();
    const result = await run(editTool(env.deps), { filePath: `${H}/${path}`, oldString, newString, replaceAll }, ctx);
    expect(result.output).toBe("Edit applied successfully.");
    expect(result.title).toBe(path);
    expect(content(path)).toBe(expected);
  });

  it.each([
    ["not found", { filePath: `${H}/a.txt`, oldString: "nope", newString: "x" }, ERR_NOT_FOUND],
    ["several matches", { filePath: `${H}/multi.txt`, oldString: "foo", newString: "bar" }, ERR_MULTIPLE],
    ["oldString === newString", { filePath: `${H}/a.txt`, oldString: "line1", newString: "line1" }, ERR_IDENTICAL],
    ["empty oldString on an existing file", { filePath: `${H}/a.txt`, oldString: "", newString: "x" }, ERR_EMPTY_OLD],
    ["empty oldString on an existing empty file", { filePath: `${H}/empty.txt`, oldString: "", newString: "x" }, ERR_EMPTY_OLD],
    ["missing file", { filePath: `${H}/missing.txt`, oldString: "a", newString: "b" }, `File ${H}/missing.txt not found`],
    ["directory", { filePath: `${H}/dir`, oldString: "a", newString: "b" }, `Path is a directory, not a file: ${H}/dir`],
    ["empty file", { filePath: `${H}/empty.txt`, oldString: "a", newString: "b" }, ERR_NOT_FOUND],
    ["empty filePath", { filePath: "", oldString: "a", newString: "b" }, "filePath is required"],
  ])("error: %s", async (_name, args, message) => {
    const before = Object.fromEntries(Object.keys(SEED).map((p) => [p, content(p)]));
    const { ctx } = fakeCtx();
    await expect(run(editTool(env.deps), args, ctx)).rejects.toThrow(new Error(message));
    for (const p of Object.keys(SEED)) expect(content(p)).toBe(before[p]);
  });

  it("empty oldString creates a new file (parent dirs too)", async () => {
    const { ctx } = fakeCtx();
    const result = await run(editTool(env.deps), { filePath: `${H}/new/created.txt`, oldString: "", newString: "hi\n" }, ctx);
    expect(result.output).toBe("Edit applied successfully.");
    expect(content("new/created.txt")).toBe("hi\n");
  });

  it("relative filePath resolves against the project", async () => {
    const { ctx } = fakeCtx();
    await run(editTool(env.deps), { filePath: "a.txt", oldString: "line3", newString: "end" }, ctx);
    expect(content("a.txt")).toBe("line1\nline2\nend\n");
  });

  it("asks `edit` with the relative path and a diff; metadata carries filediff", async () => {
    const { ctx, asks, metadata } = fakeCtx();
    const result = await run(editTool(env.deps), { filePath: `${H}/a.txt`, oldString: "line2", newString: "two" }, ctx);
    expect(asks).toHaveLength(1);
    expect(asks[0]).toMatchObject({ permission: "edit", patterns: ["a.txt"], always: ["*"], metadata: { filepath: `${H}/a.txt` } });
    const diff = asks[0].metadata.diff as string;
    expect(diff).toContain(`Index: ${H}/a.txt`);
    expect(diff).toContain("-line2\n+two");
    expect(result.metadata.filediff).toEqual({ file: `${H}/a.txt`, patch: diff, additions: 1, deletions: 1 });
    expect(metadata[0].metadata).toMatchObject({ diff, filediff: { additions: 1, deletions: 1 } });
  });

  it('`"edit": "deny"` blocks the change', async () => {
    const { ctx } = fakeCtx({ deny: (r) => r.permission === "edit" });
    await expect(run(editTool(env.deps), { filePath: `${H}/a.txt`, oldString: "line2", newString: "x" }, ctx)).rejects.toThrow(/denied/);
    expect(content("a.txt")).toBe(SEED["a.txt"]);
  });

  it("parallel edits of one file both land (per-file lock)", async () => {
    const { ctx } = fakeCtx();
    const tool = editTool(env.deps);
    await Promise.all([
      run(tool, { filePath: `${H}/a.txt`, oldString: "line1", newString: "L1" }, ctx),
      run(tool, { filePath: `${H}/a.txt`, oldString: "line3", newString: "L3" }, ctx),
    ]);
    expect(content("a.txt")).toBe("L1\nline2\nL3\n");
  });

  it("shell metacharacters in the path are just a name", async () => {
    const name = "we ird $(touch pwned) 'q' `x`;|&.txt";
    writeFileSync(join(env.root, name), "v1\n");
    const { ctx } = fakeCtx();
    await run(editTool(env.deps), { filePath: `${H}/${name}`, oldString: "v1", newString: "v2" }, ctx);
    expect(content(name)).toBe("v2\n");
    expect(existsSync(join(env.root, "pwned"))).toBe(false);
  });
});

describe("replace(): the matcher chain", () => {
  it.each([
    ["exact", "a b c", "b", "X", false, "a X c"],
    // as upstream: exact is ambiguous, but the trimmed-line matcher's span "  x = 1" is unique
    ["an ambiguous exact match can resolve through a fuzzy matcher", "  x = 1\nx = 1\n", "x = 1", "y", false, "y\nx = 1\n"],
    ["trailing newline in oldString", "a\nb\nc\n", "b\n", "B\n", false, "a\nB\nc\n"],
    ["replaceAll on a fuzzy span", "  foo  \nbar\n  foo  \n", "foo", "x", true, "  x  \nbar\n  x  \n"],
    // whitespace-only oldString collapses to an empty span; same positions as upstream's replaceAll("", …)
    ["replaceAll with an empty-string span", "ab", "\n", "$", true, "$a$b$"],
    ["unicode kept", "héllo wörld\n", "wörld", "мир", false, "héllo мир\n"],
    ["$$ literal", "x", "x", "$$", false, "$$"],
    [
      "refuses a fuzzy span far larger than oldString",
      "function a() {\n" + "  body;\n".repeat(10) + "}\n",
      "function a() {\n  zzz;\n}",
      "x",
      false,
      ERR_NOT_FOUND,
    ],
  ] as const)("%s", (_name, text, oldString, newString, all, expected) => {
    if (expected.startsWith("Could not") || expected.startsWith("Found") || expected.startsWith("Refusing"))
      expect(() => replace(text, oldString, newString, all)).toThrow(new Error(expected));
    else expect(replace(text, oldString, newString, all)).toBe(expected);
  });

  it("refuses when a matcher's span is much larger than oldString", () => {
    // escape-normalised: "\\n" in oldString becomes a newline; the span grows by many lines
    const text = "a\n\n\n\n\nb\n";
    expect(() => replace(text, "a\\n\\n\\n\\n\\nb", "x")).toThrow(new Error(ERR_TOO_LARGE));
  });
});

describe("write", () => {
  it.each([
    ["creates parent directories", `${H}/nested/deep/new.txt`, "content", "nested/deep/new.txt", "content", false],
    ["overwrites", `${H}/a.txt`, "replaced\n", "a.txt", "replaced\n", true],
    ["relative path", "rel/w.txt", "rel", "rel/w.txt", "rel", false],
    ["keeps an existing BOM", `${H}/bom.txt`, "new\n", "bom.txt", "\uFEFFnew\n", true],
    ["dollar signs literal", `${H}/d.txt`, "$& $1 $$", "d.txt", "$& $1 $$", false],
  ])("%s", async (_name, filePath, text, path, expected, exists) => {
    const { ctx, asks } = fakeCtx();
    const result = await run(writeTool(env.deps), { filePath, content: text }, ctx);
    expect(result.output).toBe("Wrote file successfully.");
    expect(result.title).toBe(path);
    expect(result.metadata).toEqual({ diagnostics: {}, filepath: `${H}/${path}`, exists });
    expect(content(path)).toBe(expected);
    expect(asks).toEqual([
      expect.objectContaining({ permission: "edit", patterns: [path], always: ["*"], metadata: expect.objectContaining({ filepath: `${H}/${path}` }) }),
    ]);
  });

  it("a directory: the built-in's error", async () => {
    const { ctx } = fakeCtx();
    await expect(run(writeTool(env.deps), { filePath: `${H}/dir`, content: "x" }, ctx)).rejects.toThrow(
      new Error(`BadResource: FileSystem.readFile (${H}/dir)`),
    );
  });

  it('`"edit": "deny"` blocks the write', async () => {
    const { ctx } = fakeCtx({ deny: (r) => r.permission === "edit" });
    await expect(run(writeTool(env.deps), { filePath: `${H}/x.txt`, content: "x" }, ctx)).rejects.toThrow(/denied/);
    expect(existsSync(join(env.root, "x.txt"))).toBe(false);
  });

  it("outside the project: external_directory first; denied → nothing written", async () => {
    const target = join(env.root, "..", "outside-write.txt");
    const { ctx, asks } = fakeCtx({ deny: (r) => r.permission === "external_directory" });
    await expect(run(writeTool(env.deps), { filePath: target, content: "x" }, ctx)).rejects.toThrow(/external_directory/);
    expect(asks.map((a) => a.permission)).toEqual(["external_directory"]);
    expect(existsSync(target)).toBe(false);
  });

  it("writes 10 MB and invalid-UTF-8-free content exactly", async () => {
    const big = "y".repeat(10 * 1024 * 1024);
    const { ctx } = fakeCtx();
    await run(writeTool(env.deps), { filePath: `${H}/big.txt`, content: big }, ctx);
    expect(content("big.txt").length).toBe(big.length);
  });

  afterEach(() => rmSync(join(env.root, "..", "outside-write.txt"), { force: true }));
});

describe("metadata diff (jsdiff createTwoFilesPatch + trimDiff, as recorded from the built-in)", () => {
  const head = (f: string) => `Index: ${f}\n===================================================================\n--- ${f}\n+++ ${f}\n`;
  it.each([
    ["changed lines", "one\ntwo\nthree\n", "uno\ndos\nthree\n", "@@ -1,3 +1,3 @@\n-one\n-two\n+uno\n+dos\n three\n", 2, 2],
    [
      "fuzzy block replaced",
      "function a() {\n  const x = 1;\n  const y = 2;\n  return x + y;\n}\n",
      "function a() {\n  return 3;\n}\n",
      "@@ -1,5 +1,3 @@\n function a() {\n-  const x = 1;\n-  const y = 2;\n-  return x + y;\n+  return 3;\n }\n",
      1,
      3,
    ],
    ["new file", "", "hi\n", "@@ -0,0 +1,1 @@\n+hi\n", 1, 0],
    ["deleted file", "delete me\nplease\n", "", "@@ -1,2 +0,0 @@\n-delete me\n-please\n", 0, 2],
    ["common indentation trimmed", "  alpha   beta  \n", "gamma\n", "@@ -1,1 +1,1 @@\n-  alpha   beta  \n+gamma\n", 1, 1],
    // not recorded: jsdiff's marker for a missing final newline
    ["no final newline", "a\nb", "a\nc", "@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n", 1, 1],
  ])("%s", async (_name, before, after, hunks, additions, deletions) => {
    const { fileDiff } = await import("../../.opencode/plugin/sandbox/tools/file-util.js");
    expect(fileDiff("/p/f", before, after)).toEqual({ diff: head("/p/f") + hunks, additions, deletions });
  });
});

describe("abort", () => {
  it("an aborted call writes nothing", async () => {
    const { ctx, controller } = fakeCtx();
    controller.abort();
    await expect(run(writeTool(env.deps), { filePath: `${H}/aborted.txt`, content: "x" }, ctx)).rejects.toThrow(/Abort/);
    await expect(run(editTool(env.deps), { filePath: `${H}/a.txt`, oldString: "line1", newString: "x" }, ctx)).rejects.toThrow(/Abort/);
    expect(existsSync(join(env.root, "aborted.txt"))).toBe(false);
    expect(content("a.txt")).toBe(SEED["a.txt"]);
  });
});
