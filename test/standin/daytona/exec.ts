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
 * How: the sandbox's own long-lived daemon (daemon.ts) spawns the command exactly like
 * Daytona's (execvp semantics, one pipe for both streams, `close` = all holders gone).
 */
import type { Sandbox } from "../../../.opencode/plugin/sandbox/providers/provider.js";
import { DaemonUnreachable, type Daemons, type DaemonRequest } from "./daemon.js";
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

export interface ExecuteBody {
  command?: unknown;
  cwd?: unknown;
  envs?: unknown;
  timeout?: unknown;
}

export async function execute(daemons: Daemons, local: Sandbox, workDir: string, mode: DaemonMode, body: ExecuteBody | undefined, path: string): Promise<Reply> {
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
  const request: DaemonRequest = {
    mode,
    command,
    argv,
    cwd: cwd.startsWith("/") ? cwd : `${workDir}/${cwd}`,
    envs: mode === "shell" ? (body?.envs ?? undefined) : undefined,
    timeoutSec: mode === "split" ? (timeout > 0 ? timeout : 360) : timeout > 0 ? timeout : 0,
  };
  let result;
  try {
    result = await daemons.run(local, request);
  } catch (error) {
    if (error instanceof DaemonUnreachable) return daemonError(502, "BAD_GATEWAY", error.message, path, "POST", "DAYTONA_PROXY");
    throw error;
  }
  // The old daemon checked its timeout flag only when the command failed (killed or non-zero
  // exit): a direct process that had already exited 0 when the timer fired still answers 200.
  if (result.timedOut && (mode === "shell" || result.exitCode !== 0))
    return mode === "split" ? empty(408) : daemonError(408, "PROCESS_EXECUTION_TIMEOUT", "command execution timeout", path, "POST");
  return json(200, { exitCode: result.exitCode, result: result.result });
}
