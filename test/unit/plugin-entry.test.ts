/**
 * Which `plugin` entries are this plugin (what init keeps or replaces, what doctor reports
 * as listed): npm names and tarballs by name, paths by the package they are in — through
 * a symlinked `.opencode` too — and a path that is gone by its words; never the guard.
 */
import { mkdirSync, symlinkSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isGuard, isThisPlugin } from "../../.opencode/plugin/sandbox/cli/plugin-entry.js";

const REPO = resolve(import.meta.dirname, "../..");
let project: string;

beforeAll(async () => {
  project = await mkdtemp(join(tmpdir(), "ocs-entry-"));
  symlinkSync(join(REPO, ".opencode"), join(project, ".opencode"));
  mkdirSync(join(project, "plugins"));
});
afterAll(() => rm(project, { recursive: true, force: true }));

describe("isThisPlugin", () => {
  it.each([
    ["the npm name", () => "opencode-sandboxed", true],
    ["a pinned version", () => "opencode-sandboxed@0.1.0", true],
    ["a tarball spec", () => "opencode-sandboxed@file:/x/opencode-sandboxed-0.1.0.tgz", true],
    ["another package", () => "opencode-sandboxed-extras", false],
    ["a scoped other package", () => "@acme/opencode-sandboxed", false],
    ["a file:// URL to the build", () => pathToFileURL(join(REPO, "dist/plugin/index.js")).href, true],
    ["a symlinked .opencode's entry", () => pathToFileURL(join(project, ".opencode/plugin/index.ts")).href, true],
    ["a path that is gone, named for the package", () => "file:///gone/node_modules/opencode-sandboxed/dist/plugin/index.js", true],
    ["a path that is gone, named otherwise", () => "file:///gone/other/index.js", false],
    ["the project's own local plugin", () => "./plugins/mine.ts", false],
    ["the guard", () => pathToFileURL(join(project, ".opencode/plugin/opencode-sandboxed-guard.js")).href, false],
  ])("%s", (_what, spec, expected) => {
    expect(isThisPlugin(spec(), project)).toBe(expected);
  });

  it("the guard is recognised as the guard", () => {
    expect(isGuard("file:///p/.opencode/plugin/opencode-sandboxed-guard.js")).toBe(true);
    expect(isGuard("opencode-sandboxed")).toBe(false);
  });
});
