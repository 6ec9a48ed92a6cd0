/** The plugin's test pause hook is inert unless both variables are set, and pauses at the n-th time only. */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PAUSE_AT, PAUSED_FILE, pauseHookFromEnv } from "../../.opencode/plugin/sandbox/util/test-pause.js";

const dir = mkdtempSync(join(tmpdir(), "test-pause-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const settled = async (p: void | Promise<void>) => Promise.race([Promise.resolve(p).then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 50))]);

describe("pauseHookFromEnv", () => {
  it.each([
    ["nothing set", {}],
    ["only the phase", { [PAUSE_AT]: "create:made" }],
    ["only the file", { [PAUSED_FILE]: join(dir, "x") }],
    ["empty values", { [PAUSE_AT]: "", [PAUSED_FILE]: "" }],
  ])("%s: no hook", (_, env) => {
    expect(pauseHookFromEnv(env)).toBeUndefined();
  });

  it("pauses the n-th time the phase is reached, writing the phase to the file; other phases pass", async () => {
    const file = join(dir, "paused");
    const hook = pauseHookFromEnv({ [PAUSE_AT]: "state:written#2", [PAUSED_FILE]: file })!;
    expect(await settled(hook("create:made"))).toBe(true);
    expect(await settled(hook("state:written"))).toBe(true);
    expect(existsSync(file)).toBe(false);
    expect(await settled(hook("state:written"))).toBe(false);
    expect(readFileSync(file, "utf8")).toBe("state:written\n");
  });
});
