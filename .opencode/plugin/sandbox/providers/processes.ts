/**
 * Background processes on any sandbox that can run a command: the process gets its
 * own session (so stopping it ends everything it started) and its own output file
 * (so it holds none of the starting call's pipes — a daemon waiting for those would
 * hang), and its exit code lands in a file beside it. Each operation is one exec.
 */
import { randomBytes } from "node:crypto";
import { shellScript } from "../util/shell.js";
import { SandboxError, type ExecOptions, type ExecResult, type ProcessOutput, type ProcessStart } from "./provider.js";

/** Where each process keeps its command, pid, output and exit code (the sandbox's own /tmp). */
export const PROCESSES_DIR = "/tmp/.opencode-processes";
/** How long a stopped process gets after SIGTERM before SIGKILL, in tenths of a second. */
const GRACE_TENTHS = 30;

type Exec = (command: string, options?: ExecOptions) => Promise<ExecResult>;

const ID = /^[0-9a-f]{16}$/;

function dir(id: string): string {
  if (typeof id !== "string" || !ID.test(id)) throw new SandboxError("bad_input", `Unknown background process id: ${JSON.stringify(id)}`);
  return `${PROCESSES_DIR}/${id}`;
}

function failed(what: string, result: ExecResult): SandboxError {
  return new SandboxError("transient", `${what} failed (exit ${result.exitCode}): ${result.output.trim().slice(0, 500)}`);
}

// The command travels on stdin (never on a command line: it may be long or hold anything).
// `setsid` makes the process a session and group leader, so its pid is the group to kill.
const START = `set -e
d="$1"; mkdir -p "$d"; cat > "$d/cmd"
cd "$2" 2>/dev/null || { echo "no such directory: $2"; exit 4; }
if command -v setsid >/dev/null 2>&1; then s=setsid; else s=; fi
$s sh -c 'sh "$1/cmd" > "$1/out" 2>&1 < /dev/null; echo $? > "$1/exit.tmp"; mv "$1/exit.tmp" "$1/exit"' sh "$d" > /dev/null 2>&1 < /dev/null &
echo $! > "$d/pid"`;

// The first line says the state: E<code> (ended by itself), R (running) or S (gone without an exit code: stopped).
const READ = `d="$1"; [ -f "$d/pid" ] || { echo "no such process"; exit 3; }
if [ -f "$d/exit" ]; then echo "E$(cat "$d/exit")"; elif kill -0 "$(cat "$d/pid")" 2>/dev/null; then echo R; else echo S; fi
wc -c < "$d/out" 2>/dev/null || echo 0
tail -c +"$2" "$d/out" 2>/dev/null; true`;

// No "--" before the negative pid: dash's kill does not take it (and then signals nothing).
const STOP = `d="$1"; [ -f "$d/pid" ] || { echo "no such process"; exit 3; }
p=$(cat "$d/pid"); kill -TERM -"$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || exit 0
i=0; while [ $i -lt ${GRACE_TENTHS} ] && kill -0 -"$p" 2>/dev/null; do sleep 0.1; i=$((i+1)); done
kill -KILL -"$p" 2>/dev/null; true`;

export class ShellProcesses {
  constructor(
    private readonly exec: Exec,
    private readonly defaultCwd: string,
  ) {}

  async start(command: string, options: ProcessStart = {}): Promise<{ id: string }> {
    if (typeof command !== "string" || command.trim() === "") throw new SandboxError("bad_input", "A background process needs a command");
    const id = randomBytes(8).toString("hex");
    const result = await this.exec(shellScript(START, dir(id), options.cwd ?? this.defaultCwd), { stdin: command, env: options.env });
    if (result.exitCode === 4) throw new SandboxError("file_not_found", `Cannot start a background process: ${result.output.trim()}`);
    if (result.exitCode !== 0) throw failed("Starting a background process", result);
    return { id };
  }

  async read(id: string, options: { since?: number } = {}): Promise<ProcessOutput> {
    const since = Math.max(0, Math.floor(options.since ?? 0));
    const result = await this.exec(shellScript(READ, dir(id), String(since + 1)));
    if (result.exitCode === 3) throw new SandboxError("bad_input", `Unknown background process id: ${id}`);
    if (result.exitCode !== 0) throw failed("Reading a background process", result);
    const [state = "", size = "0"] = result.output.split("\n", 2);
    const output = result.output.slice(state.length + size.length + 2);
    const code = state.startsWith("E") ? Number(state.slice(1)) : null;
    return { output, size: Number(size.trim()) || 0, running: state === "R", exitCode: Number.isInteger(code) ? code : null };
  }

  async stop(id: string): Promise<void> {
    const result = await this.exec(shellScript(STOP, dir(id)), { timeoutMs: 30_000 });
    if (result.exitCode === 3) throw new SandboxError("bad_input", `Unknown background process id: ${id}`);
    if (result.exitCode !== 0) throw failed("Stopping a background process", result);
  }
}
