/**
 * Commands in a long-lived local sandbox: background jobs survive the call and do
 * not hold it open, timeouts/aborts end the whole process group, previews reach
 * servers inside in both network modes, big binary files round-trip.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { harness, type Harness } from "../support/local-harness.js";
import { lacks } from "../support/prereq.js";

function httpGet(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { timeout: 5000 }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end();
  });
}

/** Retries `fn` until it passes; the bound only catches a hang. */
async function until<T>(fn: () => Promise<T>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

// The agent on this node, and on the opencode binary (Bun) as inside OpenCode.
const OPENCODE = join(process.cwd(), "node_modules/opencode-linux-x64/bin/opencode");
const configs = [
  { network: "none" as const, runtime: undefined },
  { network: "isolated" as const, runtime: undefined },
  { network: "none" as const, runtime: OPENCODE },
];

for (const { network, runtime } of configs) {
  describe(`local sandbox commands (network ${network}, agent on ${runtime ? "opencode/Bun" : "node"})`, () => {
    if (runtime && lacks(existsSync(runtime) ? undefined : `the pinned OpenCode binary is not installed (${runtime}): npm ci`)) return;
    let h: Harness;
    let sb: Sandbox;
    beforeAll(async () => {
      h = await harness({ network, runtime });
      sb = await h.provider.create({ labels: { test: "exec" } });
    });
    afterAll(async () => {
      await h?.cleanup();
    });

    it("runs through a real shell in the project dir with exit codes and output", async () => {
      const r = await sb.exec("echo out; echo err >&2; pwd; exit 3");
      expect(r.exitCode).toBe(3);
      expect(r.output).toContain("out\n");
      expect(r.output).toContain("err\n");
      expect(r.output).toContain("/workspace\n");
      const chunks: string[] = [];
      const s = await sb.exec("cat; echo; echo $FOO", { stdin: "from-stdin", env: { FOO: "bar" }, onOutput: (c) => chunks.push(c), cwd: "/tmp" });
      expect(s.output).toBe("from-stdin\nbar\n");
      expect(chunks.join("")).toBe(s.output);
    });

    it("`server &` returns promptly, keeps running, and answers on the host through previewUrl", async () => {
      // The server never exits: waiting for it would run into the timeout.
      const r = await sb.exec("mkdir -p /tmp/www && echo hello-preview > /tmp/www/index.html && cd /tmp/www && python3 -m http.server 8000 &", { timeoutMs: 60_000 });
      expect(r.timedOut).toBeFalsy();
      expect(r.exitCode).toBe(0);
      const link = await sb.previewUrl(8000);
      expect(link.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await until(() => httpGet(`${link.url}/index.html`));
      expect(res.status).toBe(200);
      expect(res.body).toBe("hello-preview\n");
      // Served again after a few more calls: the job and /tmp persist between calls.
      expect((await sb.exec("cat /tmp/www/index.html")).output).toBe("hello-preview\n");
      expect((await httpGet(`${link.url}/index.html`)).status).toBe(200);
    });

    it("a timeout ends the command's whole process group, background jobs included", async () => {
      const t0 = Date.now();
      const r = await sb.exec("sleep 301 & sleep 302; echo never", { timeoutMs: 500 });
      expect(Date.now() - t0).toBeLessThan(60_000); // not the 302 s the command asked for
      expect(r.timedOut).toBe(true);
      expect(r.exitCode).toBeNull();
      expect(r.output).not.toContain("never");
      // The group is killed at once; its processes are gone as soon as they are reaped.
      await until(async () => expect((await sb.exec("ps -eo args")).output).not.toMatch(/sleep 30[12]/));
    });

    it("a command that exits without reading a large stdin still returns its result", async () => {
      for (let i = 0; i < 5; i++) {
        const r = await sb.exec("echo quick", { stdin: Buffer.alloc(8 * 1024 * 1024, 120) });
        expect(r).toMatchObject({ exitCode: 0, output: "quick\n" });
      }
    });

    it("runs concurrent commands independently", async () => {
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => sb.exec(`sleep 0.0${i % 5}; echo ${i}`)));
      expect(results.map((r) => r.output)).toEqual(Array.from({ length: 20 }, (_, i) => `${i}\n`));
    });

    it("survives commands that kill node processes or signal everything politely", async () => {
      await sb.exec("pkill node; killall node; pkill -f node; pkill -f agent; kill -TERM -1; kill -HUP -1; true");
      // Signals still in flight would end the next commands: several must answer.
      for (let i = 0; i < 5; i++) expect((await sb.exec("echo still-here")).output).toBe("still-here\n");
    });

    it("an abort ends the command's process group", async () => {
      const ac = new AbortController();
      // Aborted once both sleeps run, however long starting them takes here.
      const r = await sb.exec("sleep 303 & echo started; sleep 304", {
        signal: ac.signal,
        onOutput: (chunk) => chunk.includes("started") && ac.abort(),
      });
      expect(r.aborted).toBe(true);
      expect(r.exitCode).toBeNull();
      await until(async () => expect((await sb.exec("ps -eo args")).output).not.toMatch(/sleep 30[34]/));
    });
  });
}

describe("local sandbox files", () => {
  let h: Harness;
  let sb: Sandbox;
  beforeAll(async () => {
    h = await harness();
    sb = await h.provider.create({ labels: { test: "files" } });
  });
  afterAll(async () => {
    await h?.cleanup();
  });

  it("round-trips a 100 MB binary file exactly", async () => {
    const data = randomBytes(100 * 1024 * 1024);
    await sb.writeFile("/workspace/big.bin", data);
    const sum = await sb.exec("sha256sum big.bin");
    expect(sum.output.split(" ")[0]).toBe(createHash("sha256").update(data).digest("hex"));
    const back = await sb.readFile("big.bin");
    expect(back.byteLength).toBe(data.length);
    expect(Buffer.from(back).equals(data)).toBe(true);
    await sb.exec("rm big.bin");
  }, 60_000);

  it("maps errors to typed SandboxErrors and stats without following the final link", async () => {
    await expect(sb.readFile("/workspace/missing")).rejects.toMatchObject({ kind: "file_not_found" });
    await expect(sb.readFile("/workspace")).rejects.toMatchObject({ kind: "is_directory" });
    await expect(sb.writeFile("/usr/evil", "x")).rejects.toMatchObject({ kind: "permission_denied" });
    await sb.writeFile("a/b/c.txt", "deep");
    await sb.exec("ln -s a/b/c.txt link && chmod +x a/b/c.txt");
    expect(await sb.stat("link")).toMatchObject({ type: "symlink" });
    expect(await sb.stat("nothing")).toBeNull();
    expect((await sb.readDir("a/b")).map((e) => e.name)).toEqual(["c.txt"]);
    await sb.writeFile("a/b/c.txt", "replaced");
    expect((await sb.exec("test -x a/b/c.txt && cat link")).output).toBe("replaced");
    expect((await sb.exec("stat -c %U a/b/c.txt")).output.trim()).toBe("user");
  });
});
