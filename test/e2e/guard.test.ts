/**
 * The fail-safe guard in real OpenCode: a project whose plugin entry cannot be
 * installed would run the agent's tools on the host without a word; with the guard in
 * its .opencode/plugin/ every such tool is refused with a message saying why and what
 * to do, and nothing is written on the host. With the real plugin loaded the guard
 * lets the sandboxed tools through.
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { placeGuard } from "../../.opencode/plugin/sandbox/cli/guard-file.js";
import type { Step } from "./support/model-server.js";
import { PLUGIN_DIST, Workbench } from "./support/opencode.js";

let bench: Workbench | undefined;
afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail" && bench) console.error(bench.logs().slice(-20000));
  await bench?.dispose();
  bench = undefined;
});

/** The project's .opencode pre-seeded (git-ignored), so OpenCode installs nothing there. */
function seedDotOpencode(b: Workbench) {
  const dir = join(b.project, ".opencode");
  mkdirSync(join(dir, "node_modules"), { recursive: true });
  const deps = { "@opencode-ai/plugin": "1.18.33" };
  writeFileSync(join(dir, "package.json"), JSON.stringify({ dependencies: deps }));
  writeFileSync(join(dir, "package-lock.json"), JSON.stringify({ lockfileVersion: 3, packages: { "": { dependencies: deps } } }));
  writeFileSync(join(b.project, ".git/info/exclude"), ".opencode\n");
}

/** A turn that tries to change the host: a file outside the project by bash, one inside by write. */
function hostAttack(b: Workbench, before: Step[] = []) {
  const outside = join(b.root, "touched-by-bash");
  const inside = join(b.project, "written-by-write.txt");
  b.model.set([
    ...before,
    { tool: "bash", args: { command: `touch ${outside}`, description: "touch" } },
    { tool: "write", args: { filePath: inside, content: "from the agent\n" } },
    { text: "done" },
  ]);
  return { outside, inside };
}

// Two ways an entry cannot be installed: a name the registry does not have, a path that does not exist.
const UNINSTALLABLE = [
  ["an npm name that does not exist", "opencode-sandboxed-no-such-package-7f3a9c"],
  ["a file: path that does not exist", "file:///nonexistent/opencode-sandboxed/dist/plugin/index.js"],
] as const;

describe("the guard when the plugin cannot load", () => {
  it.each(UNINSTALLABLE)("plugin entry is %s: bash and write are refused with the message; nothing is written on the host", async (_what, spec) => {
    bench = await Workbench.create({ plugin: spec });
    seedDotOpencode(bench);
    expect((await placeGuard(bench.project)).kind).toBe("placed");
    const { outside, inside } = hostAttack(bench);
    const r = await bench.run("change the host");
    expect(r.code).toBe(0);
    const results = bench.model.toolResults();
    expect(results).toHaveLength(2);
    for (const result of results) {
      expect(result).toContain("opencode-sandboxed did not load in this OpenCode");
      expect(result).toContain("npx opencode-sandboxed doctor");
    }
    expect(existsSync(outside)).toBe(false);
    expect(existsSync(inside)).toBe(false);
    expect(bench.pluginLog()).toBe(""); // the plugin really did not load
  }, 300_000);

  it("without the guard, the same set-up runs the tools on the host (the hazard the guard closes)", async () => {
    bench = await Workbench.create({ plugin: UNINSTALLABLE[1][1] });
    seedDotOpencode(bench);
    const { outside, inside } = hostAttack(bench);
    expect((await bench.run("change the host")).code).toBe(0);
    expect(existsSync(outside)).toBe(true);
    expect(existsSync(inside)).toBe(true);
  }, 300_000);
});

describe("the guard when the plugin loads", () => {
  it("lets the sandboxed tools through: they run in the sandbox, the host stays untouched", async () => {
    bench = await Workbench.create({ plugin: PLUGIN_DIST });
    seedDotOpencode(bench);
    await placeGuard(bench.project);
    const { outside, inside } = hostAttack(bench, [{ tool: "bash", args: { command: "pwd", description: "where" } }]);
    expect((await bench.run("work in the sandbox")).code).toBe(0);
    const results = bench.model.toolResults();
    expect(results[0]).toBe("/workspace\n");
    expect(results[1]).not.toContain("did not load");
    expect(results[2]).toMatch(/Wrote file successfully/);
    expect(existsSync(outside)).toBe(false); // touched inside the sandbox only
    expect(existsSync(inside)).toBe(false);
    expect(bench.pluginLog()).toContain(`opencode-sandboxed loaded for ${bench.project}`);
  }, 300_000);
});
