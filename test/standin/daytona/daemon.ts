/**
 * The daemon of a stand-in sandbox: like Daytona's, one long-lived process per boot of
 * the sandbox, listening inside it (127.0.0.1:2280, the toolbox port), that runs each
 * `process/execute` command. It replaces a helper runtime started per command, which
 * cost ~0.2 s of CPU per command — at 20 busy sandboxes on 2 cores, a third of the
 * machine.
 *
 * It runs on the sandbox agent's own runtime (`/proc/$PPID/exe` of a command: node or
 * Bun), is reached through the local sandbox's port forwarder (`previewUrl`), and
 * spawns each command exactly as the daemon does (exec.ts says how): execvp or the
 * user's shell, one pipe for both streams, the answer once every holder of that pipe
 * closed it, the timeout's kill. A daemon found dead (a command killed it) is started
 * again for the next request; the request that found it answers 502, as Daytona's proxy
 * does when its daemon does not answer.
 */
import { request } from "node:http";
import { randomBytes } from "node:crypto";
import type { Sandbox } from "../../../.opencode/plugin/sandbox/providers/provider.js";
import { shq } from "../../../.opencode/plugin/sandbox/util/shell.js";
import type { DaemonMode } from "./exec.js";

/** Daytona's toolbox port inside a sandbox. */
export const DAEMON_PORT = 2280;

/** What the daemon is asked to run (exec.ts builds it). */
export interface DaemonRequest {
  mode: DaemonMode;
  command: string;
  argv: string[];
  cwd: string;
  envs?: unknown;
  timeoutSec: number;
}

export interface DaemonResult {
  exitCode: number;
  result: string;
  timedOut?: boolean;
}

export class DaemonUnreachable extends Error {}

const SOURCE = String.raw`
"use strict";
const http = require("http");
const { spawn } = require("child_process");
const fs = require("fs");
try { process.title = "daytona-daemon"; } catch {}
const base = Object.assign({}, process.env);
delete base.BUN_BE_BUN;
const [port, ready] = process.argv.slice(-2);

function run(req, answer) {
  const env = Object.assign({}, base);
  if (req.mode === "shell" && req.envs) Object.assign(env, req.envs);
  try { if (!fs.statSync(req.cwd).isDirectory()) throw new Error("not a directory"); }
  catch (e) { return answer({ exitCode: -1, result: req.mode === "shell" ? "chdir " + req.cwd + ": " + (e.code === "ENOENT" ? "no such file or directory" : "not a directory") : "" }); }
  let child;
  const opts = { cwd: req.cwd, env, stdio: [req.mode === "shell" ? "pipe" : "ignore", "pipe", "ignore"], detached: req.mode === "shell" };
  if (req.mode === "shell") {
    let shells = "";
    try { shells = fs.readFileSync("/etc/shells", "utf8"); } catch {}
    const shell = ["/usr/bin/zsh", "/bin/zsh", "/usr/bin/bash", "/bin/bash"].find((s) => shells.includes(s)) || env.SHELL || "sh";
    // One pipe for both streams, as Go does when Stdout and Stderr are the same writer.
    child = spawn("/bin/sh", ["-c", 'exec "$0" 2>&1', shell], opts);
    child.stdin.on("error", () => {});
    child.stdin.end(req.command);
  } else {
    const lookPath = (name) => {
      const ok = (p) => { try { fs.accessSync(p, fs.constants.X_OK); return fs.statSync(p).isFile(); } catch { return false; } };
      if (name.includes("/")) return ok(name);
      return (env.PATH || "").split(":").some((d) => ok((d || ".") + "/" + name));
    };
    if (!lookPath(req.argv[0])) return answer({ exitCode: -1, result: "" });
    child = spawn("/bin/sh", ["-c", 'exec "$@" 2>&1', "sh"].concat(req.argv), opts);
  }
  const out = [];
  let exitCode = -1, timedOut = false, timer;
  child.stdout.on("data", (c) => out.push(c));
  if (req.timeoutSec > 0) timer = setTimeout(() => {
    timedOut = true;
    try { req.mode === "shell" ? process.kill(-child.pid, "SIGKILL") : child.kill("SIGKILL"); } catch {}
  }, req.timeoutSec * 1000);
  child.on("error", (e) => { clearTimeout(timer); answer({ exitCode: -1, result: String(e.message) }); });
  child.on("exit", (code) => { exitCode = code === null ? -1 : code; });
  // "close": the process exited AND every holder of its output pipe closed it.
  child.on("close", () => { clearTimeout(timer); answer({ exitCode, result: Buffer.concat(out).toString("utf8"), timedOut }); });
}

const server = http.createServer((q, s) => {
  if (q.method === "GET") return s.end("ok");
  const chunks = [];
  q.on("data", (c) => chunks.push(c));
  q.on("end", () => {
    let answered = false;
    run(JSON.parse(Buffer.concat(chunks).toString("utf8")), (r) => {
      if (answered) return;
      answered = true;
      s.writeHead(200, { "content-type": "application/json" });
      s.end(JSON.stringify(r));
    });
  });
});
server.requestTimeout = 0;
// This boot's daemon already serves (a new handle on a sandbox that kept running).
server.on("error", (e) => { if (e.code === "EADDRINUSE") fs.writeFileSync(ready, "in use"); else console.error(e); process.exit(e.code === "EADDRINUSE" ? 0 : 1); });
server.listen(Number(port), "127.0.0.1", () => fs.writeFileSync(ready, String(process.pid)));
`;

/** Waits (a bound for a hang) for the daemon's ready file; fails with the daemon's own error otherwise. */
function startScript(ready: string): string {
  const log = `${ready}.log`;
  return (
    `mkdir -p /tmp/.daytona-standin && rm -f ${ready} && ` +
    `BUN_BE_BUN=1 setsid /proc/$PPID/exe -e ${shq(SOURCE)} ${DAEMON_PORT} ${ready} </dev/null >${log} 2>&1 & ` +
    `i=0; while [ ! -e ${ready} ] && [ $i -lt 1200 ] && kill -0 $! 2>/dev/null; do sleep 0.05; i=$((i+1)); done; ` +
    `[ -e ${ready} ] || { cat ${log}; exit 1; }`
  );
}

/** The daemons of the stand-in's sandboxes, one per boot (a boot's Sandbox handle). */
export class Daemons {
  private readonly running = new WeakMap<Sandbox, Promise<void>>();

  /** Starts the boot's daemon unless it runs. */
  private ensure(local: Sandbox): Promise<void> {
    let started = this.running.get(local);
    if (!started) {
      const ready = `/tmp/.daytona-standin/daemon-${randomBytes(6).toString("hex")}`;
      started = local.exec(startScript(ready), { cwd: "/" }).then((r) => {
        if (r.exitCode !== 0) throw new Error(`the stand-in's daemon did not start (exit ${r.exitCode}): ${r.output.slice(-500)}`);
      });
      started.catch(() => this.running.delete(local));
      this.running.set(local, started);
    }
    return started;
  }

  /** One request to the boot's daemon through the local sandbox's forwarder: its status and body. */
  private async call(local: Sandbox, method: "GET" | "POST", path: string, body = ""): Promise<{ status: number; body: string }> {
    const link = await local.previewUrl(DAEMON_PORT);
    const url = new URL(link.url);
    return new Promise((resolve, reject) => {
      const headers = { ...(link.headers ?? {}), "content-type": "application/json", "content-length": Buffer.byteLength(body) };
      const out = request({ host: url.hostname, port: url.port, method, path, agent: false, headers }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on("data", (c: Buffer) => chunks.push(c));
        answer.on("error", reject);
        answer.on("end", () => resolve({ status: answer.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      });
      out.on("error", reject);
      out.end(body);
    });
  }

  /** Runs one command through the boot's daemon. Throws DaemonUnreachable when no answer came (the daemon is then started again next time). */
  async run(local: Sandbox, req: DaemonRequest): Promise<DaemonResult> {
    await this.ensure(local);
    try {
      return JSON.parse((await this.call(local, "POST", "/execute", JSON.stringify(req))).body) as DaemonResult;
    } catch (error) {
      const alive = await this.call(local, "GET", "/").then((r) => r.status === 200, () => false);
      if (!alive) this.running.delete(local);
      throw new DaemonUnreachable(`the sandbox's daemon did not answer: ${(error as Error).message}`, { cause: error });
    }
  }
}
