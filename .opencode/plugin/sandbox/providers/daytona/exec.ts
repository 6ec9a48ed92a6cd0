/**
 * Running one command in a Daytona sandbox, exactly once. The success path is one
 * request. When the answer is lost (no answer, a 5xx, a 429), the run's record in the
 * sandbox says what happened (command.ts): never started → send the same request
 * again (a late copy of the first finds the record and runs nothing); running → wait
 * for it; ended → its output and exit code. A timeout or an abort ends the run's
 * whole session. A sandbox that is not started answers before the command reaches
 * it: `not_running`, so the caller may start it and send the command again.
 */
import { randomBytes } from "node:crypto";
import { isSandboxError, SandboxError, type ExecOptions, type ExecResult, type ProviderLog } from "../provider.js";
import { backoffMs, DEFAULT_RETRY, withRetry, type RetryPolicy } from "../retry.js";
import { alreadyRan, daemonCommand, daemonCommandForFile, killScript, MAX_INLINE_SCRIPT, runScript, scriptPath, statusScript } from "./command.js";
import { statusOf, toSandboxError, transient } from "./errors.js";

/** Output the host takes back from one command. */
export const MAX_OUTPUT_BYTES = 64 * 1024 * 1024;
/** How often a run whose answer was lost is asked about while it still runs. */
const POLL_MS = 500;
/** What a shell reports for a command killed by SIGKILL. */
const KILLED = 137;

/** What running commands needs of the SDK's sandbox. */
export interface Toolbox {
  executeCommand(command: string, cwd?: string, env?: Record<string, string>, timeout?: number): Promise<{ exitCode: number; result: string }>;
  uploadFile(file: Buffer, remotePath: string): Promise<void>;
}

export interface RunnerOptions {
  toolbox: Toolbox;
  sandboxId: string;
  apiUrl: string;
  log: ProviderLog;
  retry?: RetryPolicy;
  /** Daytona stops a sandbox it sees no activity in, and a command in flight is none: touched while one runs. */
  keepAlive?: { everyMs: number; touch(): Promise<void> };
}

type RunStatus = { state: "never" | "running" | "ended" | "killed"; exitCode: number | null; output: string };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class CommandRunner {
  /** Runs whose answers arrived: their records go with the next command. */
  private done: string[] = [];

  constructor(private readonly o: RunnerOptions) {}

  async run(command: string, cwd: string, env: Record<string, string>, options: ExecOptions = {}): Promise<ExecResult> {
    if (options.signal?.aborted) return { exitCode: null, output: "", timedOut: false, aborted: true };
    const id = randomBytes(8).toString("hex");
    const script = runScript({ id, command, cwd, env, stdin: options.stdin, forget: this.done.splice(0, 50), maxOutputBytes: MAX_OUTPUT_BYTES });
    const daemon = await this.daemonCommand(id, script);
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      void this.ask(killScript(id)).catch(() => {});
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    const keepAlive = this.o.keepAlive;
    const timer = keepAlive && setInterval(() => void keepAlive.touch().catch((e: Error) => this.o.log.warn(`daytona ${this.o.sandboxId}: keep-alive failed: ${e.message}`)), keepAlive.everyMs);
    try {
      let result = await this.send(id, daemon, options);
      if (aborted) result = { ...result, exitCode: null, timedOut: false, aborted: true };
      this.done.push(id);
      if (result.output) options.onOutput?.(result.output);
      return result;
    } finally {
      clearInterval(timer);
      options.signal?.removeEventListener("abort", onAbort);
    }
  }

  private async send(id: string, daemon: string, options: ExecOptions): Promise<ExecResult> {
    const timeoutSec = options.timeoutMs ? Math.max(1, Math.ceil(options.timeoutMs / 1000)) : undefined;
    const policy = this.o.retry ?? DEFAULT_RETRY;
    for (let sent = 1; ; sent++) {
      try {
        const answer = await this.o.toolbox.executeCommand(daemon, undefined, undefined, timeoutSec);
        if (alreadyRan(id, answer)) return await this.await(id, options);
        return { exitCode: answer.exitCode, output: answer.result, timedOut: false, aborted: false };
      } catch (error) {
        // The daemon's own timeout ended only its shell: the run's session is ended here.
        if (statusOf(error) === 408) return this.timedOut(id);
        const verdict = transient(error);
        if (!verdict.retry) throw toSandboxError(error, { apiUrl: this.o.apiUrl, doing: `run a command in sandbox ${this.o.sandboxId}` });
        this.o.log.warn(`daytona ${this.o.sandboxId}: the answer to a command was lost (${(error as Error).message}); asking what became of it`);
        const status = await this.statusOfSent(id);
        if (status.state !== "never") return this.await(id, options, status);
        if (sent >= policy.attempts) throw toSandboxError(error, { apiUrl: this.o.apiUrl, doing: `run a command in sandbox ${this.o.sandboxId}` });
        await sleep(backoffMs(sent, policy, Math.random, verdict.afterMs));
      }
    }
  }

  /** Waits for a run that started: its recorded end, or its timeout. */
  private async await(id: string, options: ExecOptions, known?: RunStatus): Promise<ExecResult> {
    const deadline = options.timeoutMs ? Date.now() + options.timeoutMs : undefined;
    for (let status = known ?? (await this.statusOfSent(id)); ; status = await this.statusOfSent(id)) {
      if (status.state === "ended") return { exitCode: status.exitCode, output: status.output, timedOut: false, aborted: false };
      if (status.state === "killed") return { exitCode: KILLED, output: status.output, timedOut: false, aborted: false };
      if (options.signal?.aborted) return { exitCode: null, output: status.output, timedOut: false, aborted: true };
      if (deadline && Date.now() > deadline) return this.timedOut(id);
      await sleep(POLL_MS);
    }
  }

  private async timedOut(id: string): Promise<ExecResult> {
    await this.ask(killScript(id)).catch(() => {});
    const { output } = await this.status(id).catch(() => ({ output: "" }));
    return { exitCode: null, output, timedOut: true, aborted: false };
  }

  /**
   * The status of a run that was sent. The sandbox stopping meanwhile is not `not_running`
   * here: that would have the command sent again on the started sandbox, and it may have
   * run (or still be cut off half-way). Its outcome is unknown, and said so.
   */
  private async statusOfSent(id: string): Promise<RunStatus> {
    try {
      return await this.status(id);
    } catch (error) {
      if (!isSandboxError(error, "not_running")) throw error;
      throw new SandboxError("transient", `Daytona sandbox ${this.o.sandboxId} stopped while a command ran: whether it ran is unknown (${error.message})`, { cause: error });
    }
  }

  private async status(id: string): Promise<RunStatus> {
    const answer = await this.ask(statusScript(id, MAX_OUTPUT_BYTES));
    const newline = answer.indexOf("\n");
    const head = (newline < 0 ? answer : answer.slice(0, newline)).trim();
    const output = newline < 0 ? "" : answer.slice(newline + 1);
    if (head.startsWith("E")) return { state: "ended", exitCode: Number(head.slice(1)), output };
    if (head === "R") return { state: "running", exitCode: null, output };
    if (head === "K") return { state: "killed", exitCode: null, output };
    return { state: "never", exitCode: null, output };
  }

  /** An inline script, or one uploaded first when it is too long for a command line. */
  private async daemonCommand(id: string, script: string): Promise<string> {
    const inline = daemonCommand(script);
    if (inline.length <= MAX_INLINE_SCRIPT) return inline;
    const path = scriptPath(id);
    await this.retried(() => this.o.toolbox.uploadFile(Buffer.from(script), path), "upload a command");
    return daemonCommandForFile(path);
  }

  /** A question to the sandbox that changes nothing but its answer: safe to send again. */
  private async ask(script: string): Promise<string> {
    return (await this.retried(() => this.o.toolbox.executeCommand(daemonCommand(script)), "ask about a command")).result;
  }

  private retried<T>(fn: () => Promise<T>, doing: string): Promise<T> {
    return withRetry(fn, {
      policy: this.o.retry,
      classify: transient,
      onRetry: (error, attempt, wait) => this.o.log.warn(`daytona ${this.o.sandboxId}: ${doing} failed (attempt ${attempt}, next in ${wait} ms): ${(error as Error).message}`),
    }).catch((error: unknown) => {
      throw toSandboxError(error, { apiUrl: this.o.apiUrl, doing: `${doing} in sandbox ${this.o.sandboxId}` });
    });
  }
}
