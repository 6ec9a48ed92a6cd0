import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grepTool } from "../../.opencode/plugin/sandbox/tools/grep.js";
import { fakeCtx, HOST_DIR, makeEnv, pathWithout, run, type Env } from "./tools-sandbox-harness.js";
import { lacks, missingCommand } from "../support/prereq.js";

const FILES: Record<string, string> = {
  "a.txt": "hello world\nfoo\nhello again",
  "src/x.ts": "const x = 1;\nfunction hello() {}\n",
  "src/y.tsx": "export const hello = 2;\n",
  ".hidden.md": "hello hidden\n",
  "node_modules/pkg/index.js": "hello ignored\n",
  "long.txt": `${"x".repeat(2500)}needle\n`,
  "weird name's.txt": "hello weird\n",
};

function seed(root: string) {
  for (const [f, content] of Object.entries(FILES)) {
    mkdirSync(dirname(join(root, f)), { recursive: true });
    writeFileSync(join(root, f), content);
  }
  writeFileSync(join(root, ".gitignore"), "node_modules\n");
  execFileSync("git", ["init", "-q"], { cwd: root });
  writeFileSync(join(root, ".git", "hello-in-git"), "hello\n");
}

let rgEnv: Env;
let fbEnv: Env;

beforeAll(async () => {
  rgEnv = await makeEnv();
  fbEnv = await makeEnv({ env: { PATH: pathWithout(["rg"]) } });
  seed(rgEnv.root);
  seed(fbEnv.root);
});
afterAll(async () => {
  await rgEnv.cleanup();
  await fbEnv.cleanup();
});

const cases = [
  {
    name: "regex across files",
    args: { pattern: "hel+o" },
    count: 6,
    files: [".hidden.md", "a.txt", "src/x.ts", "src/y.tsx", "weird name's.txt"],
  },
  { name: "include glob", args: { pattern: "hello", include: "*.{ts,tsx}" }, count: 2, files: ["src/x.ts", "src/y.tsx"] },
  { name: "path", args: { pattern: "hello", path: "src" }, count: 2, files: ["src/x.ts", "src/y.tsx"] },
  { name: "regex classes", args: { pattern: "const\\s+\\w+ = \\d" }, count: 2, files: ["src/x.ts", "src/y.tsx"] },
  { name: "no match", args: { pattern: "zzz_nothing" }, count: 0, files: [] },
];

describe.each([
  { mode: "rg", env: () => rgEnv, missing: missingCommand("rg") },
  { mode: "fallback (no rg in PATH)", env: () => fbEnv, missing: undefined },
])("grep via $mode", ({ env, missing }) => {
  if (lacks(missing)) return;
  it.each(cases)("$name", async ({ args, count, files }) => {
    const { ctx, asks } = fakeCtx();
    const res = await run(grepTool(env().deps), args, ctx);
    expect(asks[0]).toMatchObject({ permission: "grep", patterns: [args.pattern], always: ["*"] });
    expect(res.title).toBe(args.pattern);
    if (count === 0) {
      expect(res.output).toBe("No files found");
      expect(res.metadata).toEqual({ matches: 0, truncated: false });
      return;
    }
    expect(res.output.split("\n")[0]).toBe(`Found ${count} matches`);
    const seen = res.output.split("\n").filter((l) => l.endsWith(":") && l.startsWith("/host/")).map((l) => l.slice(HOST_DIR.length + 1, -1));
    expect(seen.sort()).toEqual(files);
    expect(res.metadata).toEqual({ matches: count, truncated: false });
  });

  it("formats like the built-in (line text keeps its newline)", async () => {
    const one = await run(grepTool(env().deps), { pattern: "hello", path: "src", include: "*.ts" }, fakeCtx().ctx);
    expect(one.output).toBe(`Found 1 matches\n${HOST_DIR}/src/x.ts:\n  Line 2: function hello() {}\n`);
    const two = await run(grepTool(env().deps), { pattern: "hello", include: "a.txt" }, fakeCtx().ctx);
    // ripgrep knows the last line has no newline; grep -n cannot tell (fallback adds one).
    expect(two.output).toMatch(new RegExp(`^Found 2 matches\n${HOST_DIR}/a\\.txt:\n  Line 1: hello world\n\n  Line 3: hello again\n?$`));
  });

  it("cuts long lines at 2000 characters", async () => {
    const res = await run(grepTool(env().deps), { pattern: "needle" }, fakeCtx().ctx);
    expect(res.output).toContain(`  Line 1: ${"x".repeat(2000)}...`);
    expect(res.output).not.toContain("needle\n");
  });

  it("skips ignored files and .git, searches hidden files", async () => {
    const res = await run(grepTool(env().deps), { pattern: "hello" }, fakeCtx().ctx);
    expect(res.output).toContain(`${HOST_DIR}/.hidden.md:`);
    expect(res.output).not.toContain("node_modules");
    expect(res.output).not.toContain(".git/");
  });

  it("an invalid regex is reported", async () => {
    await expect(run(grepTool(env().deps), { pattern: "hel(lo" }, fakeCtx().ctx)).rejects.toThrow(/regex parse error/);
  });
});

describe("grep", () => {
  it("a file path searches its directory, like the built-in", async () => {
    const res = await run(grepTool(rgEnv.deps), { pattern: "hello", path: "src/x.ts" }, fakeCtx().ctx);
    expect(res.output).toContain(`${HOST_DIR}/src/y.tsx:`);
  });

  it("limits to 100 matches with the built-in's notice", async () => {
    writeFileSync(join(rgEnv.root, "many.txt"), "match\n".repeat(150));
    const res = await run(grepTool(rgEnv.deps), { pattern: "^match$" }, fakeCtx().ctx);
    const lines = res.output.split("\n");
    expect(lines[0]).toBe("Found 100 matches (more matches available)");
    expect(lines.at(-1)).toBe("(Results truncated. Consider using a more specific path or pattern.)");
    expect(res.metadata).toEqual({ matches: 100, truncated: true });
  });

  it.each(["$(touch pwned)", "'; touch pwned; echo '", '"; touch pwned #', "`touch pwned`", "-e x --pre=touch"])(
    "hostile pattern %j does not run anything",
    async (pattern) => {
      for (const env of [rgEnv, fbEnv]) {
        await run(grepTool(env.deps), { pattern }, fakeCtx().ctx).catch(() => {});
        await run(grepTool(env.deps), { pattern: "x", include: pattern }, fakeCtx().ctx).catch(() => {});
        await run(grepTool(env.deps), { pattern: "x", path: pattern }, fakeCtx().ctx).catch(() => {});
        expect(existsSync(join(env.root, "pwned"))).toBe(false);
      }
    },
  );

  it("requires a pattern", async () => {
    await expect(run(grepTool(rgEnv.deps), { pattern: "" }, fakeCtx().ctx)).rejects.toThrow("pattern is required");
  });
});
