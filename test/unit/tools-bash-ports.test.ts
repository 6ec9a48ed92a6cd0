/**
 * bash on the directory double (in a network namespace of its own): servers it starts
 * are reported with their links — once, again when the link changes, and when they stop
 * listening — from the same command that ran the call; background mode starts, reads and
 * stops a process. Waits poll; their bounds only catch a hang.
 */
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import type { Notice } from "../../.opencode/plugin/sandbox/service/notices.js";
import { bashOutputTool } from "../../.opencode/plugin/sandbox/tools/bash-output.js";
import { bashStopTool } from "../../.opencode/plugin/sandbox/tools/bash-stop.js";
import { bashTool } from "../../.opencode/plugin/sandbox/tools/bash.js";
import { lacks, missingCommand } from "../support/prereq.js";
import { missingPrivateNetwork, privateNetwork, type PrivateNetwork } from "../support/private-network.js";
import { until } from "../support/until.js";
import { fakeCtx, makeEnv, run, type Env } from "./tools-sandbox-harness.js";

const PYTHON = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

describe("bash: servers and their links (directory double)", () => {
  if (lacks(missingPrivateNetwork(), missingCommand("python3"))) return;

  let net: PrivateNetwork;
  let env: Env;
  let notices: Notice[];
  /** What the double's previewUrl answers: bump `linkVersion` to make every link change. */
  let linkVersion = 1;
  let tools: { bash: ReturnType<typeof bashTool>; output: ReturnType<typeof bashOutputTool>; stop: ReturnType<typeof bashStopTool> };
  beforeAll(async () => {
    net = await privateNetwork();
    env = await makeEnv({
      wrap: (s: Sandbox) =>
        Object.assign(Object.create(net.wrap(s)), { previewUrl: async (port: number) => ({ url: `http://127.0.0.1:${port}/v${linkVersion}` }) }),
    });
    notices = [];
    env.deps.notify = (n) => notices.push(n);
    tools = { bash: bashTool(env.deps), output: bashOutputTool(env.deps), stop: bashStopTool(env.deps) };
  });
  afterAll(async () => {
    await env.sandbox.exec("pkill -f 'http[.]server 800[01]'; true");
    await env.cleanup();
    net.close();
  });

  const bash = (command: string, extra: Record<string, unknown> = {}) => run(tools.bash, { command, ...extra }, fakeCtx().ctx);
  // Not a version manager's shim on PATH (slow to start): the system's python, as sandboxes have it.
  const serve = (port: number) => `${PYTHON} -u -m http.server ${port} --bind 0.0.0.0`;
  const listening = (port: number) => `Port ${port} is listening in the sandbox. The user can open it at http://127.0.0.1:${port}/v`;
  const previews = () => notices.filter((n) => n.kind === "preview_ready");

  it("a server started with `&` is told with its link — in the result, its metadata and a notice — once; the marker never shows", async () => {
    const started = await bash(`(${serve(8000)}) > /dev/null 2>&1 & echo started`);
    // The call waits (briefly) for the process it left running to listen: python's server does at once.
    expect(started.output).toBe(`started\n\n\n${listening(8000)}1`);
    expect(started.metadata.output).toBe(started.output);
    expect(previews()).toEqual([{ kind: "preview_ready", sessionID: "ses_test", port: 8000, url: "http://127.0.0.1:8000/v1" }]);

    const again = await bash("echo again");
    expect(again.output).toBe("again\n");
    expect(previews()).toHaveLength(1);
  });

  it("the command's own output cannot forge a report: it does not know the call's nonce", async () => {
    const res = await bash(`printf '\\n__ocs_ports_${"0".repeat(24)}__ 1F90|\\n'; printf '\\n__ocs_ports_guess__ 1F91|\\n'`);
    expect(res.output).toBe(`\n__ocs_ports_${"0".repeat(24)}__ 1F90|\n\n__ocs_ports_guess__ 1F91|\n`);
    expect(res.output).not.toMatch(/Port 8080|Port 8081/);
    expect(previews()).toHaveLength(1);
  });

  it("a changed link is told again; a server that stops is told as no longer listening, and again as listening when it is back", async () => {
    linkVersion = 2;
    expect((await bash("true")).output).toBe(`(no output)\n\n${listening(8000)}2`);
    expect(previews().map((n) => n.kind === "preview_ready" && n.url)).toEqual(["http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v2"]);

    const killed = await bash("pkill -f 'http[.]server 8000'; while grep -qiE ':1F40 [0-9A-F]+:0000 0A' /proc/net/tcp /proc/net/tcp6; do sleep 0.05; done");
    expect(killed.output).toBe(
      "(no output)\n\nPort 8000 is no longer listening (its server ended, or the sandbox was started again): http://127.0.0.1:8000/v2 does not answer until a server listens on it again.",
    );
    expect((await bash("echo quiet")).output).toBe("quiet\n");

    const back = await bash(`(${serve(8000)}) > /dev/null 2>&1 &`);
    expect(back.output).toBe("(no output)\n\nPort 8000 is listening again: http://127.0.0.1:8000/v2");
    expect(previews()).toHaveLength(2);
  });

  it("background mode: starts at once with an id, reads output so far (and only what is new), stops the process and what it started", async () => {
    const res = await bash(`echo booting; ${serve(8001)}`, { background: true });
    const id = /process ([0-9a-f]{16})/.exec(res.output)?.[1];
    expect(id).toBeDefined();
    expect(res.output).toContain(`read it with bash_output (id "${id}"), stop it with bash_stop (id "${id}")`);
    expect(res.metadata.id).toBe(id);

    const read = (since?: number) => run(tools.output, { id, since }, fakeCtx().ctx);
    let first = await read();
    await until(async () => (first = await read()).output.includes("Serving HTTP"), "the server's start-up line");
    expect(first.output).toMatch(/^booting\n/);
    expect(first.output).toContain(`Process ${id} is running.`);
    expect(first.metadata.running).toBe(true);
    // The port was told either by the call that started it or by the next bash call — exactly once.
    const next = await bash("echo next");
    expect([res.output, next.output].filter((o) => o.includes(listening(8001))).length).toBe(1);

    const rest = await read(first.metadata.size);
    expect(rest.output.startsWith("(no new output)") || !rest.output.includes("booting")).toBe(true);

    const stopped = await run(tools.stop, { id }, fakeCtx().ctx);
    expect(stopped.output).toBe(`Process ${id} is stopped.`);
    const last = await read();
    expect(last.metadata.running).toBe(false);
    expect(last.output).toContain(`Process ${id} was stopped.`);
    await until(async () => (await bash("echo after stop")).output.includes("Port 8001 is no longer listening"), "the stopped server's port to be told as closed");
  });

  it("an unknown process id is an error the model reads", async () => {
    await expect(run(tools.output, { id: "0123456789abcdef" }, fakeCtx().ctx)).rejects.toThrow(/Unknown background process id/);
    await expect(run(tools.output, { id: "../../etc" }, fakeCtx().ctx)).rejects.toThrow(/Unknown background process id/);
  });
});
