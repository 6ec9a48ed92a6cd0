/**
 * The tool-override plugin: every built-in that reads, writes, executes or fetches is
 * replaced by a sandboxed twin with the same id (bash with two companions for its
 * background mode), and the fail-closed guard refuses whatever else would run on the host.
 * What they hand back never holds a secretEnv value.
 */
import type { Hooks } from "@opencode-ai/plugin";
import { portsDir } from "../core/paths.js";
import { applyPatchTool } from "../tools/apply-patch.js";
import { bashTool } from "../tools/bash.js";
import { bashOutputTool } from "../tools/bash-output.js";
import { bashStopTool } from "../tools/bash-stop.js";
import type { ToolDeps } from "../tools/deps.js";
import { editTool } from "../tools/edit.js";
import { globTool } from "../tools/glob.js";
import { grepTool } from "../tools/grep.js";
import { PortWatch } from "../tools/port-watch.js";
import { toldPortsIn } from "../tools/told-ports.js";
import { readTool } from "../tools/read.js";
import { webfetchTool } from "../tools/webfetch.js";
import { writeTool } from "../tools/write.js";
import { createGuard } from "./guard.js";
import { redactTools, secretValues } from "./redact-tools.js";

export interface ToolsPluginOptions {
  /** Ids of other tools this plugin provides (they are sandboxed too), e.g. preview_url. */
  otherTools?: string[];
}

/** Where the links told per sandbox are kept across OpenCode processes (none without a data directory). */
function toldPorts() {
  try {
    return toldPortsIn(portsDir());
  } catch {
    return undefined;
  }
}

export function toolsPlugin(deps: ToolDeps, options: ToolsPluginOptions = {}): Pick<Hooks, "tool" | "tool.execute.before"> {
  // secretEnv values never come out of the sandbox through a tool (redact-tools.ts).
  const tool = redactTools({
    bash: bashTool(deps, { ports: new PortWatch({ ...deps, store: toldPorts() }) }),
    // bash's background mode: a process's output, and stopping it.
    bash_output: bashOutputTool(deps),
    bash_stop: bashStopTool(deps),
    read: readTool(deps),
    write: writeTool(deps),
    edit: editTool(deps),
    apply_patch: applyPatchTool(deps),
    glob: globTool(deps),
    grep: grepTool(deps),
    webfetch: webfetchTool(deps),
  }, secretValues(deps.config));
  const guard = createGuard({
    sandboxed: [...Object.keys(tool), ...(options.otherTools ?? [])],
    allowHostTools: deps.config.allowHostTools,
  });
  return { tool, "tool.execute.before": guard };
}
