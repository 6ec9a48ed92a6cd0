/**
 * `POST {toolbox}/{id}/process/execute` in the two daemon behaviours found in the wild
 * (apps/daemon/pkg/toolbox/process/execute.go and its history):
 *
 * - "split" (daemons before daytonaio/daytona#3918 / #4147, March 2026): the command is
 *   split on spaces with naive quote grouping (no escapes, quotes removed) and the argv
 *   is exec'd directly — no shell, so `echo a && ls` prints `a && ls`. No `envs` (the
 *   request had no such field). Timeout: `timeout` seconds, or 360 s when absent/0; on
 *   timeout ONLY the direct process is killed (cmd.Process.Kill), and the 408 (empty
 *   body: gin AbortWithError) comes once its output pipe is closed by every holder — and
 *   only if the command failed: a direct process that exited 0 before the timer fired
 *   (its child still holding the pipe) gets 200 once the child is done.
 *   A program that cannot be started answers 200 `{exitCode: -1, result: ""}`.
 * - "shell" (#3918 and later, v0.190): the command is piped into the user's shell
 *   (zsh/bash from /etc/shells, else $SHELL, else sh) in its own process group; `envs`
 *   are added; `timeout` only when > 0, then the whole process group is killed and the
 *   answer is a 408 ErrorResponse (code PROCESS_EXECUTION_TIMEOUT, as the pinned toolbox
 *   client lists — v0.190 sent REQUEST_TIMEOUT). A bad cwd answers 200
 *   `{exitCode: -1, result: "chdir …"}`.
 *
 * Both use Go's CombinedOutput semantics: stdout and stderr share one pipe and the
 * answer waits until EVERY holder of that pipe closed it — `server &` without
 * redirections keeps the call open until the server exits (or the timeout, in shell
 * mode). A client that disconnects does not stop the command.
 *
 * How: a small helper (plain CommonJS for node or Bun) runs inside the local sandbox on
 * the agent's own runtime (`/proc/$PPID/exe`), spawns the command exactly like the daemon
 * (execvp semantics, one pipe for both streams, `close` = all holders gone) and prints
 * one JSON line with the result. The helper's own stdout is not inherited by the command,
 * so the local exec returns as soon as the helper has answered.
 */
import type { Sandbox } from "../../../.opencode/plugin/sandbox/providers/provider.js";
import { daemonError, empty, json, type Reply } from "./http.js";

export type DaemonMode = "shell" | "split";

/** The old daemon's parseCommand, verbatim in behaviour: spaces split, quotes group, no escapes. */
export function splitCommand(command: string): string[] {
  const args: string[] = [];
  let current = "";
  let quote: string | null = null;
  for (const ch of command) {
    if (ch === '"' || ch === "'") {
      if (!quote) quote = ch;
      else if (quote === ch) quote = null;
      else current += ch;
    } else if (ch === " " && !quote) {
      if (current.length) args.push(current), (current = "");
    } else current += ch;
  }
  if (current.length) args.push(current);
  return args;
}

const HELPER = String.raw`
"use strict";
const { spawn } = require("child_process");
const fs = require("fs");
const chunks = [];
process.stdin.on("data", (c) => chunks.push(c));
process.stdin.on("end", () => {
  const req = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  let answered = false;
  const answer = (r) => { if (!answered) { answered = true; process.stdout.write(JSON.stringify(r) + "\n"); } };
  const env = Object.assign({}, process.env);
  delete env.BUN_BE_BUN;
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
    const argv = req.argv;
    const lookPath = (name) => {
      const ok = (p) => { try { fs.accessSync(p, fs.constants.X_OK); return fs.statSync(p).isFile(); } catch { return false; } };
      if (name.includes("/")) return ok(name);
      return (env.PATH || "").split(":").some((d) => ok((d || ".") + "/" + name));
    };
    if (!lookPath(argv[0])) return answer({ exitCode: -1, result: "" });
    child = spawn("/bin/sh", ["-c", 'exec "$@" 2>&1', "sh"].concat(argv), opts);
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
  child.on("close", () => {
    clearTimeout(timer);
    answer({ exitCode, result: Buffer.concat(out).toString("utf8"), timedOut });
  });
});
`;

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
/** Runs the helper on the agent's runtime (node or Bun; Bun needs BUN_BE_BUN=1 to act as bun). */
const WRAPPER = `BUN_BE_BUN=1 exec /proc/$PPID/exe -e ${quote(HELPER)}`;

export interface ExecuteBody {
  command?: unknown;
  cwd?: unknown;
  envs?: unknown;
  timeout?: unknown;
}

export async function execute(local: Sandbox, workDir: string, mode: DaemonMode, body: ExecuteBody | undefined, path: string): Promise<Reply> {
  const command = typeof body?.command === "string" ? body.command : "";
  const cwd = typeof body?.cwd === "string" && body.cwd ? body.cwd : workDir;
  const timeout = typeof body?.timeout === "number" ? body.timeout : 0;
  let argv: string[] = [];
  if (mode === "split") {
    argv = splitCommand(command);
    if (argv.length === 0) return empty(400);
  } else {
    if (!command.trim()) return daemonError(400, "BAD_REQUEST", "command cannot be empty or whitespace-only", path, "POST");
    if (body?.envs !== undefined && body.envs !== null) {
      if (typeof body.envs !== "object") return daemonError(400, "BAD_REQUEST", "envs must be an object", path, "POST");
      for (const key of Object.keys(body.envs))
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
          return daemonError(400, "BAD_REQUEST", `invalid environment variable name: '${key}'`, path, "POST");
    }
  }
  const request = {
    mode,
    command,
    argv,
    cwd: cwd.startsWith("/") ? cwd : `${workDir}/${cwd}`,
    envs: mode === "shell" ? (body?.envs ?? undefined) : undefined,
    timeoutSec: mode === "split" ? (timeout > 0 ? timeout : 360) : timeout > 0 ? timeout : 0,
  };
  const r = await local.exec(WRAPPER, { stdin: JSON.stringify(request), cwd: "/" });
  const line = r.output.trimEnd().split("\n").pop() ?? "";
  let result: { exitCode: number; result: string; timedOut?: boolean };
  try {
    result = JSON.parse(line);
  } catch {
    return daemonError(500, "INTERNAL_SERVER_ERROR", `stand-in exec helper failed (exit ${r.exitCode}): ${r.output.slice(-500)}`, path, "POST");
  }
  // The old daemon checked its timeout flag only when the command failed (killed or non-zero
  // exit): a direct process that had already exited 0 when the timer fired still answers 200.
  if (result.timedOut && (mode === "shell" || result.exitCode !== 0))
    return mode === "split" ? empty(408) : daemonError(408, "PROCESS_EXECUTION_TIMEOUT", "command execution timeout", path, "POST");
  return json(200, { exitCode: result.exitCode, result: result.result });
}
