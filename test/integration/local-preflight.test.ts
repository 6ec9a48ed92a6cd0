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
  it("passes here, and doctor reports runtime, privileges and limits", async () => {
    await h.provider.preflight();
    const report = await h.provider.doctor();
    expect(report.available).toBe(true);
    expect(report.runtime).toBeTruthy();
    expect(report.privileges).toMatch(process.getuid?.() === 0 ? /own unprivileged host uid/ : /this user/);
    expect(report.limits.maxOpenFiles.enforced).toBe(true);
  });

  it("an unusable agent runtime fails preflight and create with one typed message naming the fix", async () => {
    const log = memoryLogger();
    const p = h.make({ runtime: "/nonexistent/node", log });
    const error = await p.preflight().catch((e) => e);
    expect(isSandboxError(error, "unavailable")).toBe(true);
    expect(error.message).toMatch(/no JavaScript runtime[\s\S]*install nodejs[\s\S]*Daytona/);
    expect(error.message).not.toContain("\n");
    const onCreate = await p.create({ labels: {} }).catch((e) => e);
    expect(isSandboxError(onCreate, "unavailable")).toBe(true);
    expect((await p.doctor()).problem).toBe(error.message);
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
