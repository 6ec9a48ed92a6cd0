/**
 * bash's servers on every provider (local bubblewrap, Daytona through the real SDK and
 * the stand-in): background mode starts, reads and stops a process; a server started
 * with `&` is told with a link that answers from the host — and on Daytona, finding
 * it costs no request beyond the command's own (and the link's first, cached after).
 * Waits poll; their bounds only catch a hang.
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigSchema } from "../../.opencode/plugin/sandbox/config.js";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { DaytonaProvider } from "../../.opencode/plugin/sandbox/providers/daytona/index.js";
import type { Sandbox, SandboxProvider } from "../../.opencode/plugin/sandbox/providers/provider.js";
import type { Notice } from "../../.opencode/plugin/sandbox/service/notices.js";
import { bashOutputTool } from "../../.opencode/plugin/sandbox/tools/bash-output.js";
import { bashStopTool } from "../../.opencode/plugin/sandbox/tools/bash-stop.js";
import { bashTool } from "../../.opencode/plugin/sandbox/tools/bash.js";
import type { ToolDeps } from "../../.opencode/plugin/sandbox/tools/deps.js";
import { KeyedQueue } from "../../.opencode/plugin/sandbox/util/keyed-queue.js";
import { contractProviders } from "../contract/providers.js";
import { startDaytonaStandin, type DaytonaStandin } from "../standin/daytona/index.js";
import { lacks, missingBwrap, missingCommand } from "../support/prereq.js";
import { until } from "../support/until.js";
import { fakeCtx, HOST_DIR, run } from "../unit/tools-sandbox-harness.js";

/** The tools of one plugin instance; `sandbox()` is the handle they get (a new one after a restart). */
function toolsFor(sandbox: () => Sandbox, notices: Notice[]) {
  const deps: ToolDeps = {
    directory: HOST_DIR,
    sandboxFor: async () => sandbox(),
    config: ConfigSchema.parse({}),
    log: silentLogger,
    locks: new KeyedQueue(),
    notify: (n) => notices.push(n),
  };
  const bash = bashTool(deps);
  const output = bashOutputTool(deps);
  const stop = bashStopTool(deps);
  return {
    bash: (command: string, extra: Record<string, unknown> = {}) => run(bash, { command, ...extra }, fakeCtx().ctx),
    output: (id: string, since?: number) => run(output, { id, since }, fakeCtx().ctx),
    stop: (id: string) => run(stop, { id }, fakeCtx().ctx),
  };
}

const linkOf = (text: string, port: number) => new RegExp(`Port ${port} is listening in the sandbox\\. The user can open it at (\\S+)`).exec(text)?.[1];

async function fetchText(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    return res.ok ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

describe.each(contractProviders)("bash servers: $name", (entry) => {
  if (lacks(entry.missing(), missingCommand("python3"))) return;

  let cleanup: () => Promise<void>;
  let provider: SandboxProvider;
  let sandbox: Sandbox;
  const notices: Notice[] = [];
  let t: ReturnType<typeof toolsFor>;
  beforeAll(async () => {
    ({ provider, cleanup } = await entry.make());
    sandbox = await provider.create({ labels: { test: "bash-servers" } });
    t = toolsFor(() => sandbox, notices);
  }, 120_000);
  afterAll(async () => {
    await cleanup?.();
  });

  it("background mode: returns at once with an id; its output so far, then only what is new; stopped with what it started", async () => {
    const started = await t.bash("echo booting; sh -c 'sleep 600' & echo child; python3 -u -c 'import time\nfor i in range(100000): print(\"tick\", i, flush=True); time.sleep(0.05)'", { background: true });
    const id = /process ([0-9a-f]{16})/.exec(started.output)![1]!;
    let first = await t.output(id);
    await until(async () => (first = await t.output(id)).output.includes("tick 2"), "the process's output");
    expect(first.output).toMatch(/^booting\nchild\ntick 0\n/);
    expect(first.metadata.running).toBe(true);
    let next = await t.output(id, first.metadata.size);
    await until(async () => !(next = await t.output(id, first.metadata.size)).output.startsWith("(no new output)"), "more output");
    expect(next.output).not.toContain("booting");
    expect(next.output).toMatch(/^tick \d+\n/);

    expect((await t.stop(id)).output).toBe(`Process ${id} is stopped.`);
    const last = await t.output(id);
    expect(last.metadata.running).toBe(false);
    expect(last.output).toContain(`Process ${id} was stopped.`);
    // Everything it started is gone too (the `sleep 600` child).
    expect((await t.bash("ps -eo args | grep -c '[s]leep 600'; true")).output.trim()).toBe("0");
  }, 120_000);

  it("a server started with `&` is told with a link that answers from the host, once; when it stops, that is told", async () => {
    const nonce = randomBytes(8).toString("hex");
    await t.bash(`mkdir -p /tmp/site && echo ${nonce} > /tmp/site/index.html`);
    const res = await t.bash("python3 -m http.server 8123 --directory /tmp/site > /tmp/site.log 2>&1 &");
    const link = linkOf(res.output, 8123);
    expect(link, res.output).toBeDefined();
    expect(res.output).not.toContain("__ocs_ports_");
    expect(notices).toContainEqual({ kind: "preview_ready", sessionID: "ses_test", port: 8123, url: link });
    let body: string | undefined;
    await until(async () => (body = await fetchText(link!)) !== undefined, "the link to answer");
    expect(body!.trim()).toBe(nonce);

    expect((await t.bash("echo quiet")).output).toBe("quiet\n");
    const stopped = await t.bash("pkill -f 'http[.]server 8123'; while grep -qiE ':1FBB [0-9A-F]+:0000 0A' /proc/net/tcp /proc/net/tcp6; do sleep 0.05; done");
    expect(stopped.output).toContain("Port 8123 is no longer listening");
  }, 120_000);

  it("after the sandbox is stopped and started again, the next bash result says which servers no longer listen", async () => {
    const res = await t.bash("python3 -m http.server 8125 > /dev/null 2>&1 &");
    const link = linkOf(res.output, 8125);
    expect(link, res.output).toBeDefined();
    await provider.stop(sandbox.id);
    await provider.start(sandbox.id);
    sandbox = await provider.connect(sandbox.id);
    const next = await t.bash("echo back");
    expect(next.output).toBe(
      `back\n\n\nPort 8125 is no longer listening (its server ended, or the sandbox was started again): ${link} does not answer until a server listens on it again.`,
    );
  }, 180_000);
});

describe("bash servers on Daytona: what finding a server costs (stand-in request log)", () => {
  if (lacks(missingBwrap(), missingCommand("python3"))) return;

  let standin: DaytonaStandin;
  let provider: DaytonaProvider;
  let t: ReturnType<typeof toolsFor>;
  beforeAll(async () => {
    standin = await startDaytonaStandin({ daemon: "shell" });
    const { apiKey: _, ...defaults } = ConfigSchema.parse({}).daytona;
    provider = new DaytonaProvider({ ...defaults, apiKey: standin.apiKey, apiUrl: standin.apiUrl, target: "us", installationId: "bashsrv000000000", log: silentLogger });
    const sandbox = await provider.create({ labels: { test: "bash-servers-cost" } });
    t = toolsFor(() => sandbox, []);
  }, 120_000);
  afterAll(async () => {
    await provider?.dispose();
    await standin?.close();
  });

  const requestsOf = async (command: string) => {
    standin.resetRequests();
    const res = await t.bash(command);
    return { res, requests: standin.requests.map((r) => `${r.method} ${r.path.replace(/^\/(toolbox|api\/sandbox)\/[^/]+/, "$1/{id}")}`) };
  };

  it("a bash call is one request, with the port report riding on it; a new server's link is one more (then cached)", async () => {
    const plain = await requestsOf("echo hi");
    expect(plain.res.output).toBe("hi\n");
    expect(plain.requests).toEqual(["POST toolbox/{id}/process/execute"]);

    const server = await requestsOf("python3 -m http.server 8124 > /dev/null 2>&1 &");
    expect(linkOf(server.res.output, 8124)).toBeDefined();
    console.log(`requests of the call that started a server: ${JSON.stringify(server.requests)}`);
    expect(server.requests[0]).toBe("POST toolbox/{id}/process/execute");
    expect(server.requests).toHaveLength(2); // the command, and the server's signed link

    const after = await requestsOf("echo again");
    expect(after.res.output).toBe("again\n");
    expect(after.requests).toEqual(["POST toolbox/{id}/process/execute"]);
  }, 120_000);
});
