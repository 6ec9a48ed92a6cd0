/**
 * opencode-sandboxed guard, version 1. Placed here by `npx opencode-sandboxed init`,
 * which replaces it with newer versions: do not edit.
 *
 * When OpenCode cannot install or load the opencode-sandboxed plugin, it runs the
 * agent's tools on this machine without a word. This file has no dependencies, so
 * OpenCode loads it from the project's .opencode/plugin/ whatever happens to the
 * plugin: it refuses every tool that would touch files, run commands or reach the
 * network unless the real plugin loaded in the same OpenCode instance (the plugin
 * sets the marker below for its directory when it loads; all plugins load before
 * the first tool call).
 *
 * To run OpenCode without the sandbox on purpose, delete this file.
 */

/** Set by opencode-sandboxed at load: directory → how many live instances loaded it there. */
const LOADED = Symbol.for("opencode-sandboxed.loaded");

/**
 * Tools that touch neither files nor processes nor arbitrary addresses (the same list
 * the plugin allows on the host): session state, questions, subagents (whose own tool
 * calls come through here), skills, a fixed search API.
 */
const HOST_SAFE = new Set(["todowrite", "question", "skill", "task", "invalid", "plan_exit", "websearch"]);

function refusal(tool: string, directory: string): string {
  return (
    `Refused "${tool}": opencode-sandboxed did not load in this OpenCode, so this tool would run on the user's machine instead of in a sandbox. ` +
    `Stop and tell the user. OpenCode does not say why a plugin did not load; to find out, run \`npx opencode-sandboxed doctor\` in ${directory}: ` +
    `it shows whether the plugin is listed in OpenCode's configuration, whether it loads, and what to do (usually: fix the plugin entry in opencode.json, then \`npx opencode-sandboxed init\`). ` +
    `To run without the sandbox on purpose, delete .opencode/plugin/opencode-sandboxed-guard.js.`
  );
}

export const OpencodeSandboxedGuard = async (input: { directory: string }) => ({
  "tool.execute.before": async (call: { tool: string }) => {
    if (HOST_SAFE.has(call.tool)) return;
    const loaded = (globalThis as Record<symbol, unknown>)[LOADED];
    if (loaded instanceof Map && (loaded.get(input.directory) ?? 0) > 0) return;
    throw new Error(refusal(call.tool, input.directory));
  },
});
