/** The handle tools use for a Daytona sandbox: commands, files, processes, previews. */
import { posix } from "node:path";
import type { Sandbox as SdkSandbox } from "@daytonaio/sdk";
import { ShellProcesses } from "../processes.js";
import { SandboxError, type DirEntry, type ExecOptions, type ExecResult, type FileStat, type PreviewLink, type ProcessOutput, type ProcessStart, type ProviderLog, type Sandbox, type WriteOptions, expectation } from "../provider.js";
import { withRetry, type RetryPolicy } from "../retry.js";
import { toSandboxError, transient } from "./errors.js";
import { CommandRunner } from "./exec.js";
import { DaytonaFiles } from "./files.js";
import { PreviewLinks } from "./preview.js";

export interface DaytonaSandboxOptions {
  sdk: SdkSandbox;
  projectDir: string;
  /** The user's `sandboxEnv`: set on every command (never anything of the host's). */
  env: Record<string, string>;
  apiUrl: string;
  public: boolean;
  previewExpirySeconds: number;
  /** Daytona's auto-stop interval (0: off): long commands keep the sandbox active. */
  autoStopMinutes: number;
  log: ProviderLog;
  retry?: RetryPolicy;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class DaytonaSandbox implements Sandbox {
  readonly provider = "daytona";
  readonly id: string;
  readonly projectDir: string;
  private readonly runner: CommandRunner;
  private readonly files: DaytonaFiles;
  private readonly processes: ShellProcesses;
  private readonly previews: PreviewLinks;

  constructor(private readonly o: DaytonaSandboxOptions) {
    this.id = o.sdk.id;
    this.projectDir = o.projectDir;
    const retried = <T>(fn: () => Promise<T>, doing: string) =>
      withRetry(fn, { policy: o.retry, classify: transient }).catch((error: unknown) => {
        throw toSandboxError(error, { apiUrl: o.apiUrl, doing: `${doing} in sandbox ${this.id}` });
      });
    this.runner = new CommandRunner({
      toolbox: { executeCommand: (...a) => o.sdk.process.executeCommand(...a), uploadFile: (data, path) => o.sdk.fs.uploadFile(data, path) },
      sandboxId: this.id,
      apiUrl: o.apiUrl,
      log: o.log,
      retry: o.retry,
      keepAlive: o.autoStopMinutes > 0 ? { everyMs: (o.autoStopMinutes * 60_000) / 3, touch: () => o.sdk.refreshActivity() } : undefined,
    });
    this.files = new DaytonaFiles((command, options) => this.exec(command, options), {
      download: (path) => retried(() => o.sdk.fs.downloadFile(path), `download ${path}`),
      upload: (data, path) => retried(() => o.sdk.fs.uploadFile(data, path), `upload ${path}`),
    });
    this.processes = new ShellProcesses((command, options) => this.exec(command, options), this.projectDir);
    this.previews = new PreviewLinks({
      link: (port) =>
        retried(async () => {
          if (o.public) return { url: (await o.sdk.getPreviewLink(port)).url };
          return { url: (await o.sdk.getSignedPreviewUrl(port, o.previewExpirySeconds)).url };
        }, `get a preview link for port ${port}`),
      lifetimeMs: o.public ? Infinity : o.previewExpirySeconds * 1000,
    });
  }

  /** Paths are inside the sandbox: relative ones are taken from the project directory. */
  private path(path: string): string {
    if (typeof path !== "string" || path === "" || path.includes("\0")) throw new SandboxError("bad_input", `Invalid path: ${JSON.stringify(path)}`);
    return posix.resolve(this.projectDir, path);
  }

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    if (typeof command !== "string" || command.includes("\0")) throw new SandboxError("bad_input", "Invalid command");
    const env = { ...this.o.env, ...options.env };
    for (const name of Object.keys(env)) if (!ENV_NAME.test(name)) throw new SandboxError("bad_input", `Invalid environment variable name: ${JSON.stringify(name)}`);
    return this.runner.run(command, options.cwd ? this.path(options.cwd) : this.projectDir, env, options);
  }

  async readFile(path: string): Promise<Uint8Array> {
    return this.files.read(this.path(path));
  }

  async writeFile(path: string, data: Uint8Array | string, options: WriteOptions = {}): Promise<void> {
    return this.files.write(this.path(path), data, expectation(options.expect));
  }

  async stat(path: string): Promise<FileStat | null> {
    return this.files.stat(this.path(path));
  }

  async readDir(path: string): Promise<DirEntry[]> {
    return this.files.list(this.path(path));
  }

  async remove(path: string): Promise<void> {
    return this.files.remove(this.path(path));
  }

  async startProcess(command: string, options: ProcessStart = {}): Promise<{ id: string }> {
    return this.processes.start(command, { env: { ...this.o.env, ...options.env }, cwd: options.cwd ? this.path(options.cwd) : undefined });
  }

  readProcess(id: string, options?: { since?: number }): Promise<ProcessOutput> {
    return this.processes.read(id, options);
  }

  stopProcess(id: string): Promise<void> {
    return this.processes.stop(id);
  }

  async previewUrl(port: number): Promise<PreviewLink> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new SandboxError("bad_input", `Invalid port: ${port}`);
    return this.previews.get(port);
  }
}
