/**
 * read on the directory-backed double. Expected texts were recorded from OpenCode 1.18.33's
 * built-in read (scripted model, same files) with the project path replaced by HOST_DIR.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readTool } from "../../.opencode/plugin/sandbox/tools/read.js";
import { fakeCtx, HOST_DIR, makeEnv, run, type Env } from "./tools-sandbox-harness.js";

const H = HOST_DIR;
let env: Env;
let read: ReturnType<typeof readTool>;

const FILES: Record<string, string | Buffer> = {
  "a.txt": "line1\nline2\nline3\n",
  "crlf.txt": "one\r\ntwo\r\nthree\r\n",
  "empty.txt": "",
  "long.txt": "x".repeat(2500) + "\nshort\n",
  "nul.txt": Buffer.from([0x61, 0x62, 0x00, 0x63, 0x0a]),
  "bin.dat": "plain text actually\n",
  "ctrl.txt": Buffer.from([1, 2, 3, 4, 5, 6, 0x61, 0x0a]),
  "img.png": Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
  "fake.png": "not really a png\n",
  "doc.pdf": "%PDF-1.4\n",
  "pic.svg": "<svg/>\n",
  "dir/f1.txt": "f1\n",
  "dir/sub/f2.txt": "f2\n",
  "dir/B.txt": "b\n",
  "dir/a.txt": "a\n",
  "config.json": "{}\n",
  "config.yaml": "a: 1\n",
  "big.txt": Array.from({ length: 3000 }, (_, i) => `line ${i + 1}`).join("\n") + "\n",
  "wide.txt": Array.from({ length: 100 }, (_, i) => String(i).padEnd(1000, "w")).join("\n") + "\n",
  "bom.txt": "\uFEFFhello\nworld\n",
  "invalid.txt": Buffer.from([0x68, 0xff, 0xfe, 0x69, 0x0a, 0xc3, 0x28, 0x0a]),
  "lone-cr.txt": "a\rb\r\nc\n\nd",
  "trail.txt": "no newline at end",
  "sub/deep/AGENTS.md": "Deep instructions here.\n",
  "sub/deep/code.ts": "export const x = 1;\n",
  "sub/deep/other.ts": "export const y = 2;\n",
  "weird $(touch pwned) 'q' `x`;|&.txt": "weird\n",
};

const file = (lines: string[], trailer: string, path = "a.txt") =>
  `<path>${H}/${path}</path>\n<type>file</type>\n<content>\n${lines.join("\n")}\n\n${trailer}\n</content>`;

beforeAll(async () => {
  env = await makeEnv();
  for (const [p, c] of Object.entries(FILES)) {
    mkdirSync(dirname(join(env.root, p)), { recursive: true });
    writeFileSync(join(env.root, p), c);
  }
  symlinkSync(join(env.root, "dir"), join(env.root, "dir-link"));
  symlinkSync(join(env.root, "nowhere"), join(env.root, "dangling"));
  read = readTool(env.deps);
});
afterAll(async () => env.cleanup());

describe("read: output like the built-in", () => {
  it.each([
    ["absolute path", { filePath: `${H}/a.txt` }, file(["1: line1", "2: line2", "3: line3"], "(End of file - total 3 lines)")],
    ["relative path", { filePath: "a.txt" }, file(["1: line1", "2: line2", "3: line3"], "(End of file - total 3 lines)")],
    ["offset+limit", { filePath: `${H}/a.txt`, offset: 2, limit: 1 }, file(["2: line2"], "(Showing lines 2-2 of 3. Use offset=3 to continue.)")],
    ["offset 0 is 1", { filePath: `${H}/a.txt`, offset: 0 }, file(["1: line1", "2: line2", "3: line3"], "(End of file - total 3 lines)")],
    ["limit 0", { filePath: `${H}/a.txt`, limit: 0 }, file([""], "(Showing lines 1-0 of 3. Use offset=1 to continue.)")],
    ["empty file", { filePath: `${H}/empty.txt` }, file([""], "(End of file - total 0 lines)", "empty.txt")],
    ["CRLF file", { filePath: `${H}/crlf.txt` }, file(["1: one", "2: two", "3: three"], "(End of file - total 3 lines)", "crlf.txt")],
    ["lone CR ends a line", { filePath: `${H}/lone-cr.txt` }, file(["1: a", "2: b", "3: c", "4: ", "5: d"], "(End of file - total 5 lines)", "lone-cr.txt")],
    ["no final newline", { filePath: `${H}/trail.txt` }, file(["1: no newline at end"], "(End of file - total 1 lines)", "trail.txt")],
    ["BOM not shown", { filePath: `${H}/bom.txt` }, file(["1: hello", "2: world"], "(End of file - total 2 lines)", "bom.txt")],
    ["invalid UTF-8 → U+FFFD", { filePath: `${H}/invalid.txt` }, file(["1: h\uFFFD\uFFFDi", "2: \uFFFD("], "(End of file - total 2 lines)", "invalid.txt")],
    ["end of a long file", { filePath: `${H}/big.txt`, offset: 2999, limit: 5 }, file(["2999: line 2999", "3000: line 3000"], "(End of file - total 3000 lines)", "big.txt")],
    [
      "huge line cut at 2000 chars",
      { filePath: `${H}/long.txt` },
      file([`1: ${"x".repeat(2000)}... (line truncated to 2000 chars)`, "2: short"], "(End of file - total 2 lines)", "long.txt"),
    ],
    ["non-normalised absolute path printed as given", { filePath: `${H}/../proj/a.txt` }, file(["1: line1", "2: line2", "3: line3"], "(End of file - total 3 lines)", "../proj/a.txt")],
    [
      "directory",
      { filePath: `${H}/dir` },
      `<path>${H}/dir</path>\n<type>directory</type>\n<entries>\na.txt\nB.txt\nf1.txt\nsub/\n\n(4 entries)\n</entries>`,
    ],
    [
      "directory with offset/limit",
      { filePath: `${H}/dir`, offset: 2, limit: 2 },
      `<path>${H}/dir</path>\n<type>directory</type>\n<entries>\nB.txt\nf1.txt\n\n(Showing 2 of 4 entries. Use 'offset' parameter to read beyond entry 4)\n</entries>`,
    ],
    [
      "directory with trailing slash",
      { filePath: `${H}/dir/` },
      `<path>${H}/dir/</path>\n<type>directory</type>\n<entries>\na.txt\nB.txt\nf1.txt\nsub/\n\n(4 entries)\n</entries>`,
    ],
    [
      "symlink to a directory is listed",
      { filePath: `${H}/dir-link` },
      `<path>${H}/dir-link</path>\n<type>directory</type>\n<entries>\na.txt\nB.txt\nf1.txt\nsub/\n\n(4 entries)\n</entries>`,
    ],
    ["shell metacharacters in the name", { filePath: `${H}/weird $(touch pwned) 'q' \`x\`;|&.txt` }, file(["1: weird"], "(End of file - total 1 lines)", "weird $(touch pwned) 'q' `x`;|&.txt")],
  ] as const)("%s", async (_name, args, expected) => {
    const { ctx } = fakeCtx();
    const result = await run(read, args, ctx);
    expect(result.output).toBe(expected);
    expect(existsSync(join(env.root, "pwned"))).toBe(false);
  });

  it.each([
    ["offset past the end", { filePath: `${H}/a.txt`, offset: 10 }, "Offset 10 is out of range for this file (3 lines)"],
    ["offset 2 of an empty file", { filePath: `${H}/empty.txt`, offset: 2 }, "Offset 2 is out of range for this file (0 lines)"],
    ["NUL byte in the file", { filePath: `${H}/nul.txt` }, `Cannot read binary file: ${H}/nul.txt`],
    ["binary extension", { filePath: `${H}/bin.dat` }, `Cannot read binary file: ${H}/bin.dat`],
    ["control characters", { filePath: `${H}/ctrl.txt` }, `Cannot read binary file: ${H}/ctrl.txt`],
    [
      "missing file, with suggestions",
      { filePath: `${H}/confi` },
      new RegExp(`^File not found: ${H}/confi\n\nDid you mean one of these\\?\n(${H}/config\\.(json|yaml)\n?){2}$`),
    ],
    ["missing file", { filePath: `${H}/nothing-here` }, `File not found: ${H}/nothing-here`],
    // the built-in lists the directory too, so the link's own name comes back as the suggestion
    ["dangling symlink", { filePath: `${H}/dangling` }, `File not found: ${H}/dangling\n\nDid you mean one of these?\n${H}/dangling`],
    ["missing directory", { filePath: `${H}/no/such/dir/x` }, `File not found: ${H}/no/such/dir/x`],
  ] as const)("error: %s", async (_name, args, expected) => {
    const { ctx } = fakeCtx();
    const error = run(read, args, ctx);
    if (typeof expected === "string") await expect(error).rejects.toThrow(new Error(expected));
    else await expect(error).rejects.toThrow(expected);
  });
});

describe("read: images, PDFs, caps", () => {
  it.each([
    ["img.png", "image/png", "Image read successfully"],
    ["fake.png", "image/png", "Image read successfully"],
    ["doc.pdf", "application/pdf", "PDF read successfully"],
  ])("%s is an attachment (%s)", async (name, mime, output) => {
    const { ctx } = fakeCtx();
    const result = await run(read, { filePath: `${H}/${name}` }, ctx);
    expect(result.output).toBe(output);
    expect(result.attachments).toEqual([
      { type: "file", mime, url: `data:${mime};base64,${Buffer.from(FILES[name]).toString("base64")}` },
    ]);
  });

  it("svg is read as text", async () => {
    const { ctx } = fakeCtx();
    expect((await run(read, { filePath: `${H}/pic.svg` }, ctx)).output).toContain("1: <svg/>");
  });

  it("default line cap: stays within OpenCode's 2000-line plugin-output cap and says where to continue", async () => {
    const { ctx } = fakeCtx();
    const result = await run(read, { filePath: `${H}/big.txt` }, ctx);
    const lines = result.output.split("\n");
    expect(lines.length).toBeLessThanOrEqual(2000);
    expect(result.output).toContain("\n1: line 1\n");
    expect(result.output).toMatch(/\n\n\(Showing lines 1-(\d+) of 3000\. Use offset=\d+ to continue\.\)\n<\/content>$/);
    expect(result.metadata.truncated).toBe(true);
  });

  it("50 KB cap", async () => {
    const { ctx } = fakeCtx();
    const result = await run(read, { filePath: `${H}/wide.txt` }, ctx);
    expect(Buffer.byteLength(result.output)).toBeLessThanOrEqual(51200);
    expect(result.output).toMatch(/\n\n\(Output capped at 50 KB\. Showing lines 1-5\d\. Use offset=5\d to continue\.\)\n<\/content>$/);
  });

  it("a 10 MB file answers with its first window, quickly", async () => {
    const big = "0123456789abcdef".repeat(64) + "\n"; // 1025 bytes a line
    writeFileSync(join(env.root, "ten-mb.log"), big.repeat(Math.ceil((10 * 1024 * 1024) / big.length)));
    const { ctx } = fakeCtx();
    const started = Date.now();
    const result = await run(read, { filePath: `${H}/ten-mb.log`, offset: 9000, limit: 3 }, ctx);
    expect(result.output).toContain(`9000: ${big.trimEnd()}`);
    expect(result.output).toMatch(/\(Showing lines 9000-9002 of 10231\. Use offset=9003 to continue\.\)/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

describe("read: permissions, instructions, hostile paths", () => {
  it("asks `read` with the path relative to the worktree, like the built-in", async () => {
    const { ctx, asks } = fakeCtx();
    await run(read, { filePath: `${H}/dir/a.txt` }, ctx);
    expect(asks).toEqual([{ permission: "read", patterns: ["dir/a.txt"], always: ["*"], metadata: {} }]);
  });

  it("a denied read does not return content", async () => {
    const { ctx } = fakeCtx({ deny: (r) => r.permission === "read" });
    await expect(run(read, { filePath: `${H}/a.txt` }, ctx)).rejects.toThrow(/permission denied/);
  });

  it("paths outside the project ask external_directory and read the sandbox's own file", async () => {
    const outside = mkdtempSync(join(tmpdir(), "read-outside-"));
    writeFileSync(join(outside, "x.txt"), "outside\n");
    try {
      const { ctx, asks } = fakeCtx();
      const result = await run(read, { filePath: join(outside, "x.txt") }, ctx);
      expect(result.output).toContain("1: outside");
      expect(asks[0]).toEqual({
        permission: "external_directory",
        patterns: [`${outside}/*`],
        always: [`${outside}/*`],
        metadata: { filepath: join(outside, "x.txt"), parentDir: outside },
      });
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  it("`..` escapes leave the project (external_directory) instead of reaching the host project", async () => {
    const { ctx, asks } = fakeCtx({ deny: (r) => r.permission === "external_directory" });
    await expect(run(read, { filePath: `${H}/../../../etc/passwd` }, ctx)).rejects.toThrow(/permission denied: external_directory/);
    expect(asks[0].permission).toBe("external_directory");
  });

  it("a NUL byte in the path is refused before any sandbox call", async () => {
    let asked = 0;
    const tool = readTool({ ...env.deps, sandboxFor: async (id) => (asked++, env.deps.sandboxFor(id)) });
    const { ctx } = fakeCtx();
    await expect(run(tool, { filePath: `${H}/a.txt\0/etc/passwd` }, ctx)).rejects.toThrow(/NUL/);
    expect(asked).toBe(0);
  });

  it("appends a nested AGENTS.md once per session, like the built-in", async () => {
    const { ctx } = fakeCtx();
    const first = await run(read, { filePath: `${H}/sub/deep/code.ts` }, ctx);
    expect(first.output).toBe(
      file(["1: export const x = 1;"], "(End of file - total 1 lines)", "sub/deep/code.ts") +
        `\n\n<system-reminder>\nInstructions from: ${H}/sub/deep/AGENTS.md\nDeep instructions here.\n\n</system-reminder>`,
    );
    expect(first.metadata.loaded).toEqual([`${H}/sub/deep/AGENTS.md`]);
    const second = await run(read, { filePath: `${H}/sub/deep/other.ts` }, ctx);
    expect(second.output).toBe(file(["1: export const y = 2;"], "(End of file - total 1 lines)", "sub/deep/other.ts"));
  });

  it("title and metadata like the built-in", async () => {
    const { ctx } = fakeCtx();
    const result = await run(read, { filePath: `${H}/a.txt`, offset: 2 }, ctx);
    expect(result.title).toBe("a.txt");
    expect(result.metadata).toMatchObject({
      preview: "line2\nline3",
      truncated: false,
      loaded: [],
      display: { type: "file", path: `${H}/a.txt`, text: "line2\nline3", lineStart: 2, lineEnd: 3, totalLines: 3, truncated: false },
    });
  });
});
