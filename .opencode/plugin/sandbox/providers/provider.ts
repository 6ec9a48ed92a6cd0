import { createHash } from "node:crypto";

/**
 * The seam between tools/sync and whatever runs the sandbox. Shaped by what the
 * tools and git sync need, not by either SDK. Tools only ever see `Sandbox`.
 */

/** Where a provider says what it did (the plugin's logger fits). */
export interface ProviderLog {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export type SandboxState = "started" | "stopped" | "starting" | "error";

export interface SandboxInfo {
  id: string;
  state: SandboxState;
  labels: Record<string, string>;
  /** When it was created (ISO 8601), when the provider knows: a young unmapped sandbox may be another process's, being set up. */
  createdAt?: string;
  /** When it was last used (ISO 8601), when the provider knows: prune and retention spare what is in use. */
  lastActivityAt?: string;
}

/** What a sandbox takes on disk, as far as its provider can tell without starting it. */
export interface DiskUsage {
  /** Bytes it uses on this machine (local: its directory). */
  usedBytes?: number;
  /** Bytes allocated to it (Daytona: its disk resource). */
  allocatedBytes?: number;
}

export interface CreateSpec {
  /** Carries plugin, project id and session id; `list(labels)` finds sandboxes by them. */
  labels: Record<string, string>;
  /** Extra environment for every command, configured by the user (never host secrets). */
  env?: Record<string, string>;
  /** Reuse this id (re-creating a vanished sandbox keeps its identity where the provider allows). */
  id?: string;
}

export interface ExecOptions {
  /** Directory inside the sandbox; defaults to `projectDir`. */
  cwd?: string;
  env?: Record<string, string>;
  /** Ends the command's whole process group when exceeded. */
  timeoutMs?: number;
  /** Aborting ends the command's whole process group inside the sandbox. */
  signal?: AbortSignal;
  stdin?: string | Uint8Array;
  /** Called with output (stdout and stderr interleaved) as it arrives. */
  onOutput?: (chunk: string) => void;
}

export interface ExecResult {
  /** null when the command was ended by timeout or abort. */
  exitCode: number | null;
  /** stdout and stderr interleaved in the order produced, decoded as UTF-8. */
  output: string;
  timedOut: boolean;
  aborted: boolean;
}

export type FileType = "file" | "directory" | "symlink" | "other";

export interface FileStat {
  type: FileType;
  size: number;
  mtimeMs: number;
}

export interface DirEntry {
  name: string;
  type: FileType;
}

/** A process started in the background: it outlives the call that started it. */
export interface ProcessStart {
  cwd?: string;
  env?: Record<string, string>;
}

export interface ProcessOutput {
  /** Output (stdout and stderr interleaved) from byte `since` on, decoded as UTF-8. */
  output: string;
  /** Bytes of output so far: pass it as `since` to read only what is new. */
  size: number;
  running: boolean;
  /** The exit code once it ended by itself; null while running or when it was stopped. */
  exitCode: number | null;
}

/** One finding of `diagnose()`: what was checked, whether it holds, and what to do when not. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** What to do about a failed check. */
  fix?: string;
  /** A failed check that sandboxes work without (a limit that is not enforced). */
  warning?: boolean;
}

export interface Diagnosis {
  provider: string;
  /** Sandboxes can be created (no failed check without `warning`). */
  available: boolean;
  checks: Check[];
}

export interface WriteOptions {
  /**
   * Write only if the file holds exactly this now (null: nothing is there); otherwise
   * throw SandboxError `changed` and write nothing. A compare-and-swap: a caller that
   * knows the content skips reading it first, and never overwrites what changed since.
   */
  expect?: Uint8Array | null;
}

/** The `expect` of a write as it travels: "absent", or the sha256 (hex) of the expected content. */
export function expectation(expect: Uint8Array | null | undefined): string | undefined {
  if (expect === undefined) return undefined;
  return expect === null ? "absent" : createHash("sha256").update(expect).digest("hex");
}

export interface PreviewLink {
  url: string;
  /** Headers a client must send (e.g. a private Daytona sandbox's preview token). */
  headers?: Record<string, string>;
}

/** A live, started sandbox. Paths are absolute paths inside the sandbox. */
export interface Sandbox {
  readonly id: string;
  readonly provider: string;
  /** Where the repository lives inside the sandbox. */
  readonly projectDir: string;
  /** Runs `command` through a real shell (sh -c) inside the sandbox, as the sandbox's user. */
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /** Throws SandboxError file_not_found / is_directory / permission_denied. Follows symlinks only inside the sandbox. */
  readFile(path: string): Promise<Uint8Array>;
  /** Creates parent directories. Atomic: readers see the old or the new content. */
  writeFile(path: string, data: Uint8Array | string, options?: WriteOptions): Promise<void>;
  /** null when nothing is at `path`. Does not follow a final symlink. */
  stat(path: string): Promise<FileStat | null>;
  readDir(path: string): Promise<DirEntry[]>;
  /** Removes a file, a symlink (not its target) or a directory with everything in it. Nothing there is not an error. */
  remove(path: string): Promise<void>;
  /** Starts `command` through a shell, detached from this call: returns at once with the process's id. */
  startProcess(command: string, options?: ProcessStart): Promise<{ id: string }>;
  /** Throws SandboxError `bad_input` for an id no `startProcess` returned. */
  readProcess(id: string, options?: { since?: number }): Promise<ProcessOutput>;
  /** Ends the process and everything it started; stopping an ended one is not an error. */
  stopProcess(id: string): Promise<void>;
  previewUrl(port: number): Promise<PreviewLink>;
}

export interface SandboxProvider {
  readonly name: string;
  /** Throws SandboxError `unavailable` with a message that names the fix. */
  preflight(): Promise<void>;
  /** What works and what does not on this machine or account, for a `doctor` command and the log. */
  diagnose(): Promise<Diagnosis>;
  /** Creates and starts a sandbox. */
  create(spec: CreateSpec): Promise<Sandbox>;
  /** Throws SandboxError `sandbox_not_found`. */
  get(id: string): Promise<SandboxInfo>;
  /** A handle to a started sandbox. Throws `sandbox_not_found` or `not_running`. */
  connect(id: string): Promise<Sandbox>;
  start(id: string): Promise<void>;
  stop(id: string): Promise<void>;
  /** Idempotent: deleting a sandbox that is gone is not an error. */
  delete(id: string): Promise<void>;
  /** Sandboxes whose labels include every given label. */
  list(labels: Record<string, string>): Promise<SandboxInfo[]>;
  /** Its disk use, measured without starting it. Throws `sandbox_not_found`. */
  diskUsage?(id: string): Promise<DiskUsage>;
  /** OpenCode is exiting: end what this process owns. */
  dispose?(): Promise<void>;
  /** Every sandbox deleted: remove what the provider made on this machine; says what it removed. */
  uninstall?(): Promise<string[]>;
}

export type SandboxErrorKind =
  | "sandbox_not_found"
  | "not_running"
  | "transient"
  | "auth"
  | "quota"
  | "bad_input"
  | "unavailable"
  | "file_not_found"
  | "is_directory"
  | "not_directory"
  | "permission_denied"
  /** A compare-and-swap write found other content than expected. */
  | "changed";

export class SandboxError extends Error {
  override readonly name = "SandboxError";
  /** With `not_running`: the provider's own word for the state (e.g. "archived": starting takes longer). */
  readonly state?: string;
  /** The operation hit its deadline (a bound for a hang): trying again at once would only wait again. */
  readonly timedOut: boolean;
  constructor(
    readonly kind: SandboxErrorKind,
    message: string,
    options?: { cause?: unknown; state?: string; timedOut?: boolean },
  ) {
    super(message, options);
    this.state = options?.state;
    this.timedOut = options?.timedOut ?? false;
  }
}

export function isSandboxError(error: unknown, ...kinds: SandboxErrorKind[]): error is SandboxError {
  return error instanceof SandboxError && (kinds.length === 0 || kinds.includes(error.kind));
}

/** The sandbox itself is gone or stopped: a fresh handle may succeed. */
export function isSandboxGone(error: unknown): boolean {
  return isSandboxError(error, "sandbox_not_found", "not_running");
}
