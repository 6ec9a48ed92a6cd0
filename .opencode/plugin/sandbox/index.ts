/**
 * One plugin instance per project directory (`opencode serve` runs several in one
 * process): everything here is per instance, nothing is module-level.
 */
import { isAbsolute, posix, relative, sep } from "node:path";
import type { Hooks, PluginInput } from "@opencode-ai/plugin";
import { ConfigError, ConfigSchema, loadConfig, resolveProvider, type Config } from "./config.js";
import { FileLogger } from "./core/logger.js";
import { logPath } from "./core/paths.js";
import { SessionManager } from "./core/session-manager.js";
import { StateStore } from "./core/state-store.js";
import { createToaster } from "./core/toast.js";
import { createProvider } from "./providers/factory.js";
import { isSandboxError, type Sandbox, type SandboxProvider } from "./providers/provider.js";
import type { PluginContext } from "./plugins/context.js";
import { createGitSync, gitSyncPlugin } from "./plugins/git-sync.js";
import { sessionCleanupPlugin } from "./plugins/session-cleanup.js";
import { systemPromptPlugin } from "./plugins/system-prompt.js";
import { toolsPlugin } from "./plugins/tools.js";
import { sandboxMergeTool } from "./git/merge-tool.js";
import type { ToolDeps } from "./tools/deps.js";
import { previewUrlTool } from "./tools/preview-url.js";

export async function createSandboxPlugin(input: PluginInput, options: Record<string, unknown> = {}): Promise<Hooks> {
  const directory = input.directory;
  const log = new FileLogger({ path: logPath() });
  const toast = createToaster(input.client as never, log);

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

  let provider: Promise<SandboxProvider> | undefined;
  const store = new StateStore({
    projectId: input.project?.id ?? "global",
    worktree: input.worktree,
    log,
    onCorrupt: () => manager.markCorrupt(),
  });
  const gitSync = createGitSync({ directory, config, log, toast, store, manager: () => manager, client: input.client as never });
  const manager: SessionManager = new SessionManager({
    projectId: input.project?.id ?? "global",
    store,
    log,
    toast,
    env: config.sandboxEnv,
    seed: gitSync.seed,
    provider: () => {
      if (configError) return Promise.reject(configError);
      return (provider ??= createProvider(config, log));
    },
    parentOf: async (id) => {
      const res = (await input.client.session.get({ path: { id } })) as { data?: { parentID?: string } };
      return res.data?.parentID;
    },
  });

  // The sandbox holds the whole repository (git sync seeds its top level); OpenCode may
  // have started in a subdirectory of it (a monorepo package), which the tools then see
  // as their project directory.
  const subdir = projectSubdir(input.worktree, directory);

  const deps: ToolDeps = {
    directory,
    config,
    log,
    async sandboxFor(sessionID) {
      try {
        const sandbox = await manager.sandboxFor(sessionID);
        return subdir ? withProjectDir(sandbox, posix.join(sandbox.projectDir, subdir)) : sandbox;
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
  const ctx: PluginContext = { input, directory, config, manager, log, toast, deps };

  const git = gitSyncPlugin({ gitSync, manager, config, log, toast });
  const ownTools = {
    preview_url: previewUrlTool(deps),
    sandbox_merge: sandboxMergeTool(gitSync, (id) => manager.rootOf(id)),
  };

  const hooks = mergeHooks([
    { tool: ownTools },
    toolsPlugin(deps, { otherTools: Object.keys(ownTools) }),
    sessionCleanupPlugin(ctx, (id) => git.syncSession(id, "delete")),
    systemPromptPlugin(ctx),
    git.hooks,
    {
      async event({ event }) {
        const e = event as { type: string; properties?: { info?: { id?: string; parentID?: string } } };
        const info = e.properties?.info;
        if ((e.type === "session.created" || e.type === "session.updated") && info?.id) manager.noteParent(info.id, info.parentID);
      },
    },
  ]);

  return {
    ...hooks,
    async dispose() {
      await hooks.dispose?.();
      await manager.dispose().catch((error) => log.error(`dispose: ${(error as Error).message}`));
      await toast.flush();
      await log.flush();
    },
  };
}

/** `directory` relative to the repository's top level ("" when it is the top, or not in a repository). */
export function projectSubdir(worktree: string | undefined, directory: string): string {
  if (!worktree || worktree === "/") return "";
  const rel = relative(worktree, directory);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel.split(sep).join("/") : "";
}

/** The same sandbox, with the tools' project directory moved (everything else delegates). */
function withProjectDir(sandbox: Sandbox, projectDir: string): Sandbox {
  return Object.create(sandbox, { projectDir: { value: projectDir, enumerable: true } }) as Sandbox;
}

type HookFn = (...args: any[]) => Promise<void>;

/** Sub-plugins' hooks → one Hooks object: tools merge; the same hook of several parts runs each in turn. */
export function mergeHooks(parts: Hooks[]): Hooks {
  const merged: Record<string, unknown> = {};
  const chains: Record<string, HookFn[]> = {};
  for (const part of parts) {
    for (const [key, value] of Object.entries(part)) {
      if (key === "tool") merged.tool = { ...(merged.tool as object), ...(value as object) };
      else if (typeof value === "function") (chains[key] ??= []).push(value as HookFn);
    }
  }
  for (const [key, fns] of Object.entries(chains)) {
    merged[key] =
      key === "event" || key === "dispose"
        ? // One part failing must not starve the others.
          async (...args: unknown[]) => {
            await Promise.allSettled(fns.map((fn) => fn(...args)));
          }
        : async (...args: unknown[]) => {
            for (const fn of fns) await fn(...args);
          };
  }
  return merged as Hooks;
}
