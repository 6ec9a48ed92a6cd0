/** The handle tools use: every operation goes through the agent inside the sandbox. */
import { posix } from "node:path";
import { ShellProcesses } from "../processes.js";
import { SandboxError, type DirEntry, type ExecOptions, type ExecResult, type FileStat, type PreviewLink, type ProcessOutput, type ProcessStart, type Sandbox, type WriteOptions, expectation } from "../provider.js";
import { shellScript } from "../../util/shell.js";
import type { AgentClient } from "./client.js";
import { PROJECT_DIR } from "./constants.js";
import { checkEnv } from "./env.js";
import type { PreviewForwarder } from "./preview.js";

/** Paths are inside the sandbox: relative ones are taken from the project directory. */
export function insidePath(path: string): string {
  if (typeof path !== "string" || path === "" || path.includes("\0")) throw new SandboxError("bad_input", `Invalid path: ${JSON.stringify(path)}`);
  return posix.resolve(PROJECT_DIR, path);
}

export class LocalSandbox implements Sandbox {
  readonly provider = "local";
  readonly projectDir = PROJECT_DIR;
  private readonly processes = new ShellProcesses((command, options) => this.exec(command, options), PROJECT_DIR);

  constructor(
    readonly id: string,
    private readonly client: AgentClient,
    private readonly env: () => Record<string, string>,
    private readonly previews: () => PreviewForwarder,
  ) {}

  async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
    if (typeof command !== "string" || command.includes("\0")) throw new SandboxError("bad_input", "Invalid command");
    return this.client.exec({
      cmd: command,
      cwd: options.cwd ? insidePath(options.cwd) : PROJECT_DIR,
      env: { ...this.env(), ...checkEnv(options.env) },
      timeoutMs: options.timeoutMs,
      signal: options.signal,
      stdin: options.stdin,
      onOutput: options.onOutput,
    });
  }

  readFile(path: string): Promise<Uint8Array> {
    return this.client.readFile(insidePath(path));
  }

  writeFile(path: string, data: Uint8Array | string, options: WriteOptions = {}): Promise<void> {
    return this.client.writeFile(insidePath(path), data, expectation(options.expect));
  }

  stat(path: string): Promise<FileStat | null> {
    return this.client.stat(insidePath(path));
  }

  readDir(path: string): Promise<DirEntry[]> {
    return this.client.readDir(insidePath(path));
  }

  async remove(path: string): Promise<void> {
    const result = await this.exec(shellScript('rm -rf -- "$1"', insidePath(path)));
    if (result.exitCode !== 0) throw new SandboxError("permission_denied", `Cannot remove ${path}: ${result.output.trim()}`);
  }

  startProcess(command: string, options: ProcessStart = {}): Promise<{ id: string }> {
    return this.processes.start(command, { ...options, cwd: options.cwd ? insidePath(options.cwd) : undefined });
  }

  readProcess(id: string, options?: { since?: number }): Promise<ProcessOutput> {
    return this.processes.read(id, options);
  }

  stopProcess(id: string): Promise<void> {
    return this.processes.stop(id);
  }

  async previewUrl(port: number): Promise<PreviewLink> {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new SandboxError("bad_input", `Invalid port: ${port}`);
    const hostPort = await this.previews().hostPort(port);
    return { url: `http://127.0.0.1:${hostPort}` };
  }
}
