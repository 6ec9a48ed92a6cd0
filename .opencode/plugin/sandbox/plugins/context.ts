/** What every sub-plugin of one project instance shares. */
import type { PluginInput } from "@opencode-ai/plugin";
import type { Config } from "../config.js";
import type { Logger } from "../core/logger.js";
import type { SessionManager } from "../core/session-manager.js";
import type { Toaster } from "../core/toast.js";
import type { ToolDeps } from "../tools/deps.js";

export interface PluginContext {
  input: PluginInput;
  /** The host project directory (OpenCode's `directory`, not `worktree`). */
  directory: string;
  config: Config;
  manager: SessionManager;
  log: Logger;
  toast: Toaster;
  deps: ToolDeps;
}

type Event = { type: string; properties?: Record<string, any> };

/** The session an event is about, and its parent when the event carries session info. */
export function sessionOf(event: Event): { id?: string; parentID?: string; title?: string } {
  const p = event.properties ?? {};
  const info = p.info as { id?: string; parentID?: string; title?: string } | undefined;
  return { id: p.sessionID ?? info?.id, parentID: info?.parentID, title: info?.title };
}
