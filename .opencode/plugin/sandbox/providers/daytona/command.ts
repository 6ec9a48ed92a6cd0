/**
 * How a command travels to a Daytona sandbox. Two daemon behaviours exist: older ones
 * split the command line on spaces (quotes group, nothing escapes) and exec it without
 * a shell; newer ones pipe it into a shell. `sh -c '<base64 script>'` means the same
 * to both. The script runs the user's command in its own session (so an abort or a
 * timeout ends everything it started), with its output in a file (so `server &` holds
 * no pipe the daemon waits on), and keeps a record — pid, output, exit code — under a
 * run id, so that a request whose answer was lost is resolved by asking, never by
 * running the command again.
 */
import { shq } from "../../util/shell.js";

export const RUNS_DIR = "/tmp/.opencode-runs";
/** A single argument on Linux is at most 128 KiB (MAX_ARG_STRLEN); stay well below. */
export const MAX_INLINE_SCRIPT = 96 * 1024;

export interface RunSpec {
  id: string;
  command: string;
  cwd: string;
  env: Record<string, string>;
  stdin?: string | Uint8Array;
  /** Run ids whose records are no longer needed (their answers arrived). */
  forget: string[];
  /** Output beyond this many bytes is cut (the host holds what comes back). */
  maxOutputBytes: number;
}

const EXISTS = "@@opencode-run-exists";

/** The answer of a request that found its run already there (an earlier copy of it ran or runs). */
export function alreadyRan(id: string, answer: { exitCode: number; result: string }): boolean {
  return answer.exitCode === 125 && answer.result.trim() === `${EXISTS} ${id}`;
}

const b64 = (data: string | Uint8Array) => Buffer.from(data).toString("base64");
export const runDir = (id: string) => `${RUNS_DIR}/${id}`;
/** Where a script too long for a command line is uploaded. */
export const scriptPath = (id: string) => `${RUNS_DIR}-scripts/${id}.sh`;

/** The script that runs one command and records it. Its exit code is the command's. */
export function runScript(spec: RunSpec): string {
  const d = runDir(spec.id);
  const lines = [
    `d=${shq(d)}`,
    // The record doubles as a once-only guard: a late copy of this request finds it and runs nothing.
    `mkdir -p ${RUNS_DIR} && mkdir "$d" 2>/dev/null || { echo ${shq(`${EXISTS} ${spec.id}`)}; exit 125; }`,
    ...(spec.forget.length ? [`rm -rf ${spec.forget.flatMap((id) => [shq(runDir(id)), shq(scriptPath(id))]).join(" ")}`] : []),
    `echo $$ > "$d/sh"`,
    `printf %s ${shq(b64(spec.command))} | base64 -d > "$d/cmd"`,
    spec.stdin === undefined ? `: > "$d/in"` : `printf %s ${shq(b64(spec.stdin))} | base64 -d > "$d/in"`,
    `cd ${shq(spec.cwd)} || exit 1`,
    ...Object.entries(spec.env).map(([k, v]) => `export ${k}=${shq(v)}`),
    `if command -v setsid >/dev/null 2>&1; then setsid sh "$d/cmd" > "$d/out" 2>&1 < "$d/in" & else sh "$d/cmd" > "$d/out" 2>&1 < "$d/in" & fi`,
    `echo $! > "$d/pid"`,
    `wait $!`,
    `c=$?`,
    `echo $c > "$d/exit"`,
    `head -c ${spec.maxOutputBytes} "$d/out"`,
    `exit $c`,
  ];
  return lines.join("\n");
}

/** The daemon command for a script: no character either daemon treats differently. */
export function daemonCommand(script: string): string {
  return `sh -c 'eval "$(printf %s ${b64(script)} | base64 -d)"'`;
}

/** The daemon command for a script uploaded to `path` (too long to travel inline). */
export function daemonCommandForFile(path: string): string {
  return `sh ${path}`;
}

/**
 * Asks what became of a run: "E<code>" (ended), "R" (running), "K" (its shell was
 * killed before it could record an exit code) or "N" (never started); then its output.
 */
export function statusScript(id: string, maxOutputBytes: number): string {
  const d = shq(runDir(id));
  return [
    `d=${d}`,
    `if [ -f "$d/exit" ]; then echo "E$(cat "$d/exit")"; elif [ ! -d "$d" ]; then echo N; exit 0;`,
    `elif kill -0 "$(cat "$d/sh" 2>/dev/null)" 2>/dev/null || kill -0 "$(cat "$d/pid" 2>/dev/null)" 2>/dev/null; then echo R; else echo K; fi`,
    `head -c ${maxOutputBytes} "$d/out" 2>/dev/null; true`,
  ].join("\n");
}

/** Ends a run and everything it started (its session, or its process when there is none). */
export function killScript(id: string): string {
  const d = shq(runDir(id));
  return `p=$(cat ${d}/pid 2>/dev/null) || exit 0; kill -KILL -"$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null; true`;
}
