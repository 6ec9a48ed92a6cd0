/**
 * The agent's operations, typed: one connection per request (a unix connect costs
 * ~0.1 ms and keeps concurrent calls independent; see connection.ts). Every request
 * has a host-side deadline (channel-limits.ts): an exec its own timeout plus a
 * margin, a file transfer a time that grows with its bytes, the rest a fixed bound.
 */
import { SandboxError, type DirEntry, type ExecResult, type FileStat } from "../provider.js";
import { agentError, AgentConnection, type Forwarded } from "./connection.js";
import { channelLimits, fileDeadlineMs, type ChannelLimits } from "./channel-limits.js";
import { CHUNK_BYTES } from "./protocol.js";

/** The sandbox is untrusted: bound what it can make the host hold in memory. */
export const MAX_OUTPUT_CHARS = 64 * 1024 * 1024;
export const MAX_READ_BYTES = 512 * 1024 * 1024;

function typed(error: unknown, path?: string): unknown {
  const code = (error as { code?: unknown }).code;
  if (error instanceof SandboxError) return error;
  if (typeof code === "string") return agentError(code, (error as Error).message, path);
  return error;
}

export interface ExecRequest {
  cmd: string;
  cwd: string;
  env: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
  stdin?: string | Uint8Array;
  onOutput?: (chunk: string) => void;
}

/** The agent's operations, typed. */
export class AgentClient {
  readonly limits: ChannelLimits;

  constructor(
    readonly socketPath: string,
    private readonly sandboxId: string,
    limits?: Partial<ChannelLimits>,
  ) {
    this.limits = channelLimits(limits);
  }

  open() {
    return AgentConnection.open(this.socketPath, this.sandboxId, this.limits.helloMs);
  }

  private async simple<T>(request: { op: string; [key: string]: unknown }, path?: string, ms = this.limits.requestMs): Promise<T> {
    const conn = await this.open();
    try {
      const result = conn.exchange<T>((type, body, done) => {
        if (type === "X") done(JSON.parse(body.toString("utf8")) as T);
      });
      conn.deadline(ms, `its agent did not answer a ${request.op} request`);
      conn.send("Q", JSON.stringify(request));
      return await result;
    } catch (error) {
      throw typed(error, path);
    } finally {
      conn.close();
    }
  }

  ping() {
    return this.simple<{ pid: number; uid: number }>({ op: "ping" });
  }

  shutdown() {
    return this.simple<object>({ op: "shutdown" }, undefined, this.limits.shutdownMs);
  }

  async stat(path: string): Promise<FileStat | null> {
    return (await this.simple<{ stat: FileStat | null }>({ op: "stat", path }, path)).stat;
  }

  async readDir(path: string): Promise<DirEntry[]> {
    return (await this.simple<{ entries: DirEntry[] }>({ op: "readdir", path }, path)).entries;
  }

  async readFile(path: string): Promise<Uint8Array> {
    const conn = await this.open();
    try {
      const parts: Buffer[] = [];
      let total = 0;
      const started = Date.now();
      // The deadline moves with each chunk: a big file may take its time, a stalled one may not.
      const arm = () => conn.deadline(Math.max(0, started + fileDeadlineMs(this.limits, total) - Date.now()), `its agent did not finish reading ${path}`);
      const result = conn.exchange<Uint8Array>((type, body, done, fail) => {
        if (type === "D") {
          parts.push(body);
          total += body.length;
          if (total > MAX_READ_BYTES) fail(new SandboxError("bad_input", `File larger than ${MAX_READ_BYTES / 1024 / 1024} MiB: ${path}`));
          else arm();
        }
        // The one copy of the data on the host: the socket's chunks into the result.
        else if (type === "X") done(parts.length === 1 ? parts[0]! : Buffer.concat(parts, total));
      });
      arm();
      conn.send("Q", JSON.stringify({ op: "read", path, max: MAX_READ_BYTES }));
      const data = await result;
      return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } catch (error) {
      throw typed(error, path);
    } finally {
      conn.close();
    }
  }

  /** `expect`: "absent" or the sha256 (hex) the file must hold now (see WriteOptions). */
  async writeFile(path: string, data: Uint8Array | string, expect?: string): Promise<void> {
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    const conn = await this.open();
    try {
      const result = conn.exchange<void>((type, _body, done) => {
        if (type === "X") done();
      });
      result.catch(() => {}); // observed below; keeps an early rejection from being "unhandled"
      conn.deadline(fileDeadlineMs(this.limits, bytes.byteLength), `its agent did not finish writing ${path}`);
      conn.send("Q", JSON.stringify({ op: "write", path, expect }));
      for (let offset = 0; offset < bytes.byteLength; offset += CHUNK_BYTES) {
        if (!conn.send("D", bytes.subarray(offset, Math.min(offset + CHUNK_BYTES, bytes.byteLength)))) await Promise.race([conn.drained(), result]);
      }
      conn.send("E");
      await result;
    } catch (error) {
      throw typed(error, path);
    } finally {
      conn.close();
    }
  }

  async exec(request: ExecRequest): Promise<ExecResult> {
    const { signal, onOutput, stdin, ...rest } = request;
    const conn = await this.open();
    let output = "";
    const decoder = new TextDecoder("utf-8");
    // The agent kills the command at its timeout, or when asked to: give it a margin, no more.
    const margin = this.limits.execMarginMs;
    let until = rest.timeoutMs && rest.timeoutMs > 0 ? Date.now() + rest.timeoutMs + margin : Infinity;
    const arm = () => {
      if (until < Infinity) conn.deadline(Math.max(0, until - Date.now()), "its agent did not report the command's end");
    };
    const onAbort = () => {
      conn.send("K");
      until = Math.min(until, Date.now() + margin);
      arm();
    };
    try {
      const result = conn.exchange<ExecResult>((type, body, done) => {
        if (type === "O") {
          const text = decoder.decode(body, { stream: true });
          if (text) {
            if (output.length < MAX_OUTPUT_CHARS) {
              output += text;
              if (output.length >= MAX_OUTPUT_CHARS) output += `\n[output truncated by the sandbox provider after ${MAX_OUTPUT_CHARS / 1024 / 1024} MiB]\n`;
            }
            onOutput?.(text);
          }
        } else if (type === "X") {
          const tail = decoder.decode();
          if (tail) {
            output += tail;
            onOutput?.(tail);
          }
          const x = JSON.parse(body.toString("utf8")) as { exitCode: number | null; timedOut: boolean; aborted: boolean };
          done({ exitCode: x.exitCode, output, timedOut: x.timedOut, aborted: x.aborted });
        }
      });
      arm();
      conn.socket.cork(); // one write for request, stdin and its end
      conn.send("Q", JSON.stringify({ op: "exec", ...rest }));
      if (stdin !== undefined && (typeof stdin === "string" ? stdin.length : stdin.byteLength)) conn.send("D", stdin);
      conn.send("E");
      conn.socket.uncork();
      if (signal?.aborted) onAbort();
      else signal?.addEventListener("abort", onAbort, { once: true });
      return await result;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === "ENOENT") throw new SandboxError("file_not_found", `Working directory not found in the sandbox: ${rest.cwd}`);
      throw typed(error, rest.cwd);
    } finally {
      signal?.removeEventListener("abort", onAbort);
      conn.close();
    }
  }

  /** A raw byte stream to `port` on the sandbox's loopback. */
  async forward(port: number): Promise<Forwarded> {
    const conn = await this.open();
    try {
      const result = conn.exchange<Forwarded>((type, _body, done) => {
        if (type === "X") done(conn.detach());
      });
      conn.deadline(this.limits.requestMs, `its agent did not open a stream to port ${port}`);
      conn.send("Q", JSON.stringify({ op: "forward", port }));
      return await result;
    } catch (error) {
      conn.close();
      throw error;
    }
  }
}
