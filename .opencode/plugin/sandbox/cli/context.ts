/**
 * What every command works with: the project found from the current directory, its
 * configuration (as the plugin would load it), the plugin's log and state file, the
 * configured provider (made on first use, let go by `close`) and the project's service.
 * The notices the service reports are kept for the command to render.
 */
import { ConfigError, ConfigSchema, loadConfig, type Config } from "../config.js";
import { FileLogger } from "../core/logger.js";
import { logPath } from "../core/paths.js";
import { projectKey } from "../core/project-key.js";
import { LABEL_PLUGIN } from "../core/session-manager.js";
import { StateStore } from "../core/state-store.js";
import { createProvider } from "../providers/factory.js";
import type { SandboxProvider } from "../providers/provider.js";
import type { Notice } from "../service/notices.js";
import { ProjectService } from "../service/project.js";
import { pluginOptions } from "./plugin-options.js";
import { locateProject, type ProjectLocation } from "./project.js";

export class CliContext {
  readonly notices: Notice[] = [];
  readonly store: StateStore;
  private provider?: Promise<SandboxProvider>;
  private service?: ProjectService;

  private constructor(
    readonly project: ProjectLocation,
    readonly config: Config,
    readonly configError: ConfigError | undefined,
    readonly log: FileLogger,
  ) {
    this.store = new StateStore({ projectId: project.id, worktree: project.worktree, log });
  }

  static async open(directory = process.cwd()): Promise<CliContext> {
    const found = await locateProject(directory);
    // Keyed as the plugin keys it: a folder without git by its real path, not OpenCode's shared "global".
    const project = { ...found, id: await projectKey(found.id, found.directory) };
    let config: Config;
    let configError: ConfigError | undefined;
    try {
      config = loadConfig({ options: await pluginOptions(project.worktree, directory), directory });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      configError = error;
      config = ConfigSchema.parse({});
    }
    const log = new FileLogger({ path: logPath(), level: config.logLevel });
    log.addSecret(config.daytona.apiKey);
    for (const name of config.secretEnv) log.addSecret(config.sandboxEnv[name]);
    return new CliContext(project, config, configError, log);
  }

  /** Labels every sandbox of this project carries (the provider adds this installation's). */
  get labels(): Record<string, string> {
    return { plugin: LABEL_PLUGIN, project: this.project.id };
  }

  /** The configured provider; an invalid configuration is thrown here. */
  providerNow(): Promise<SandboxProvider> {
    if (this.configError) return Promise.reject(this.configError);
    return (this.provider ??= createProvider(this.config, this.log));
  }

  /** The project's service, on the same provider; it runs no sync by itself in the CLI (no events reach it). */
  serviceNow(): ProjectService {
    return (this.service ??= new ProjectService({
      projectId: this.project.id,
      worktree: this.project.worktree,
      directory: this.project.directory,
      config: this.config,
      configError: this.configError,
      log: this.log,
      notify: (notice) => this.notices.push(notice),
      provider: () => this.providerNow(),
    }));
  }

  /**
   * Lets the provider go (a local sandbox this process started ends with it; one another
   * process runs is left alone). Not the service's dispose: that would sync again.
   */
  async close(): Promise<void> {
    const provider = await this.provider?.catch(() => undefined);
    await provider?.dispose?.().catch(() => {});
    await this.log.flush();
  }
}

/**
 * Runs a command's body with a context, closes it, and sets the exit code the body
 * returns. Nothing is left running: a process that would otherwise linger on a
 * provider's socket ends here.
 */
export function withContext<A extends unknown[]>(body: (ctx: CliContext, ...args: A) => Promise<number | void>) {
  return async (...args: A): Promise<void> => {
    const ctx = await CliContext.open();
    try {
      process.exitCode = (await body(ctx, ...args)) ?? 0;
    } finally {
      await ctx.close();
    }
  };
}
