/** bash, as the built-in shell tool, run inside the session's sandbox. */
import * as path from "node:path";
import { tool } from "@opencode-ai/plugin";
import type { Sandbox } from "../providers/provider.js";
import { askBash, collectAsks } from "./bash-permissions.js";
import type { ToolDeps } from "./deps.js";
import { containsPath, shq } from "./shared.js";
import { hostToSandbox } from "./paths.js";
import { portProbe, PORT_WAIT_MS, type PortProbe } from "./port-probe.js";
import { PortWatch } from "./port-watch.js";

/** The built-in's defaults (OpenCode's `tool_output` config can change them there; we use the defaults). */
export const MAX_LINES = 2000;
export const MAX_BYTES = 51200;
/** OpenCode's temp dir (`os.tmpdir()/opencode`), created inside the sandbox. */
export const SANDBOX_TMP = "/tmp/opencode";
const METADATA_CHARS = 30000;

export function defaultTimeoutMs(env: Record<string, string | undefined> = process.env): number {
  const value = Number(env.OPENCODE_EXPERIMENTAL_BASH_DEFAULT_TIMEOUT_MS);
  return Number.isInteger(value) && value > 0 ? value : 120000;
}

const CHAIN_NOTE =
  "If the commands depend on each other and must run sequentially, use a single Bash call with '&&' to chain them together (e.g., `git add . && git commit -m \"message\" && git push`). For instance, if one operation must complete before another starts (like mkdir before cp, Write before Bash for git operations, or git add before git commit), run these operations sequentially instead.";

/** The built-in's description for a bash shell on Linux, rendered the same way. */
export function bashDescription(timeoutMs = defaultTimeoutMs()): string {
  const commandSection = `Before executing the command, please follow these steps:

1. Directory Verification:
   - If the command will create new directories or files, first use \`ls\` to verify the parent directory exists and is the correct location
   - For example, before running "mkdir foo/bar", first use \`ls foo\` to check that "foo" exists and is the intended parent directory

2. Command Execution:
   - Always quote file paths that contain spaces with double quotes (e.g., rm "path with spaces/file.txt")
   - Examples of proper quoting:
     - mkdir "/Users/name/My Documents" (correct)
     - mkdir /Users/name/My Documents (incorrect - will fail)
     - python "/path/with spaces/script.py" (correct)
     - python /path/with spaces/script.py (incorrect - will fail)
   - After ensuring proper quoting, execute the command.
   - Capture the output of the command.

Usage notes:
  - The command argument is required.
  - You can specify an optional timeout in milliseconds. If not specified, commands will time out after ${timeoutMs}ms.
  - If the output exceeds ${MAX_LINES} lines or ${MAX_BYTES} bytes, it will be truncated and the full output will be written to a file. You can use Read with offset/limit to read specific sections or Grep to search the full content. Do NOT use \`head\`, \`tail\`, or other truncation commands to limit output; the full output will already be captured to a file for more precise searching.

  - Avoid using Bash with the \`find\`, \`grep\`, \`cat\`, \`head\`, \`tail\`, \`sed\`, \`awk\`, or \`echo\` commands, unless explicitly instructed or when these commands are truly necessary for the task. Instead, always prefer using the dedicated tools for these commands:
    - File search: Use Glob (NOT find or ls)
    - Content search: Use Grep (NOT grep or rg)
    - Read files: Use Read (NOT cat/head/tail)
    - Edit files: Use Edit (NOT sed/awk)
    - Write files: Use Write (NOT echo >/cat <<EOF)
    - Communication: Output text directly (NOT echo/printf)
  - When issuing multiple commands:
    - If the commands are independent and can run in parallel, make multiple bash tool calls in a single message. For example, if you need to run "git status" and "git diff", send a single message with two bash tool calls in parallel.
    - ${CHAIN_NOTE}
    - Use ';' only when you need to run commands sequentially but don't care if earlier commands fail
    - DO NOT use newlines to separate commands (newlines are ok in quoted strings)
  - AVOID using \`cd <directory> && <command>\`. Use the \`workdir\` parameter to change directories instead.
    <good-example>
    Use workdir="/foo/bar" with command: pytest tests
    </good-example>
    <bad-example>
    cd /foo/bar && pytest tests
    </bad-example>`;
  return `Executes a given bash command in a persistent shell session with optional timeout, ensuring proper handling and security measures.

Be aware: OS: linux, Shell: bash

All commands run in the current working directory by default. Use the \`workdir\` parameter if you need to run a command in a different directory. AVOID using \`cd <directory> && <command>\` patterns - use \`workdir\` instead.

Use \`${SANDBOX_TMP}\` for temporary work outside the workspace. This directory has already been created, already exists, and is pre-approved for external directory access.

IMPORTANT: This tool is for terminal operations like git, npm, docker, etc. DO NOT use it for file operations (reading, writing, editing, searching, finding files) - use the specialized tools for this instead.

${commandSection}

# Git and GitHub
- Only commit, amend, push, or create PRs when explicitly requested.
- Before committing, inspect \`git status\`, \`git diff\`, and \`git log --oneline -10\`; stage only intended files and never commit secrets.
- Write a concise commit message that matches the repo style.
- Do not update git config, skip hooks, use interactive \`-i\`, force-push, or create empty commits unless explicitly requested.
- If a commit fails or hooks reject it, fix the issue and create a new commit; do not amend the failed commit.
- Before creating a PR, inspect status, diff, remote tracking, recent commits, and the diff from the base branch.
- Review all commits included in the PR, not just the latest commit.
- Use \`gh\` for GitHub tasks, including PRs, issues, checks, and releases; return the PR URL when done.
`;
}

/** The last `METADATA_CHARS` characters, as the built-in streams into metadata. */
function tail(text: string): string {
  return text.length <= METADATA_CHARS ? text : `...\n${text.slice(-METADATA_CHARS)}`;
}

/** The built-in keeps the END of long output: the last lines that fit both limits. */
export function tailTruncate(text: string, maxLines: number, maxBytes: number): { text: string; cut: boolean } {
  const lines = text.split("\n");
  if (lines.length <= maxLines && Buffer.byteLength(text, "utf-8") <= maxBytes) return { text, cut: false };
  const kept: string[] = [];
  let bytes = 0;
  for (let i = lines.length - 1; i >= 0 && kept.length < maxLines; i--) {
    const size = Buffer.byteLength(lines[i]!, "utf-8") + (kept.length > 0 ? 1 : 0);
    if (bytes + size > maxBytes) {
      if (kept.length === 0) {
        // One huge last line: keep its tail, starting on a UTF-8 character boundary.
        const buf = Buffer.from(lines[i]!, "utf-8");
        let start = Math.max(0, buf.length - maxBytes);
        while (start < buf.length && (buf[start]! & 0xc0) === 0x80) start++;
        kept.unshift(buf.subarray(start).toString("utf-8"));
      }
      break;
    }
    kept.unshift(lines[i]!);
    bytes += size;
  }
  return { text: kept.join("\n"), cut: true };
}

async function isDirectoryIn(sandbox: Sandbox, p: string): Promise<boolean> {
  try {
    const st = await sandbox.stat(p);
    if (st?.type === "directory") return true;
    if (st?.type !== "symlink") return false;
    await sandbox.readDir(p);
    return true;
  } catch {
    return false;
  }
}

function outputFileName(): string {
  return `tool_${Date.now().toString(16)}${Math.random().toString(36).slice(2, 10)}`;
}

export interface BashToolOptions {
  /** Tests: a shorter default. */
  defaultTimeoutMs?: number;
  /** Where servers' links are remembered (shared with the plugin's other tools); a new one otherwise. */
  ports?: PortWatch;
}

/** What the background mode adds to the built-in's description. */
export const BACKGROUND_NOTE = `

# Background processes
- With \`background: true\` the command starts in the background and the call returns with its process id (e.g. a dev server, a watcher, a long build) — as soon as it listens on a new port, or after a few seconds at most. Read its output (stdout and stderr) so far with bash_output (pass \`since\` to read only what is new) and stop it, with everything it started, with bash_stop. \`cmd &\` works too; its output goes where you redirect it.
- When a server starts listening, the result says its port and the link the user can open (preview_url gives the link for any port).`;

/** The built-in's script, framed by the port probe: bash when the sandbox has it (the built-in runs the user's shell with -c), sh otherwise. */
function runScript(probe: PortProbe, cwd: string, command: string, timeoutMs: number): string {
  return `mkdir -p ${SANDBOX_TMP} 2>/dev/null
${probe.prelude()}
cd -- ${shq(cwd)} || exit $?
S=bash; command -v bash >/dev/null 2>&1 || S=sh
"$S" -c ${shq(command)}
r=$?
${probe.epilogue(Math.max(0, timeoutMs - 250))}`;
}

function backgroundScript(probe: PortProbe, command: string): string {
  return `mkdir -p ${SANDBOX_TMP} 2>/dev/null
${probe.backgroundPrelude()}
S=bash; command -v bash >/dev/null 2>&1 || S=sh
exec "$S" -c ${shq(command)}`;
}

export function bashTool(deps: ToolDeps, options: BashToolOptions = {}) {
  const defaultTimeout = options.defaultTimeoutMs ?? defaultTimeoutMs();
  const ports = options.ports ?? new PortWatch(deps);
  return tool({
    description: bashDescription(defaultTimeout) + BACKGROUND_NOTE,
    args: {
      command: tool.schema.string().describe("The command to execute"),
      timeout: tool.schema.number().int().positive().optional().describe("Optional timeout in milliseconds"),
      workdir: tool.schema
        .string()
        .optional()
        .describe("The working directory to run the command in. Defaults to the current directory. Use this instead of 'cd' commands."),
      background: tool.schema
        .boolean()
        .optional()
        .describe("Start the command in the background and return with its process id without waiting for it to end (read its output with bash_output, stop it with bash_stop)"),
    },
    async execute(args, ctx) {
      const directory = ctx.directory ?? deps.directory;
      const cwd = args.workdir ? path.resolve(directory, args.workdir) : directory;
      if (args.timeout !== undefined && args.timeout < 0)
        throw new Error(`Invalid timeout value: ${args.timeout}. Timeout must be a positive number.`);
      const timeout = args.timeout ?? defaultTimeout;

      let sandbox: Sandbox | undefined;
      const getSandbox = async () => (sandbox ??= await deps.sandboxFor(ctx.sessionID));
      // Paths outside the project are the sandbox's own: ask it whether they are directories.
      const asks = await collectAsks(args.command, cwd, ctx, async (p) => isDirectoryIn(await getSandbox(), p));
      if (!containsPath(ctx, cwd)) asks.dirs.add(cwd);
      await askBash(ctx, asks, args.command);

      const box = await getSandbox();
      const sandboxCwd = hostToSandbox(cwd, deps.directory, box.projectDir);
      const probe = portProbe({ known: ports.known(box.id) });
      const portLines = async (raw: string) => {
        const parsed = probe.parse(raw);
        return { output: parsed.output, lines: parsed.report ? await ports.observe(box, ctx.sessionID, parsed.report) : [] };
      };

      if (args.background) {
        const { id } = await box.startProcess(backgroundScript(probe, args.command), { cwd: sandboxCwd });
        // A second command, only in this mode: it waits (briefly) for the process to listen on a port.
        const watch = await box.exec(probe.backgroundWatch(), { cwd: box.projectDir, timeoutMs: 3 * PORT_WAIT_MS + 10_000, signal: ctx.abort });
        const { lines } = await portLines(watch.output);
        const output = [
          `Started in the background as process ${id}. Its output (stdout and stderr) is kept in the sandbox: read it with bash_output (id "${id}"), stop it with bash_stop (id "${id}").`,
          ...lines,
        ].join("\n");
        return { title: args.command, metadata: { output, exit: null, truncated: false, id }, output };
      }

      let streamed = "";
      ctx.metadata({ metadata: { output: "" } });
      const result = await box.exec(runScript(probe, sandboxCwd, args.command, timeout), {
        cwd: box.projectDir,
        // The built-in waits timeout + 100 ms before ending the command.
        timeoutMs: timeout + 100,
        signal: ctx.abort,
        onOutput(chunk) {
          streamed = tail(streamed + chunk);
          ctx.metadata({ metadata: { output: probe.visible(streamed) } });
        },
      });
      const { output: commandOutput, lines } = await portLines(result.output);
      const portNote = lines.length > 0 ? `\n\n${lines.join("\n")}` : "";

      const notes: string[] = [];
      if (result.timedOut)
        notes.push(
          `shell tool terminated command after exceeding timeout ${timeout} ms. If this command is expected to take longer and is not waiting for interactive input, retry with a larger timeout value in milliseconds.`,
        );
      if (result.aborted) notes.push("User aborted the command");
      const suffix = portNote + (notes.length > 0 ? `\n\n<shell_metadata>\n${notes.join("\n")}\n</shell_metadata>` : "");

      // Leave room for our own header/footer: OpenCode re-truncates (from the head) any
      // plugin tool output over its limits, which would cut away the end we keep.
      let outputPath: string | undefined;
      const header = (p: string) => `...output truncated...\n\nFull output saved to: ${p}\n\n`;
      const reserve = (extra: string) => ({
        lines: MAX_LINES - extra.split("\n").length + 1,
        bytes: MAX_BYTES - Buffer.byteLength(extra, "utf-8"),
      });
      let room = reserve(suffix);
      let cut = tailTruncate(commandOutput, room.lines, room.bytes);
      if (cut.cut) {
        // Save the full output inside the sandbox, where the model's (sandboxed) Read/Grep can reach it.
        const candidate = path.posix.join(SANDBOX_TMP, "tool-output", outputFileName());
        try {
          await box.writeFile(candidate, commandOutput);
          outputPath = candidate;
        } catch (error) {
          deps.log.warn(`bash: could not save full output: ${(error as Error).message}`, ctx.sessionID);
        }
        room = reserve(header(outputPath ?? candidate) + suffix);
        cut = tailTruncate(commandOutput, room.lines, room.bytes);
      }
      let output = cut.text || "(no output)";
      if (cut.cut && outputPath) output = header(outputPath) + output;
      output += suffix;
      return {
        title: args.command,
        metadata: {
          // What the user sees of the call: the output as streamed, and the links.
          output: streamed ? probe.parse(streamed).output + portNote : tail(output),
          exit: result.exitCode,
          truncated: cut.cut,
          ...(cut.cut && outputPath ? { outputPath } : {}),
        },
        output,
      };
    },
  });
}
