/**
 * OpenCode's own snapshots track the host checkout at every step (and /undo checks their
 * files out over it). With the plugin the agent never changes that checkout, so the plugin
 * turns them off: real `opencode run`, the same script with and without the plugin.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Workbench } from "./support/opencode.js";

let bench: Workbench | undefined;
afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail" && bench) console.error(bench.pluginLog());
  await bench?.dispose();
  bench = undefined;
});

/** The snapshot repositories OpenCode made for this workbench (none when it took none). */
function snapshotRepos(b: Workbench): string[] {
  const dir = join(b.dataHome, "opencode/snapshot");
  return existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((p) => p.endsWith("HEAD")) : [];
}

describe("OpenCode's snapshots of the host checkout", () => {
  it.each([
    { plugin: true, snapshots: false },
    { plugin: false, snapshots: true },
  ])("with the plugin $plugin: snapshots taken $snapshots", async ({ plugin, snapshots }) => {
    bench = await Workbench.create({ ...(plugin ? {} : { plugin: false }), files: { "a.txt": "one\n" } });
    bench.model.set([
      { tool: "write", args: { filePath: join(bench.project, "b.txt"), content: "two\n" } },
      { tool: "bash", args: { command: "cat a.txt b.txt", description: "read both" } },
      { text: "Done." },
    ]);
    const r = await bench.run("write and read");
    expect(r.code, r.stderr).toBe(0);
    expect(bench.model.toolResults()[1]).toContain("one\ntwo");
    expect(snapshotRepos(bench).length > 0).toBe(snapshots);
  }, 300_000);
});
