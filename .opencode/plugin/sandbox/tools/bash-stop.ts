/** bash_stop: ends a process started with `bash` in background mode, and everything it started. */
import { tool } from "@opencode-ai/plugin";
import type { ToolDeps } from "./deps.js";

const DESCRIPTION = `Stops a process started with the bash tool's \`background: true\`, and every process it started (SIGTERM, then SIGKILL after a grace period). Stopping a process that already ended is not an error.
- \`id\`: the process id the bash call returned.`;

export function bashStopTool(deps: ToolDeps) {
  return tool({
    description: DESCRIPTION,
    args: {
      id: tool.schema.string().describe("The process id the bash call returned"),
    },
    async execute(args, ctx) {
      const box = await deps.sandboxFor(ctx.sessionID);
      await box.stopProcess(args.id);
      const output = `Process ${args.id} is stopped.`;
      return { title: `stop process ${args.id}`, metadata: { output }, output };
    },
  });
}
