/**
 * opencode-sandboxed: every OpenCode session gets its own sandbox.
 * Exports plugin functions only — OpenCode skips a module with any other export.
 */
import type { Plugin } from "@opencode-ai/plugin";
import { createSandboxPlugin } from "./sandbox/opencode/plugin.js";

export const OpencodeSandboxed: Plugin = (input, options) => createSandboxPlugin(input, options);

export default OpencodeSandboxed;
