/** writeAtomic's failures name the file and keep the file system's code; nothing half-written stays. */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeAtomic } from "../../.opencode/plugin/sandbox/util/write-atomic.js";

describe("writeAtomic", () => {
  it("writes the whole file and leaves no temporary file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "write-atomic-"));
    await writeAtomic(join(dir, "a", "state.json"), "{}\n");
    expect(readFileSync(join(dir, "a", "state.json"), "utf8")).toBe("{}\n");
    expect(readdirSync(join(dir, "a"))).toEqual(["state.json"]);
  });

  it.each([
    { why: "a file where its directory should be", code: "EEXIST", setup: (dir: string) => (writeFileSync(join(dir, "blocker"), "x"), join(dir, "blocker", "state.json")) },
    { why: "a directory where the file should be", code: "EISDIR", setup: (dir: string) => dir },
  ])("$why: the error names the file and keeps $code", async ({ code, setup }) => {
    const dir = mkdtempSync(join(tmpdir(), "write-atomic-"));
    const path = setup(dir);
    const error = await writeAtomic(path, "{}\n").then(() => undefined, (e: NodeJS.ErrnoException) => e);
    expect(error?.code).toBe(code);
    expect(error?.message).toContain(`Could not write ${path}: ${code}`);
  });
});
