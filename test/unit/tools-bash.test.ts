import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bashDescription, bashTool, tailTruncate } from "../../.opencode/plugin/sandbox/tools/bash.js";
import { privateNetwork, type PrivateNetwork } from "../support/private-network.js";
import { fakeCtx, HOST_DIR, makeEnv, run, type Env } from "./tools-sandbox-harness.js";

let env: Env;
let net: PrivateNetwork;
let bash: ReturnType<typeof bashTool>;

beforeAll(async () => {
  // bash reports ports that start listening: other tests' listeners on the host must not show up here.
  net = await privateNetwork();
  env = await makeEnv({ wrap: net.wrap });
  bash = bashTool(env.deps);
  mkdirSync(join(env.root, "sub"), { recursive: true });
});
afterAll(async () => {
  await env.cleanup();
  net.close();
});

describe("bash", () => {
  it.each([
    { name: "stdout", command: "echo hi", output: "hi\n", exit: 0 },
    { name: "exit code, no output", command: "exit 3", output: "(no output)", exit: 3 },
    { name: "stderr interleaved", command: "echo out; echo err >&2", output: "out\nerr\n", exit: 0 },
    { name: "bash syntax", command: "[[ 1 == 1 ]] && echo yes", output: "yes\n", exit: 0 },
    { name: "quotes and metacharacters stay literal", command: `printf '%s\\n' "a'b\\"c \\$HOME"`, output: `a'b"c $HOME\n`, exit: 0 },
    { name: "failing command", command: "ls /definitely/not/here", output: expect.stringContaining("No such file"), exit: 2 },
  ])("$name", async ({ command, output, exit }) => {
    const { ctx } = fakeCtx();
    const res = await run(bash, { command }, ctx);
    expect(res.output).toEqual(output);
    expect(res.metadata.exit).toBe(exit);
    expect(res.title).toBe(command);
    expect(res.metadata.truncated).toBe(false);
  });

  it.each([
    { workdir: undefined, expected: "" },
    { workdir: "sub", expected: "/sub" },
    { workdir: `${HOST_DIR}/sub`, expected: "/sub" },
  ])("workdir $workdir runs in the mapped sandbox directory", async ({ workdir, expected }) => {
    const { ctx } = fakeCtx();
    const res = await run(bash, { command: "pwd", workdir }, ctx);
    expect(res.output.trim()).toBe(env.root + expected);
  });

  it("timeout ends the command with the built-in's note", async () => {
    const { ctx } = fakeCtx();
    // "before" must be out before the timeout: give it ten times what a whole call takes here.
    const t0 = Date.now();
    await run(bash, { command: "echo before" }, fakeCtx().ctx);
    const timeout = Math.max(300, 10 * (Date.now() - t0));
    const started = Date.now();
    const res = await run(bash, { command: "echo before; sleep 300; echo after", timeout }, ctx);
    expect(Date.now() - started).toBeLessThan(60_000); // not the 300 s the command asked for
    expect(res.output).toBe(
      `before\n\n\n<shell_metadata>\nshell tool terminated command after exceeding timeout ${timeout} ms. If this command is expected to take longer and is not waiting for interactive input, retry with a larger timeout value in milliseconds.\n</shell_metadata>`,
    );
    expect(res.metadata.exit).toBeNull();
  });

  it("ctx.abort ends the command", async () => {
    const { ctx, controller } = fakeCtx();
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    const res = await run(bash, { command: "sleep 300" }, ctx);
    expect(Date.now() - started).toBeLessThan(60_000); // not the 300 s the command asked for
    expect(res.output).toBe("(no output)\n\n<shell_metadata>\nUser aborted the command\n</shell_metadata>");
  });

  it("`cmd &` returns as soon as the foreground part ends", async () => {
    const { ctx } = fakeCtx();
    const started = Date.now();
    const res = await run(bash, { command: "sleep 300 & echo started" }, ctx);
    expect(Date.now() - started).toBeLessThan(60_000); // not the 300 s the background job takes
    expect(res.output).toBe("started\n");
  });

  it("streams output into metadata", async () => {
    const { ctx, metadata } = fakeCtx();
    await run(bash, { command: "echo one; echo two" }, ctx);
    expect(metadata[0]).toEqual({ metadata: { output: "" } });
    expect(metadata.at(-1)?.metadata?.output).toContain("two");
  });

  it("long output keeps the end, saves the full output inside the sandbox", async () => {
    const { ctx } = fakeCtx();
    const res = await run(bash, { command: "seq 1 5000" }, ctx);
    expect(res.output.startsWith("...output truncated...\n\nFull output saved to: /tmp/opencode/tool-output/tool_")).toBe(true);
    expect(res.output.endsWith("\n5000\n")).toBe(true);
    expect(res.output.split("\n").length).toBeLessThanOrEqual(2000);
    expect(res.metadata.truncated).toBe(true);
    const saved = readFileSync(res.metadata.outputPath, "utf8");
    expect(saved.split("\n").length).toBe(5001);
  });

  it("tailTruncate cuts a single huge line on a character boundary", () => {
    const cut = tailTruncate("é".repeat(100), 10, 11);
    expect(cut.cut).toBe(true);
    expect(cut.text).toBe("é".repeat(5));
  });

  it("describes itself like the built-in (bash on linux)", () => {
    const d = bashDescription(120000);
    expect(d.startsWith("Executes a given bash command in a persistent shell session")).toBe(true);
    expect(d).toContain("commands will time out after 120000ms");
    expect(d).toContain("If the output exceeds 2000 lines or 51200 bytes");
    // The built-in's arguments, then the background mode's.
    expect(Object.keys(bash.args)).toEqual(["command", "timeout", "workdir", "background"]);
  });

  it("does not run a command the user denied", async () => {
    const { ctx } = fakeCtx({ deny: (r) => r.permission === "bash" });
    await expect(run(bash, { command: "touch denied-marker" }, ctx)).rejects.toThrow(/permission denied/);
    expect(existsSync(join(env.root, "denied-marker"))).toBe(false);
  });
});
