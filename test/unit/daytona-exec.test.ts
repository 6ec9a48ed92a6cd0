/**
 * Commands on Daytona, as the provider sends them, run by a real shell under both
 * daemon behaviours (split on spaces and exec'd, or piped into a shell) — with the
 * daemon's pipe wait and timeout reproduced, and answers lost before or after the
 * command ran. The real SDK against the Daytona stand-in is test/standin/.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CommandRunner, type Toolbox } from "../../.opencode/plugin/sandbox/providers/daytona/exec.js";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";

type Mode = "split" | "shell";

/** Older daemons: split on spaces, quotes group (and are dropped), nothing escapes. */
function splitCommand(command: string): string[] {
  const args: string[] = [];
  let current = "";
  let quote = "";
  for (const ch of command) {
    if ((ch === '"' || ch === "'") && (!quote || quote === ch)) quote = quote ? "" : ch;
    else if (ch === " " && !quote) {
      if (current) args.push(current);
      current = "";
    } else current += ch;
  }
  if (current) args.push(current);
  return args;
}

class DaemonError extends Error {
  constructor(name: string, message: string, readonly statusCode?: number) {
    super(message);
    this.name = name;
  }
}

/** A toolbox that runs on this host; `lose` decides which answers are lost, and when. */
function hostToolbox(mode: Mode, lose: (n: number) => "before" | "after" | undefined = () => undefined) {
  let n = 0;
  const sent: string[] = [];
  const toolbox: Toolbox = {
    async uploadFile(file, path) {
      await (await import("node:fs/promises")).mkdir(join(path, ".."), { recursive: true });
      await writeFile(path, file);
    },
    executeCommand(command, _cwd, _env, timeout) {
      const fault = lose(++n);
      sent.push(command);
      if (fault === "before") return Promise.reject(new DaemonError("DaytonaConnectionError", "socket hang up"));
      return new Promise((resolve, reject) => {
        const [file, ...args] = mode === "split" ? splitCommand(command) : ["sh"];
        const child = spawn(file!, args, { detached: true, stdio: [mode === "shell" ? "pipe" : "ignore", "pipe", "pipe"] });
        if (mode === "shell") child.stdin!.end(command);
        let output = "";
        child.stdout!.on("data", (c) => (output += c));
        child.stderr!.on("data", (c) => (output += c));
        let timedOut = false;
        const timer = timeout ? setTimeout(() => ((timedOut = true), process.kill(-child.pid!, "SIGKILL")), timeout * 1000) : undefined;
        // Like the daemon: the answer waits until every holder of the output pipes closed them.
        child.on("close", (code) => {
          clearTimeout(timer);
          if (timedOut) reject(new DaemonError("DaytonaTimeoutError", "command execution timeout", 408));
          else if (fault === "after") reject(new DaemonError("DaytonaInternalServerError", "bad gateway", 502));
          else resolve({ exitCode: code ?? -1, result: output });
        });
      });
    },
  };
  return { toolbox, sent };
}

const runner = (toolbox: Toolbox) => new CommandRunner({ toolbox, sandboxId: "sbx", apiUrl: "http://standin/api", log: silentLogger, retry: { attempts: 4, baseMs: 1, maxMs: 5 } });

describe.each<Mode>(["split", "shell"])("commands on a %s daemon", (mode) => {
  it.each([
    ["echo a && echo b", "a\nb\n", 0],
    [`echo 'one  two' "x$((1+2))" \`echo bt\``, "one  two x3 bt\n", 0],
    ["printf 'b\\na\\n' | sort", "a\nb\n", 0],
    ["echo 'héllo ✓'; exit 4", "héllo ✓\n", 4],
    ["echo out; echo err >&2", "out\nerr\n", 0],
    ["if then", expect.stringContaining("Syntax error"), 2],
  ])("%s", async (command, output, exitCode) => {
    const { toolbox, sent } = hostToolbox(mode);
    expect(await runner(toolbox).run(command, "/", {})).toEqual({ exitCode, output, timedOut: false, aborted: false });
    expect(sent).toHaveLength(1);
  });

  it("cwd, env values verbatim and stdin", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dt exec "));
    const { toolbox } = hostToolbox(mode);
    const value = `a 'b' "c" $d \`e\``;
    const r = await runner(toolbox).run(`pwd; printf '%s\\n' "$V"; cat`, dir, { V: value }, { stdin: "in put\n" });
    expect(r.output).toBe(`${dir}\n${value}\nin put\n`);
  });

  it("`server &` neither holds the answer nor dies with the call", async () => {
    const { toolbox } = hostToolbox(mode);
    const marker = `sleep 3${Math.floor(Math.random() * 1000)}`;
    const r = await runner(toolbox).run(`${marker} & echo started`, "/", {}, { timeoutMs: 60_000 });
    expect(r).toMatchObject({ exitCode: 0, output: "started\n", timedOut: false });
    const ps = await runner(hostToolbox(mode).toolbox).run(`pgrep -f '^${marker}$' >/dev/null && echo alive; pkill -f '^${marker}$'`, "/", {});
    expect(ps.output).toBe("alive\n");
  });

  it.each(["before", "after"] as const)("an answer lost %s the command ran: it ran exactly once, and its result comes back", async (when) => {
    const dir = await mkdtemp(join(tmpdir(), "dt-once-"));
    const { toolbox, sent } = hostToolbox(mode, (n) => (n === 1 ? when : undefined));
    const r = await runner(toolbox).run("echo x >> f; echo appended; exit 3", dir, {});
    expect(r).toEqual({ exitCode: 3, output: "appended\n", timedOut: false, aborted: false });
    expect(await readFile(join(dir, "f"), "utf8")).toBe("x\n");
    expect(sent.length).toBeGreaterThan(1); // it asked (or sent again) instead of giving up
  });

  it("a late copy of a re-sent command runs nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dt-late-"));
    const { toolbox, sent } = hostToolbox(mode);
    const r = await runner(toolbox).run("echo x >> f", dir, {});
    expect(r.exitCode).toBe(0);
    // The same request arriving again (a proxy's retry, a duplicate) finds the record.
    const again = await toolbox.executeCommand(sent[0]!);
    expect(again.exitCode).toBe(125);
    expect(await readFile(join(dir, "f"), "utf8")).toBe("x\n");
  });

  it("a timeout ends the command's whole session and keeps what it printed", async () => {
    const { toolbox } = hostToolbox(mode);
    const marker = `sleep 4${Math.floor(Math.random() * 1000)}`;
    const r = await runner(toolbox).run(`echo before; ${marker} & ${marker}`, "/", {}, { timeoutMs: 1000 });
    expect(r).toMatchObject({ timedOut: true, exitCode: null, output: "before\n" });
    const ps = await runner(hostToolbox(mode).toolbox).run(`pgrep -f '^${marker}$' || echo none`, "/", {});
    expect(ps.output).toBe("none\n");
  });

  it("a command longer than a command line may be travels as an upload", async () => {
    const { toolbox, sent } = hostToolbox(mode);
    const big = "x".repeat(200 * 1024);
    const r = await runner(toolbox).run(`printf %s '${big}' | wc -c`, "/", {});
    expect(r.output.trim()).toBe(String(big.length));
    expect(sent[0]!.length).toBeLessThan(1000);
  });

  it("a command in flight keeps the sandbox active (Daytona's auto-stop sees no activity otherwise), and only while it runs", async () => {
    const { toolbox } = hostToolbox(mode);
    let touches = 0;
    const r = new CommandRunner({ toolbox, sandboxId: "sbx", apiUrl: "x", log: silentLogger, keepAlive: { everyMs: 20, touch: async () => void touches++ } });
    await r.run("sleep 0.5", "/", {});
    expect(touches).toBeGreaterThan(0);
    const after = touches;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(touches).toBe(after);
  });
});

describe("a sandbox that is not started (stopped behind the plugin's back)", () => {
  /** What Daytona's runner answers (HTTP 400) for the toolbox of a sandbox that is not started. */
  const notStarted = () => new DaemonError("DaytonaBadRequestError", "bad request: failed to resolve container IP after 3 attempts: no IP address found. Is the Sandbox started?", 400);

  it("the command never reached it: not_running after one request, not retried, so the caller may start it and send the command again", async () => {
    const sent: string[] = [];
    const toolbox: Toolbox = {
      uploadFile: async () => {},
      executeCommand: async (command) => {
        sent.push(command);
        throw notStarted();
      },
    };
    await expect(runner(toolbox).run("echo x", "/", {})).rejects.toMatchObject({ name: "SandboxError", kind: "not_running" });
    expect(sent).toHaveLength(1);
  });

  it("stopped after the command was sent and its answer lost: the outcome is unknown (transient, never not_running) and it is not sent again", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dt-stopped-"));
    const host = hostToolbox("shell", (n) => (n === 1 ? "after" : undefined));
    let stopped = false;
    const toolbox: Toolbox = {
      uploadFile: host.toolbox.uploadFile,
      executeCommand: async (...args) => {
        if (stopped) throw notStarted();
        try {
          return await host.toolbox.executeCommand(...args);
        } finally {
          stopped = true; // stopped once the first request is done
        }
      },
    };
    await expect(runner(toolbox).run("echo x >> f", dir, {})).rejects.toMatchObject({ name: "SandboxError", kind: "transient", message: expect.stringMatching(/stopped while a command ran: whether it ran is unknown/) });
    expect(await readFile(join(dir, "f"), "utf8")).toBe("x\n");
    expect(host.sent).toHaveLength(1);
  });
});
