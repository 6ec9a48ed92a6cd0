import { mkdtemp, readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FileLogger } from "../../.opencode/plugin/sandbox/core/logger.js";

async function logger(maxBytes?: number) {
  const dir = await mkdtemp(join(tmpdir(), "log-"));
  const path = join(dir, "daytona.log");
  return { log: new FileLogger({ path, maxBytes, level: "debug" }), path };
}

describe("FileLogger", () => {
  it("writes `[ISO time] [LEVEL] [session] message` lines", async () => {
    const { log, path } = await logger();
    log.info("hello", "ses_1");
    log.warn("no session");
    await log.flush();
    const lines = (await readFile(path, "utf8")).trim().split("\n");
    expect(lines[0]).toMatch(/^\[\d{4}-\d\d-\d\dT[\d:.]+Z\] \[INFO\] \[ses_1\] hello$/);
    expect(lines[1]).toMatch(/\[WARN\] \[-\] no session$/);
  });

  it.each([
    ["a registered API key", "dtn_0123456789abcdef0123456789", (k: string) => `creating sandbox with key ${k} at url`],
    ["a preview token", "tok-preview-9f8e7d6c", (k: string) => `preview https://8000-x.proxy/?x-daytona-preview-token=${k}`],
    ["a secret sandbox variable", "s3cr3t-value-xyz", (k: string) => `env STRIPE_KEY=${k}`],
    ["a secret inside an error's JSON", "dtn_abcdefabcdefabcdef", (k: string) => JSON.stringify({ headers: { Authorization: `Bearer ${k}` } })],
  ])("never writes %s", async (_name, secret, message) => {
    const { log, path } = await logger();
    log.addSecret(secret);
    log.error(message(secret));
    await log.flush();
    const text = await readFile(path, "utf8");
    expect(text).not.toContain(secret);
    expect(text).toContain("[REDACTED]");
  });

  it("redacts token shapes nobody registered", async () => {
    const { log, path } = await logger();
    log.info("Authorization: Bearer abc.def.ghi and dtn_unregistered_key_123456");
    await log.flush();
    const text = await readFile(path, "utf8");
    expect(text).not.toContain("abc.def.ghi");
    expect(text).not.toContain("dtn_unregistered_key_123456");
  });

  it("rotates at the size bound", async () => {
    const { log, path } = await logger(2000);
    for (let i = 0; i < 100; i++) log.info(`line ${i} ${"x".repeat(40)}`);
    await log.flush();
    expect((await stat(path)).size).toBeLessThanOrEqual(2000);
    expect((await stat(`${path}.1`)).size).toBeGreaterThan(0);
    expect(await readFile(path, "utf8")).toContain("line 99");
  });

  it("does not make the caller wait for the disk", async () => {
    const { log, path } = await logger();
    expect(log.info("queued")).toBeUndefined();
    await expect(stat(path)).rejects.toMatchObject({ code: "ENOENT" });
    await log.flush();
    expect(await readFile(path, "utf8")).toContain("queued");
  });
});
