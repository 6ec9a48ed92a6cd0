/**
 * The local sandbox's agent reads regular files only: a FIFO nobody writes to is
 * refused at once (it used to hold the request until the host's 60 s deadline), a
 * device such as /dev/zero too (it used to stream 512 MiB into the host's memory
 * before the size cap stopped it), each with a typed error naming what the path is; a
 * regular file over the cap is refused from its size instead of after 512 MiB moved.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { SandboxError } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { harness, type Harness } from "../support/local-harness.js";
import { lacks, missingBwrap } from "../support/prereq.js";

describe("reading special files in a local sandbox", () => {
  if (lacks(missingBwrap())) return;
  let h: Harness;
  let sandbox: Sandbox;
  beforeAll(async () => {
    h = await harness();
    sandbox = await h.provider.create({ labels: { test: "special-files" } });
    const r = await sandbox.exec("mkfifo fifo && printf 'x' > plain && mkdir dir");
    expect(r.exitCode).toBe(0);
  }, 120_000);
  afterAll(async () => h?.cleanup(), 120_000);

  it.each([
    ["fifo", "a FIFO"],
    ["/dev/zero", "a character device"],
    ["/dev/urandom", "a character device"],
    ["/dev/null", "a character device"],
  ])("%s is refused as %s", async (path, kind) => {
    const target = path.startsWith("/") ? path : `${sandbox.projectDir}/${path}`;
    const error = await sandbox.readFile(target).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SandboxError);
    expect((error as SandboxError).kind).toBe("bad_input");
    expect((error as Error).message).toBe(`Not a regular file (${kind}): ${target}`);
  });

  it("a write over a FIFO is refused, not held until the deadline", async () => {
    const target = `${sandbox.projectDir}/fifo`;
    // With an expected content (the tools' compare-and-swap) the FIFO would have been read.
    await expect(sandbox.writeFile(target, "x", { expect: null })).rejects.toMatchObject({ kind: "bad_input", message: `Not a regular file (a FIFO): ${target}` });
  });

  it("a command over Linux's 128 KiB argument cap fails saying so, not as 'agent error E2BIG'", async () => {
    await expect(sandbox.exec(`: ${"a".repeat(200 * 1024)}; echo done`)).rejects.toMatchObject({ kind: "bad_input", message: expect.stringMatching(/^Command too long: .*128 KiB/) });
  });

  it("a file larger than the read cap is refused from its size, before a byte moves", async () => {
    expect((await sandbox.exec("truncate -s 8G sparse.img")).exitCode).toBe(0);
    const target = `${sandbox.projectDir}/sparse.img`;
    await expect(sandbox.readFile(target)).rejects.toMatchObject({
      kind: "bad_input",
      message: `File too large to read (larger than ${512 * 1024 * 1024} bytes): ${target}`,
    });
  });

  it("regular files, /proc files and directories read as before", async () => {
    expect(Buffer.from(await sandbox.readFile(`${sandbox.projectDir}/plain`)).toString()).toBe("x");
    expect(Buffer.from(await sandbox.readFile("/proc/self/status")).toString()).toContain("Pid:");
    await expect(sandbox.readFile(`${sandbox.projectDir}/dir`)).rejects.toMatchObject({ kind: "is_directory" });
    await expect(sandbox.readFile(`${sandbox.projectDir}/${"n".repeat(300)}`)).rejects.toMatchObject({ kind: "bad_input", message: expect.stringMatching(/^File name too long/) });
  });
});
