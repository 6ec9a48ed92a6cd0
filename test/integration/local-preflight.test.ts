/** Preflight and doctor: one clear, typed message with the fix — never a stack trace mid-session. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isSandboxError } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { harness, memoryLogger, type Harness } from "../support/local-harness.js";

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(async () => {
  await h?.cleanup();
});

describe("local provider preflight", () => {
  it("passes here, and the diagnosis reports runtime, privileges and limits", async () => {
    await h.provider.preflight();
    const report = await h.provider.diagnose();
    const check = (name: string) => report.checks.find((c) => c.name === name);
    expect(report).toMatchObject({ provider: "local", available: true });
    expect(check("agent runtime")).toMatchObject({ ok: true, detail: expect.stringMatching(/^\//) });
    expect(check("privileges")?.detail).toMatch(process.getuid?.() === 0 ? /own unprivileged host uid/ : /this user/);
    expect(check("open files limit")).toMatchObject({ ok: true, detail: expect.stringMatching(/^1024 files: RLIMIT_NOFILE/) });
    // What is not enforced is a warning with a fix, never a silent pass.
    for (const c of report.checks.filter((c) => !c.ok)) expect(c).toMatchObject({ warning: true, fix: expect.any(String) });
  });

  it("an unusable agent runtime fails preflight and create with one typed message naming the fix", async () => {
    const log = memoryLogger();
    const p = h.make({ runtime: "/nonexistent/node", log });
    const error = await p.preflight().catch((e) => e);
    expect(isSandboxError(error, "unavailable")).toBe(true);
    expect(error.message).toMatch(/no JavaScript runtime[\s\S]*install nodejs/);
    expect(error.message).not.toMatch(/Daytona/); // the provider knows nothing of the others; the service words that hint
    expect(error.message).not.toContain("\n");
    const onCreate = await p.create({ labels: {} }).catch((e) => e);
    expect(isSandboxError(onCreate, "unavailable")).toBe(true);
    const report = await p.diagnose();
    expect(report.available).toBe(false);
    expect(report.checks).toContainEqual({ name: "sandbox", ok: false, detail: error.message });
  });

  it("bounds how much output a command can make the host hold", async () => {
    const { MAX_OUTPUT_CHARS } = await import("../../.opencode/plugin/sandbox/providers/local/client.js");
    const sb = await h.provider.create({ labels: {} });
    let seen = 0;
    const r = await sb.exec(`head -c ${MAX_OUTPUT_CHARS + 1024 * 1024} /dev/zero | tr '\\0' 'x'`, { onOutput: (c) => (seen += c.length), timeoutMs: 60_000 });
    expect(r.exitCode).toBe(0);
    expect(seen).toBe(MAX_OUTPUT_CHARS + 1024 * 1024);
    expect(r.output.length).toBeLessThan(MAX_OUTPUT_CHARS + 1024 * 1024);
    expect(r.output).toContain("[output truncated");
  }, 60_000);
});
