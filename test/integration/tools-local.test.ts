/** The bash/glob/grep/webfetch tools on the real local (bubblewrap) provider. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { bashTool } from "../../.opencode/plugin/sandbox/tools/bash.js";
import type { ToolDeps } from "../../.opencode/plugin/sandbox/tools/deps.js";
import { globTool } from "../../.opencode/plugin/sandbox/tools/glob.js";
import { grepTool } from "../../.opencode/plugin/sandbox/tools/grep.js";
import { webfetchTool } from "../../.opencode/plugin/sandbox/tools/webfetch.js";
import { ConfigSchema } from "../../.opencode/plugin/sandbox/config.js";
import { harness, type Harness } from "../support/local-harness.js";
import { fakeCtx, HOST_DIR, nullLogger, run } from "../unit/tools-sandbox-harness.js";
import { KeyedQueue } from "../../.opencode/plugin/sandbox/util/keyed-queue.js";

const SECRET = "host-loopback-secret-91c2";
let h: Harness;
let sandbox: Sandbox;
let deps: ToolDeps;
let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end(SECRET));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
  h = await harness({ network: "isolated" });
  sandbox = await h.provider.create({ labels: { test: "tools" } });
  deps = { directory: HOST_DIR, sandboxFor: async () => sandbox, config: ConfigSchema.parse({}), log: nullLogger, locks: new KeyedQueue() };
  await sandbox.exec("mkdir -p src && printf 'hello\\n' > src/a.ts && printf 'x\\n' > b.txt");
}, 120_000);
afterAll(async () => {
  server.close();
  await h?.cleanup();
});

describe("tools on the local provider", () => {
  it("bash runs in the sandbox's project directory", async () => {
    const res = await run(bashTool(deps), { command: "pwd; echo hi" }, fakeCtx().ctx);
    expect(res.output).toBe(`${sandbox.projectDir}\nhi\n`);
    expect(res.metadata.exit).toBe(0);
  });

  it("glob and grep answer with host paths", async () => {
    const g = await run(globTool(deps), { pattern: "**/*.ts" }, fakeCtx().ctx);
    expect(g.output).toBe(`${HOST_DIR}/src/a.ts`);
    const r = await run(grepTool(deps), { pattern: "hel+o" }, fakeCtx().ctx);
    expect(r.output).toBe(`Found 1 matches\n${HOST_DIR}/src/a.ts:\n  Line 1: hello\n`);
  });

  it.each(["127.0.0.1", "localhost", "10.0.2.2"])("webfetch of the host's loopback via %s never returns its content", async (host) => {
    const url = `http://${host}:${port}/`;
    const result = await run(webfetchTool(deps), { url, format: "text", timeout: 5 }, fakeCtx().ctx).then(
      (r) => r.output,
      (e: Error) => e.message,
    );
    expect(result).not.toContain(SECRET);
  });

  it("webfetch of localhost reaches a server inside the sandbox", async () => {
    expect((await sandbox.exec("command -v python3 && command -v curl")).exitCode).toBe(0);
    await sandbox.exec("printf 'inside the sandbox\\n' > /tmp/opencode-served.txt && cd /tmp && (python3 -m http.server 18931 >/dev/null 2>&1 &)");
    // Listening once it answers; the bound (60 s) only catches a hang.
    const up = await sandbox.exec("for i in $(seq 600); do curl -s -o /dev/null 127.0.0.1:18931/ && exit 0; sleep 0.1; done; exit 1");
    expect(up.exitCode).toBe(0);
    const res = await run(webfetchTool(deps), { url: "http://127.0.0.1:18931/opencode-served.txt", format: "text" }, fakeCtx().ctx);
    expect(res.output).toBe("inside the sandbox\n");
  });
});
