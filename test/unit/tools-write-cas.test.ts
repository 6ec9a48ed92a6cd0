/**
 * Writes and edits start from what the plugin last read or wrote (no read of the file
 * first: a remote sandbox pays per round trip) and write with compare-and-swap, so a
 * file changed since is read again and asked again — never overwritten unseen.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { editTool } from "../../.opencode/plugin/sandbox/tools/edit.js";
import { readTool } from "../../.opencode/plugin/sandbox/tools/read.js";
import { SeenFiles } from "../../.opencode/plugin/sandbox/tools/seen-files.js";
import { writeTool } from "../../.opencode/plugin/sandbox/tools/write.js";
import { fakeCtx, HOST_DIR, makeEnv, run, type Env } from "./tools-sandbox-harness.js";

let env: Env | undefined;
afterEach(async () => {
  await env?.cleanup();
  env = undefined;
});

/** A sandbox that counts its reads and writes. */
async function counted() {
  const calls = { reads: 0, writes: 0 };
  const count = (s: Sandbox): Sandbox =>
    Object.create(s, {
      readFile: { value: (p: string) => (calls.reads++, s.readFile(p)) },
      writeFile: { value: (p: string, d: Uint8Array | string, o?: object) => (calls.writes++, s.writeFile(p, d, o)) },
    });
  env = await makeEnv({ wrap: count });
  const deps = { ...env.deps, seen: new SeenFiles() };
  const host = (name: string) => join(HOST_DIR, name);
  const inSandbox = (name: string) => join(env!.root, name);
  const reset = () => Object.assign(calls, { reads: 0, writes: 0 });
  return { calls, deps, host, inSandbox, reset };
}

const diffs = (asks: { metadata: Record<string, unknown> }[]) => asks.map((a) => String(a.metadata.diff));

describe("writes against what was seen (compare-and-swap)", () => {
  it("a new file: written without reading it first", async () => {
    const { calls, deps, host, inSandbox } = await counted();
    const { ctx } = fakeCtx();
    const r = await run(writeTool(deps), { filePath: host("new.txt"), content: "fresh\n" }, ctx);
    expect(r.metadata.exists).toBe(false);
    expect(calls).toEqual({ reads: 0, writes: 1 });
    expect(readFileSync(inSandbox("new.txt"), "utf8")).toBe("fresh\n");
  });

  it("a file read before: written without reading it again, the diff against what was read", async () => {
    const { calls, deps, host, inSandbox, reset } = await counted();
    writeFileSync(inSandbox("a.txt"), "one\n");
    await run(readTool(deps), { filePath: host("a.txt") }, fakeCtx().ctx);
    reset();
    const { ctx, asks } = fakeCtx();
    const r = await run(writeTool(deps), { filePath: host("a.txt"), content: "two\n" }, ctx);
    expect(calls).toEqual({ reads: 0, writes: 1 });
    expect(r.metadata.exists).toBe(true);
    expect(diffs(asks)).toEqual([expect.stringMatching(/-one\n\+two/)]);
    expect(readFileSync(inSandbox("a.txt"), "utf8")).toBe("two\n");
  });

  it("a file changed since it was read: read again and asked again with the true diff", async () => {
    const { deps, host, inSandbox } = await counted();
    writeFileSync(inSandbox("b.txt"), "one\n");
    await run(readTool(deps), { filePath: host("b.txt") }, fakeCtx().ctx);
    writeFileSync(inSandbox("b.txt"), "changed by a command\n");
    const { ctx, asks } = fakeCtx();
    await run(writeTool(deps), { filePath: host("b.txt"), content: "two\n" }, ctx);
    expect(diffs(asks)).toEqual([expect.stringMatching(/-one\n\+two/), expect.stringMatching(/-changed by a command\n\+two/)]);
    expect(readFileSync(inSandbox("b.txt"), "utf8")).toBe("two\n");
  });

  it("an existing file never read is not overwritten as if it were new", async () => {
    const { deps, host, inSandbox } = await counted();
    writeFileSync(inSandbox("c.txt"), "theirs\n");
    const { ctx, asks } = fakeCtx();
    const r = await run(writeTool(deps), { filePath: host("c.txt"), content: "mine\n" }, ctx);
    expect(r.metadata.exists).toBe(true);
    expect(diffs(asks).at(-1)).toMatch(/-theirs\n\+mine/);
    expect(readFileSync(inSandbox("c.txt"), "utf8")).toBe("mine\n");
  });

  it("a refused permission is not asked again, and nothing is written", async () => {
    const { deps, host, inSandbox } = await counted();
    writeFileSync(inSandbox("d.txt"), "theirs\n");
    const { ctx, asks } = fakeCtx({ deny: () => true });
    await expect(run(writeTool(deps), { filePath: host("d.txt"), content: "mine\n" }, ctx)).rejects.toThrow(/permission denied/);
    expect(asks).toHaveLength(1);
    expect(readFileSync(inSandbox("d.txt"), "utf8")).toBe("theirs\n");
  });

  it("edit: one write after a read; on content changed since, the edit applies to the file as it is", async () => {
    const { calls, deps, host, inSandbox, reset } = await counted();
    writeFileSync(inSandbox("e.txt"), "alpha\nbeta\n");
    await run(readTool(deps), { filePath: host("e.txt") }, fakeCtx().ctx);
    reset();
    await run(editTool(deps), { filePath: host("e.txt"), oldString: "beta", newString: "gamma" }, fakeCtx().ctx);
    expect(calls).toEqual({ reads: 0, writes: 1 });
    // A command adds a line the model then edits: the remembered content lacks it.
    writeFileSync(inSandbox("e.txt"), "alpha\ngamma\ndelta\n");
    await run(editTool(deps), { filePath: host("e.txt"), oldString: "delta", newString: "epsilon" }, fakeCtx().ctx);
    expect(readFileSync(inSandbox("e.txt"), "utf8")).toBe("alpha\ngamma\nepsilon\n");
  });
});
