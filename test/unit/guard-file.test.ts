/**
 * The fail-safe guard's decision (the module OpenCode loads, imported as is) and the
 * marker the plugin sets for it: tools pass only where the plugin is loaded, counted
 * per directory instance; and the file init places: versioned, never someone else's.
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { guardIn, guardVersion, placeGuard, shippedGuardPath } from "../../.opencode/plugin/sandbox/cli/guard-file.js";
import { OpencodeSandboxedGuard } from "../../.opencode/plugin/sandbox/guard/opencode-sandboxed-guard.js";
import { HOST_SAFE_TOOLS } from "../../.opencode/plugin/sandbox/opencode/guard.js";
import { LOADED_MARKER, markLoaded } from "../../.opencode/plugin/sandbox/opencode/loaded-marker.js";

const hook = async (directory: string) => (await OpencodeSandboxedGuard({ directory }))["tool.execute.before"];

describe("guard decision", () => {
  it.each([
    ["bash", "/p/a", ["/p/a"], true],
    ["write", "/p/a", ["/p/b"], false], // loaded for another directory of the same server
    ["read", "/p/a", [], false],
    ["apply_patch", "/p/a", [], false],
    ["some_mcp_tool", "/p/a", [], false],
    ["lsp", "/p/a", [], false],
    ["todowrite", "/p/a", [], true],
    ["task", "/p/a", [], true],
    ["question", "/p/a", [], true],
  ] as const)("%s in %s with the plugin loaded for %j: passes %s", async (tool, dir, loadedFor, passes) => {
    const unmarks = loadedFor.map((d) => markLoaded(d));
    try {
      const call = (await hook(dir))({ tool });
      if (passes) await expect(call).resolves.toBeUndefined();
      else await expect(call).rejects.toThrow(/opencode-sandboxed did not load in this OpenCode[\s\S]*npx opencode-sandboxed doctor/);
    } finally {
      unmarks.forEach((u) => u());
    }
  });

  it.each(HOST_SAFE_TOOLS)("passes %s without the plugin, as the plugin's own guard deems it host-safe", async (tool) => {
    await expect((await hook("/p/none"))({ tool })).resolves.toBeUndefined();
  });

  it("counts instances: the mark stays while one of two instances of a directory lives; dispose twice takes one", async () => {
    const guard = await hook("/p/c");
    const first = markLoaded("/p/c");
    const second = markLoaded("/p/c");
    first();
    first();
    await expect(guard({ tool: "bash" })).resolves.toBeUndefined();
    second();
    await expect(guard({ tool: "bash" })).rejects.toThrow(/did not load/);
    expect((globalThis as Record<symbol, unknown>)[LOADED_MARKER]).toBeInstanceOf(Map);
  });
});

describe("the guard file", () => {
  const dirs: string[] = [];
  const project = async () => {
    const d = await mkdtemp(join(tmpdir(), "ocs-guard-"));
    dirs.push(d);
    return d;
  };
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it("is shipped built, versioned, with no import and no source-map line once placed", async () => {
    const text = readFileSync(shippedGuardPath(), "utf8");
    expect(guardVersion(text)).toBe(1);
    expect(text).not.toMatch(/^import /m);
    const dir = await project();
    await placeGuard(dir);
    expect(readFileSync(join(dir, ".opencode/plugin/opencode-sandboxed-guard.js"), "utf8")).not.toContain("sourceMappingURL");
  });

  it("placed, then unchanged, then an older version updated; a foreign file of that name is left alone", async () => {
    const dir = await project();
    expect(await guardIn(dir)).toMatchObject({ present: false });
    expect(await placeGuard(dir)).toMatchObject({ kind: "placed", version: 1 });
    expect(await placeGuard(dir)).toMatchObject({ kind: "unchanged" });
    const path = join(dir, ".opencode/plugin/opencode-sandboxed-guard.js");
    writeFileSync(path, "/** opencode-sandboxed guard, version 0 */\n");
    expect(await guardIn(dir)).toMatchObject({ present: true, version: 0 });
    expect(await placeGuard(dir)).toMatchObject({ kind: "updated", version: 1 });
    writeFileSync(path, "// my own plugin\n");
    expect(await placeGuard(dir)).toMatchObject({ kind: "foreign" });
    expect(readFileSync(path, "utf8")).toBe("// my own plugin\n");
  });

  it("is not placed into this package's own source (a symlinked .opencode working copy)", async () => {
    const dir = await project();
    mkdirSync(join(dir, ".opencode/plugin/sandbox/guard"), { recursive: true });
    writeFileSync(join(dir, ".opencode/plugin/sandbox/guard/opencode-sandboxed-guard.ts"), "");
    expect(await placeGuard(dir)).toMatchObject({ kind: "plugin_source" });
  });
});
