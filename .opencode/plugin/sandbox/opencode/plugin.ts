/**
 * The OpenCode face (plugin API V1): one instance per project directory (`opencode
 * serve` runs several in one process), nothing module-level. It reads the
 * configuration, builds the project's service, and turns OpenCode's hooks into the
 * service's calls and the service's notices into toasts, tool results and log lines.
 */
import type { Hooks, PluginInput } from "@opencode-ai/plugin";
import { ConfigError, ConfigSchema, loadConfig, resolveProvider, type Config } from "../config.js";
import { FileLogger } from "../core/logger.js";
import { logPath } from "../core/paths.js";
import { projectKey } from "../core/project-key.js";
import { isSandboxError } from "../providers/provider.js";
import { ProjectService } from "../service/project.js";
import type { ToolDeps } from "../tools/deps.js";
import { KeyedQueue } from "../util/keyed-queue.js";
import { SeenFiles } from "../tools/seen-files.js";
import { reach } from "../util/phases.js";
import { pauseHookFromEnv } from "../util/test-pause.js";
import { previewUrlTool } from "../tools/preview-url.js";
import { onEvent } from "./events.js";
import { sandboxMergeTool } from "./merge-tool.js";
import { systemPromptPlugin } from "./system-prompt.js";
import { markLoaded } from "./loaded-marker.js";
import { createToaster, renderNotice } from "./toasts.js";
import { toolsPlugin } from "./tools.js";

export async function createSandboxPlugin(input: PluginInput, options: Record<string, unknown> = {}): Promise<Hooks> {
  const { directory, client } = input;
  const log = new FileLogger({ path: logPath() });
  const toast = createToaster(client, log);

  let config: Config;
  let configError: ConfigError | undefined;
  try {
    config = loadConfig({ options, directory });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    configError = error;
    config = ConfigSchema.parse({});
  }
  log.level = config.logLevel;
  log.addSecret(config.daytona.apiKey);
  for (const name of config.secretEnv) log.addSecret(config.sandboxEnv[name]);
  if (configError) {
    log.error(configError.message);
    toast.show(configError.message, "error", "config-error");
  }
  log.info(
    `opencode-sandboxed loaded for ${directory} (project ${input.project?.id ?? "?"}, provider ${configError ? "none: invalid configuration" : resolveProvider(config)})`,
  );

  // Undefined unless a test set it in OpenCode's environment (util/test-pause.ts).
  const phases = pauseHookFromEnv(process.env);
  const service = new ProjectService({
    // Not OpenCode's shared "global" for a folder without git: its own key (core/project-key.ts).
    projectId: await projectKey(input.project?.id, directory),
    worktree: input.worktree,
    directory,
    config,
    configError,
    log,
    notify: (notice) => renderNotice(toast, log, notice),
    parentOf: async (id) => (await client.session.get({ path: { id } })).data?.parentID,
    titleOf: async (id) => (await client.session.get({ path: { id } })).data?.title,
    phases,
  });
  // Opt-in (config.retention): old sandboxes of this project go, their work synced first.
  void service.retain();

  const deps: ToolDeps = {
    directory,
    config,
    log,
    locks: new KeyedQueue(),
    seen: new SeenFiles(),
    notify: (notice) => renderNotice(toast, log, notice),
    async sandboxFor(sessionID) {
      try {
        const sandbox = await service.sandboxFor(sessionID);
        await reach(phases, "tool:running");
        return sandbox;
      } catch (error) {
        if (isSandboxError(error, "unavailable")) {
          log.error(error.message, sessionID);
          toast.show(error.message, "error", `unavailable:${error.message}`);
        } else if (error instanceof ConfigError) {
          // Again when a tool first needs the sandbox: the start-up toast can precede any
          // attached TUI (OpenCode bootstraps the project before clients subscribe).
          toast.show(error.message, "error", "config-error:tool");
        } else {
          log.error(`no sandbox: ${(error as Error).stack ?? error}`, sessionID);
        }
        throw error;
      }
    },
  };

  const ownTools = {
    preview_url: previewUrlTool(deps),
    sandbox_merge: sandboxMergeTool((id, ref) => service.merge(id, ref)),
  };
  const sandboxed = toolsPlugin(deps, { otherTools: Object.keys(ownTools) });

  // Last, once every hook exists: the guard lets tools through only where the plugin is whole.
  const unmark = markLoaded(directory);
  return {
    ...systemPromptPlugin(directory),
    tool: { ...ownTools, ...sandboxed.tool },
    "tool.execute.before": sandboxed["tool.execute.before"],
    // OpenCode's snapshots track the host checkout, which the agent no longer changes: they
    // cost a git add of the project at every step (two thirds of OpenCode's CPU under load,
    // measured), and /undo would check out the snapshot's files over the user's own edits.
    async config(cfg) {
      cfg.snapshot = false;
    },
    async event({ event }) {
      // Again when a session starts: the start-up toast can precede any attached TUI
      // (OpenCode bootstraps the project before clients subscribe).
      if (configError && event.type === "session.created") toast.show(configError.message, "error", "config-error:session");
      await onEvent(service, event);
    },
    async dispose() {
      unmark();
      await service.dispose();
      await toast.flush();
      await log.flush();
    },
  };
}
