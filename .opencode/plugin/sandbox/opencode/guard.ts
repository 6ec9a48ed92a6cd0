/**
 * Fail closed: a `tool.execute.before` hook that refuses every tool the plugin does
 * not run in the sandbox and does not know to be host-safe — MCP tools, project-local
 * custom tools, and any built-in a future OpenCode adds — so isolation holds instead
 * of silently leaking. Throwing here blocks the call; the message goes to the model.
 */

/**
 * Built-ins that touch neither files nor processes nor arbitrary network addresses:
 * - todowrite, question, invalid, plan_exit: session state and questions to the user only;
 * - task: starts a subagent, whose own tool calls come through this guard;
 * - skill: reads the user's configured skill instructions (not the project);
 * - websearch: a request to a fixed search API with a query; it cannot reach loopback,
 *   metadata or LAN addresses, and leaks nothing the sandbox's network could not.
 */
export const HOST_SAFE_TOOLS: readonly string[] = ["todowrite", "question", "skill", "task", "invalid", "plan_exit", "websearch"];

/** Built-ins known to act on the host that the plugin does not sandbox, with the reason. */
const HOST_BUILTINS: Record<string, string> = {
  lsp: "OpenCode's language servers run on the host and read the host's checkout, not the sandbox's files",
  execute: "code mode runs on the host",
};

function globToRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split("*").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
}

/** `allowHostTools` entries: exact ids, or patterns with `*` (e.g. `github_*` for one MCP server). */
export function hostToolMatcher(allow: readonly string[]): (id: string) => boolean {
  const exact = new Set(allow.filter((a) => !a.includes("*")));
  const globs = allow.filter((a) => a.includes("*")).map(globToRegExp);
  return (id) => exact.has(id) || globs.some((g) => g.test(id));
}

export function refusal(id: string): string {
  const why = HOST_BUILTINS[id] ?? "it is not sandboxed (an MCP server's tool, a custom tool, or a built-in this plugin does not know), so it would run on the host, outside this session's sandbox";
  const prefix = id.includes("_") ? id.slice(0, id.indexOf("_")) : "";
  const wildcard = prefix ? ` (or ["${prefix}_*"] for every tool of an MCP server named ${prefix})` : "";
  return `opencode-sandboxed refused the tool "${id}": ${why}. Use the sandboxed tools (bash, read, write, edit, apply_patch, glob, grep, webfetch) instead. If the user trusts "${id}" to run on the host, they can allow it with the plugin option allowHostTools in opencode.json, e.g. "allowHostTools": ["${id}"]${wildcard}.`;
}

export interface GuardOptions {
  /** Tool ids the plugin itself provides (they run in the sandbox). */
  sandboxed: Iterable<string>;
  /** The user's allow-list (config `allowHostTools`). */
  allowHostTools: readonly string[];
}

export function createGuard(options: GuardOptions) {
  const sandboxed = new Set(options.sandboxed);
  const hostSafe = new Set(HOST_SAFE_TOOLS);
  const allowed = hostToolMatcher(options.allowHostTools);
  return async (input: { tool: string; sessionID?: string; callID?: string }, _output?: { args: unknown }): Promise<void> => {
    const id = input.tool;
    if (sandboxed.has(id) || hostSafe.has(id) || allowed(id)) return;
    throw new Error(refusal(id));
  };
}
