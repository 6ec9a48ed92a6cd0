/** bash_output: what a process started with `bash` in background mode printed so far, and whether it still runs. */
import { tool } from "@opencode-ai/plugin";
import { MAX_BYTES, MAX_LINES, tailTruncate } from "./bash.js";
import type { ToolDeps } from "./deps.js";

const DESCRIPTION = `Reads the output (stdout and stderr) of a process started with the bash tool's \`background: true\`, and says whether it still runs or how it ended.
- \`id\`: the process id the bash call returned.
- \`since\`: read only the output after this many bytes (the previous call's result says what to pass); omit it to read from the start.
Long output keeps its end.`;

export function bashOutputTool(deps: ToolDeps) {
  return tool({
    description: DESCRIPTION,
    args: {
      id: tool.schema.string().describe("The process id the bash call returned"),
      since: tool.schema.number().int().min(0).optional().describe("Read only the output after this many bytes"),
    },
    async execute(args, ctx) {
      const box = await deps.sandboxFor(ctx.sessionID);
      const p = await box.readProcess(args.id, { since: args.since });
      const state = p.running ? "is running" : p.exitCode !== null ? `ended with exit code ${p.exitCode}` : "was stopped";
      const status = `\n\n<process_status>\nProcess ${args.id} ${state}. ${p.size} bytes of output so far: pass since=${p.size} to read only what comes next.\n</process_status>`;
      // Room for the status line: OpenCode would cut a longer output from its head, losing the end kept here.
      const cut = tailTruncate(p.output, MAX_LINES - status.split("\n").length - 2, MAX_BYTES - Buffer.byteLength(status) - 100);
      const text = cut.text === "" ? "(no new output)" : cut.cut ? `...earlier output left out...\n${cut.text}` : cut.text;
      const output = text + status;
      return { title: `process ${args.id} ${state}`, metadata: { output, running: p.running, exit: p.exitCode, size: p.size }, output };
    },
  });
}
