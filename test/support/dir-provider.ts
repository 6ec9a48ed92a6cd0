/**
 * Test double: a "sandbox" that is just a directory on the host, commands run with
 * plain `sh -c`. NO isolation — for unit-testing logic that sits on the seam
 * (tools, sync, session manager). Never the evidence that isolation works.
 */
import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rename, rm, lstat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createHash } from "node:crypto";
import { ShellProcesses } from "../../.opencode/plugin/sandbox/providers/processes.js";
import {
  SandboxError,
  type CreateSpec,
  type Diagnosis,
  type ProcessStart,
  type WriteOptions,
  expectation,
  type DirEntry,
  type ExecOptions,
  type ExecResult,
  type FileStat,
  type Sandbox,
  type SandboxInfo,
  type SandboxProvider,
  type FileType,
} from "../../.opencode/plugin/sandbox/providers/provider.js";

function fileType(s: { isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean }): FileType {
  return s.isSymbolicLink() ? "symlink" : s.isDirectory() ? "directory" : s.isFile() ? "file" : "other";
}

function fsError(error: unknown, path: string): never {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "ENOENT") throw new SandboxError("file_not_found", `File not found: ${path}`, { cause: error });
  if (code === "EISDIR") throw new SandboxError("is_directory", `Is a directory: ${path}`, { cause: error });
  if (code === "ENOTDIR") throw new SandboxError("not_directory", `Not a directory: ${path}`, { cause: error });
  if (code === "EACCES" || code === "EPERM")
    throw new SandboxError("permission_denied", `Permission denied: ${path}`, { cause: error });
  throw error;
}

export function runShell(command: string, cwd: string, options: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    const child = spawn("sh", ["-c", command], {
      cwd: options.cwd ?? cwd,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: cwd, LANG: "C.UTF-8", ...options.env },
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let output = "";
    let timedOut = false;
    let aborted = false;
    const onData = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      output += text;
      options.onOutput?.(text);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    const killGroup = () => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {}
    };
    const timer = options.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          killGroup();
        }, options.timeoutMs)
      : undefined;
    const onAbort = () => {
      aborted = true;
      killGroup();
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    child.stdin.on("error", () => {}); // EPIPE when the command does not read stdin
    child.stdin.end(options.stdin ?? "");
    let open = 2;
    child.stdout.on("close", () => open--);
    child.stderr.on("close", () => open--);
    // Resolve on exit, not on stream close (`cmd &` keeps the pipes open) — once an
    // event-loop turn brought nothing new, as the local provider's agent does.
    child.on("exit", (code) => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      const cap = Date.now() + 250;
      let seen = -1;
      const finish = () => {
        child.stdout.destroy();
        child.stderr.destroy();
        resolve({ exitCode: timedOut || aborted ? null : code, output, timedOut, aborted });
      };
      const wait = () => {
        if (open <= 0 || output.length === seen || Date.now() >= cap) return finish();
        seen = output.length;
        setImmediate(wait); // check phase to check phase: a poll phase lies between
      };
      setImmediate(wait);
    });
  });
}

class DirSandbox implements Sandbox {
  readonly provider = "dir";
  constructor(
    readonly id: string,
    readonly projectDir: string,
    private readonly env: Record<string, string>,
  ) {}
  exec(command: string, options: ExecOptions = {}) {
    return runShell(command, this.projectDir, { ...options, env: { ...this.env, ...options.env } });
  }
  async readFile(path: string) {
    try {
      return new Uint8Array(await readFile(path));
    } catch (e) {
      fsError(e, path);
    }
  }
  async writeFile(path: string, data: Uint8Array | string, options: WriteOptions = {}) {
    const expected = expectation(options.expect);
    if (expected) {
      const now = await readFile(path).then((b) => createHash("sha256").update(b).digest("hex"), () => "absent");
      if (now !== expected) throw new SandboxError("changed", `Changed since it was read: ${path}`);
    }
    try {
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
      await writeFile(tmp, data);
      await rename(tmp, path);
    } catch (e) {
      fsError(e, path);
    }
  }
  async stat(path: string): Promise<FileStat | null> {
    try {
      const s = await lstat(path);
      return { type: fileType(s), size: s.size, mtimeMs: s.mtimeMs };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
      fsError(e, path);
    }
  }
  async readDir(path: string): Promise<DirEntry[]> {
    try {
      const entries = await readdir(path, { withFileTypes: true });
      return entries.map((e) => ({ name: e.name, type: fileType(e) }));
    } catch (e) {
      fsError(e, path);
    }
  }
  async remove(path: string) {
    await rm(path, { recursive: true, force: true });
  }
  private get processes() {
    return new ShellProcesses((command, options) => this.exec(command, options), this.projectDir);
  }
  startProcess(command: string, options?: ProcessStart) {
    return this.processes.start(command, options);
  }
  readProcess(id: string, options?: { since?: number }) {
    return this.processes.read(id, options);
  }
  stopProcess(id: string) {
    return this.processes.stop(id);
  }
  async previewUrl(port: number) {
    return { url: `http://127.0.0.1:${port}` };
  }
}

interface Entry {
  info: SandboxInfo;
  root: string;
  env: Record<string, string>;
}

export class DirProvider implements SandboxProvider {
  readonly name = "dir";
  readonly calls: string[] = [];
  private readonly sandboxes = new Map<string, Entry>();
  private seq = 0;
  constructor(private readonly base?: string) {}

  async preflight() {}
  async diagnose(): Promise<Diagnosis> {
    return { provider: "dir", available: true, checks: [] };
  }

  async create(spec: CreateSpec): Promise<Sandbox> {
    this.calls.push("create");
    const base = this.base ?? (await mkdtemp(join(tmpdir(), "dir-provider-")));
    const id = spec.id ?? `dir-${process.pid}-${++this.seq}`;
    const root = join(base, id);
    await mkdir(join(root, "project"), { recursive: true });
    this.sandboxes.set(id, { info: { id, state: "started", labels: { ...spec.labels } }, root, env: spec.env ?? {} });
    return this.handle(id);
  }
  private entry(id: string): Entry {
    const e = this.sandboxes.get(id);
    if (!e) throw new SandboxError("sandbox_not_found", `Sandbox ${id} not found`);
    return e;
  }
  private handle(id: string): Sandbox {
    const e = this.entry(id);
    return new DirSandbox(id, join(e.root, "project"), e.env);
  }
  async get(id: string) {
    this.calls.push("get");
    return { ...this.entry(id).info };
  }
  async connect(id: string) {
    this.calls.push("connect");
    const e = this.entry(id);
    if (e.info.state !== "started") throw new SandboxError("not_running", `Sandbox ${id} is ${e.info.state}`);
    return this.handle(id);
  }
  async start(id: string) {
    this.calls.push("start");
    this.entry(id).info.state = "started";
  }
  async stop(id: string) {
    this.calls.push("stop");
    this.entry(id).info.state = "stopped";
  }
  async delete(id: string) {
    this.calls.push("delete");
    const e = this.sandboxes.get(id);
    this.sandboxes.delete(id);
    if (e) await rm(e.root, { recursive: true, force: true });
  }
  async list(labels: Record<string, string>) {
    this.calls.push("list");
    return [...this.sandboxes.values()]
      .filter((e) => Object.entries(labels).every(([k, v]) => e.info.labels[k] === v))
      .map((e) => ({ ...e.info }));
  }
  /** Test hook: make a sandbox vanish behind the manager's back. */
  vanish(id: string) {
    this.sandboxes.delete(id);
  }
}
