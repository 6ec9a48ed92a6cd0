/**
 * The model-facing contract of read/write/edit/apply_patch — descriptions and argument
 * descriptions — compared with the pinned OpenCode binary's bundled source (ground truth).
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { APPLY_PATCH_DESCRIPTION, applyPatchTool } from "../../.opencode/plugin/sandbox/tools/apply-patch.js";
import { EDIT_DESCRIPTION, editTool } from "../../.opencode/plugin/sandbox/tools/edit.js";
import { READ_DESCRIPTION, readTool } from "../../.opencode/plugin/sandbox/tools/read.js";
import { WRITE_DESCRIPTION, writeTool } from "../../.opencode/plugin/sandbox/tools/write.js";
import { HOST_DIR, nullLogger } from "./tools-sandbox-harness.js";
import { lacks } from "../support/prereq.js";
import { KeyedQueue } from "../../.opencode/plugin/sandbox/util/keyed-queue.js";

function binaryPath(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve("opencode-linux-x64/package.json");
    const bin = join(dirname(pkg), "bin", "opencode");
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
}

const BIN = binaryPath();
/** The part of the bundle holding the tool definitions (searching 185 MB per assertion is slow). */
const source = (() => {
  if (!BIN) return "";
  const all = readFileSync(BIN).toString("utf8");
  const at = all.indexOf("var et=`Read a file or directory");
  return at === -1 ? all : all.slice(Math.max(0, at - 200_000), at + 200_000);
})();

/** The JS string literal that follows `marker` in the bundle, evaluated. */
function literalAfter(marker: string): string {
  const at = source.indexOf(marker);
  if (at === -1) throw new Error(`marker not found: ${marker}`);
  const start = at + marker.length;
  const quote = source[start];
  let i = start + 1;
  while (source[i] !== quote) i += source[i] === "\\" ? 2 : 1;
  return new Function(`return ${source.slice(start, i + 1)}`)() as string;
}

const deps = { directory: HOST_DIR, sandboxFor: async () => Promise.reject(new Error("unused")), config: {} as never, log: nullLogger, locks: new KeyedQueue() };

describe("file tools match the pinned binary's contract", () => {
  if (lacks(BIN ? undefined : "the pinned OpenCode binary (opencode-linux-x64) is not installed: npm ci")) return;
  it.each([
    ["read", READ_DESCRIPTION, "var et="],
    ["edit", EDIT_DESCRIPTION, "var ze="],
    ["write", WRITE_DESCRIPTION, "var Rt="],
    ["apply_patch", APPLY_PATCH_DESCRIPTION, "var Ft="],
  ])("%s description is verbatim", (_id, ours, marker) => {
    const upstream = literalAfter(marker);
    // guard against the minified names moving in another build: the literal must look right
    expect(upstream.length).toBeGreaterThan(500);
    expect(ours).toBe(upstream);
  });

  it.each([
    ["read", readTool, { filePath: "The absolute path to the file or directory to read", offset: "The line number to start reading from (1-indexed)", limit: "The maximum number of lines to read (defaults to 2000)" }],
    ["write", writeTool, { content: "The content to write to the file", filePath: "The absolute path to the file to write (must be absolute, not relative)" }],
    [
      "edit",
      editTool,
      {
        filePath: "The absolute path to the file to modify",
        oldString: "The text to replace",
        newString: "The text to replace it with (must be different from oldString)",
        replaceAll: "Replace all occurrences of oldString (default false)",
      },
    ],
    ["apply_patch", applyPatchTool, { patchText: "The full patch text that describes all changes to be made" }],
  ] as const)("%s arguments: names, descriptions, required", (_id, factory, described) => {
    const t = factory(deps as never);
    const schema = z.toJSONSchema(z.object(t.args)) as { properties: Record<string, { description?: string }>; required: string[] };
    expect(Object.keys(schema.properties)).toEqual(Object.keys(described));
    for (const [name, text] of Object.entries(described)) {
      expect(schema.properties[name].description).toBe(text);
      // each argument description is in the bundle next to its name
      expect(source).toContain(`${name}:p.`);
      expect(source).toContain(`description:${JSON.stringify(text)}`);
    }
    const optional = new Set(["offset", "limit", "replaceAll"]);
    expect(schema.required).toEqual(Object.keys(described).filter((n) => !optional.has(n)));
  });

  it("read's offset/limit are non-negative integers like the built-in (Int >= 0)", () => {
    const t = readTool(deps as never);
    const args = z.object(t.args);
    expect(args.safeParse({ filePath: "x", offset: 0, limit: 0 }).success).toBe(true);
    expect(args.safeParse({ filePath: "x", offset: -1 }).success).toBe(false);
    expect(args.safeParse({ filePath: "x", limit: 1.5 }).success).toBe(false);
  });
});
