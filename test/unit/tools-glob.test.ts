import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { globTool } from "../../.opencode/plugin/sandbox/tools/glob.js";
import { fakeCtx, HOST_DIR, makeEnv, pathWithout, run, type Env } from "./tools-sandbox-harness.js";
import { lacks, missingCommand } from "../support/prereq.js";

const FILES = [
  "a.txt",
  "src/x.ts",
  "src/deep/y.ts",
  "src/deep/z.tsx",
  "sub/b.ts",
  ".dot.ts",
  ".hid/h.ts",
  "node_modules/pkg/index.js",
  "dist/out.js",
  "weird name's $(x).ts",
];

function seed(root: string) {
  for (const f of FILES) {
    mkdirSync(dirname(join(root, f)), { recursive: true });
    writeFileSync(join(root, f), "hello\n");
  }
  writeFileSync(join(root, ".gitignore"), "node_modules\ndist\n");
  execFileSync("git", ["init", "-q"], { cwd: root });
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
  { pattern: "**/*.ts", expected: [".dot.ts", "src/deep/y.ts", "src/x.ts", "sub/b.ts", "weird name's $(x).ts"] },
  { pattern: "*.ts", expected: [".dot.ts", "src/deep/y.ts", "src/x.ts", "sub/b.ts", "weird name's $(x).ts"] },
  { pattern: "src/**/*.ts", expected: ["src/deep/y.ts", "src/x.ts"] },
  { pattern: "src/*.ts", expected: ["src/x.ts"] },
  { pattern: "*.{ts,tsx}", expected: [".dot.ts", "src/deep/y.ts", "src/deep/z.tsx", "src/x.ts", "sub/b.ts", "weird name's $(x).ts"] },
  { pattern: "*.js", expected: [] },
  { pattern: "[ab].txt", expected: ["a.txt"] },
  { pattern: "deep/*.ts", expected: [] },
  { pattern: "!*.ts", expected: ["a.txt", "src/deep/z.tsx"] },
];

describe.each([
  { mode: "rg", env: () => rgEnv, missing: missingCommand("rg") },
  { mode: "fallback (no rg in PATH)", env: () => fbEnv, missing: undefined },
])("glob via $mode", ({ env, missing }) => {
  if (lacks(missing)) return;
  it.each(cases)("$pattern", async ({ pattern, expected }) => {
    const glob = globTool(env().deps);
    const { ctx, asks } = fakeCtx();
    const res = await run(glob, { pattern }, ctx);
    expect(asks[0]).toEqual({ permission: "glob", patterns: [pattern], always: ["*"], metadata: { pattern, path: undefined } });
    const lines = res.output === "No files found" ? [] : res.output.split("\n");
    expect(lines.sort()).toEqual(expected.map((f) => `${HOST_DIR}/${f}`).sort());
    expect(res.metadata).toEqual({ count: expected.length, truncated: false });
  });
});

describe("glob", () => {
  it("searches a given path and reports host paths", async () => {
    const res = await run(globTool(rgEnv.deps), { pattern: "*.ts", path: "src" }, fakeCtx().ctx);
    expect(res.output.split("\n").sort()).toEqual([`${HOST_DIR}/src/deep/y.ts`, `${HOST_DIR}/src/x.ts`]);
    expect(res.title).toBe("src");
  });

  it("refuses a file as path", async () => {
    await expect(run(globTool(rgEnv.deps), { pattern: "*", path: "a.txt" }, fakeCtx().ctx)).rejects.toThrow(
      `glob path must be a directory: ${HOST_DIR}/a.txt`,
    );
  });

  it("a missing directory fails like the built-in", async () => {
    await expect(run(globTool(rgEnv.deps), { pattern: "*", path: "nope" }, fakeCtx().ctx)).rejects.toThrow("ripgrep execution failed");
  });

  it("skips .git even for **", async () => {
    const res = await run(globTool(fbEnv.deps), { pattern: "**" }, fakeCtx().ctx);
    expect(res.output).not.toContain("/.git/");
    expect(res.output).toContain(`${HOST_DIR}/a.txt`);
  });

  it.each([{ mode: "rg", env: () => rgEnv }, { mode: "fallback", env: () => fbEnv }])("limits to 100 with the built-in's notice ($mode)", async ({ env }) => {
    for (let i = 0; i < 150; i++) writeFileSync(join(env().root, `many-${i}.log`), "");
    const res = await run(globTool(env().deps), { pattern: "*.log" }, fakeCtx().ctx);
    const lines = res.output.split("\n");
    expect(lines).toHaveLength(102);
    expect(lines.at(-1)).toBe("(Results are truncated: showing first 100 results. Consider using a more specific path or pattern.)");
    expect(res.metadata).toEqual({ count: 100, truncated: true });
  });

  it.each([
    "$(touch pwned)",
    "'; touch pwned; echo '",
    '"; touch pwned; echo "',
    "`touch pwned`",
    "*.ts\ntouch pwned",
  ])("hostile pattern %j does not run anything", async (pattern) => {
    for (const env of [rgEnv, fbEnv]) {
      await run(globTool(env.deps), { pattern }, fakeCtx().ctx).catch(() => {});
      await run(globTool(env.deps), { pattern: "*", path: pattern }, fakeCtx().ctx).catch(() => {});
      expect(existsSync(join(env.root, "pwned"))).toBe(false);
    }
  });

  it("asks external_directory for a path outside the project", async () => {
    const { ctx, asks } = fakeCtx();
    await run(globTool(rgEnv.deps), { pattern: "*.nothing", path: "/tmp" }, ctx).catch(() => {});
    expect(asks.map((a) => [a.permission, a.patterns])).toEqual([
      ["glob", ["*.nothing"]],
      ["external_directory", ["/tmp/*"]],
    ]);
  });
});
