/**
 * One connection to the agent inside a sandbox, over its unix socket: frames in and
 * out, one request/response exchange, or a switch to raw bytes (port forwarding).
 * The socket lives where the sandbox cannot reach it (see socket.ts), yet whatever
 * answers is untrusted (a command can take over the agent's descriptors): the host
 * speaks only after a hello with the right magic, checks every frame's declared size
 * before buffering it, and drops the connection when a deadline passes.
 */
import { closeSync, openSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { basename, dirname } from "node:path";
import type { Writable } from "node:stream";
import { SandboxError } from "../provider.js";
import { AGENT_MAGIC } from "./agent-source.js";
import { ChannelError } from "./channel-error.js";
import { frameCap } from "./channel-limits.js";
import { MAX_SOCKET_PATH } from "./constants.js";
import { encodeFrame, FrameReader, type FrameType, type OversizedFrame } from "./protocol.js";

/** What a forwarded stream may receive before it is piped on (one event-loop turn's worth). */
const MAX_HELD_BYTES = 4 * 1024 * 1024;
interface Hello {
  magic: string;
  version: number;
  pid: number;
  uid: number;
}

/** Maps an errno-style code from the agent to the seam's typed error. */
export function agentError(code: string, message: string, path?: string): SandboxError {
  const where = path ? `: ${path}` : "";
  switch (code) {
    case "ENOENT":
      return new SandboxError("file_not_found", `File not found${where}`);
    case "EISDIR":
      return new SandboxError("is_directory", `Is a directory${where}`);
    case "ENOTDIR":
      return new SandboxError("not_directory", `Not a directory${where}`);
    case "EACCES":
    case "EPERM":
    case "EROFS":
      return new SandboxError("permission_denied", `Permission denied${where}`);
    case "ECHANGED":
      return new SandboxError("changed", `Changed since it was read${where}`);
    case "ELOOP":
      return new SandboxError("bad_input", `Too many levels of symbolic links${where}`);
    case "ENOTREG":
      return new SandboxError("bad_input", `Not a regular file (${message})${where}`);
    case "EFBIG":
      return new SandboxError("bad_input", `File too large to read (${message})${where}`);
    case "E2BIG":
      // The command travels as one argument of sh -c, which Linux caps at 128 KiB.
      return new SandboxError("bad_input", "Command too long: one command (with its environment) may be at most 128 KiB here; write long content to a file with the write tool and run that");
    case "ENAMETOOLONG":
      return new SandboxError("bad_input", `File name too long${where}`);
    default:
      return new SandboxError("transient", `Sandbox agent error ${code}${where}: ${message}`);
  }
}

/** One request/response exchange on a fresh connection. */
export class AgentConnection {
  private readonly reader: FrameReader;
  private handler: (type: string, body: Buffer) => void = () => {};
  private closeHandler: (error?: Error) => void = () => {};
  /** Why the host dropped the connection; reported instead of "connection lost". */
  private fault?: ChannelError;
  private timer?: ReturnType<typeof setTimeout>;
  private closed = false;
  hello?: Hello;

  private constructor(
    readonly socket: Socket,
    private readonly sandboxId: string,
  ) {
    // Before the hello only a small hello frame is accepted.
    const cap = (type: string) => (this.hello ? frameCap(type) : type === "H" ? frameCap("H") : -1);
    // File data and command output only ever append: taken in pieces, not glued into whole frames (protocol.ts).
    const streamed = (type: string) => this.hello !== undefined && (type === "D" || type === "O");
    this.reader = new FrameReader((type, body) => this.dispatch(type, body), cap, (frame) => this.oversized(frame), streamed);
    socket.on("data", (chunk: Buffer) => this.reader.push(chunk));
    socket.on("error", (error) => this.closeHandler(this.fault ?? error));
    socket.on("close", () => {
      this.closed = true;
      clearTimeout(this.timer);
      this.closeHandler(this.fault);
    });
  }

  static open(socketPath: string, sandboxId: string, helloMs: number): Promise<AgentConnection> {
    return new Promise((resolve, reject) => {
      // sun_path holds 107 bytes: reach a deeper socket through a directory descriptor.
      let dirFd: number | undefined;
      let path = socketPath;
      if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
        try {
          dirFd = openSync(dirname(socketPath), "r");
          path = `/proc/self/fd/${dirFd}/${basename(socketPath)}`;
        } catch (error) {
          reject(new SandboxError("not_running", `Sandbox ${sandboxId} is not running`, { cause: error }));
          return;
        }
      }
      const socket = connect(path);
      if (dirFd !== undefined) {
        const fd = dirFd;
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          closeSync(fd);
        };
        socket.once("connect", release);
        socket.once("close", release);
      }
      const conn = new AgentConnection(socket, sandboxId);
      // No request has been sent yet: "not_running" lets a caller retry safely.
      conn.deadline(helloMs, "its agent did not say hello", "not_running");
      conn.closeHandler = (error) => {
        socket.destroy();
        if (error instanceof ChannelError) reject(error);
        else reject(new SandboxError("not_running", `Sandbox ${sandboxId} is not running${error ? ` (${error.message})` : ""}`, { cause: error }));
      };
      conn.handler = (type, body) => {
        let hello: Hello | undefined;
        try {
          hello = type === "H" ? (JSON.parse(body.toString("utf8")) as Hello) : undefined;
        } catch {}
        if (!hello || hello.magic !== AGENT_MAGIC) {
          conn.drop(new ChannelError("impostor", `Sandbox ${sandboxId}: something other than its agent answers on its socket`, "not_running"));
          return;
        }
        clearTimeout(conn.timer);
        conn.hello = hello;
        conn.handler = () => {};
        conn.closeHandler = () => {};
        resolve(conn);
      };
    });
  }

  /**
   * The exchange fails with a "deadline" fault (and the connection is dropped) unless it
   * settles within `ms`; calling it again moves the deadline (progress on a big file).
   */
  deadline(ms: number, what: string, kind: "transient" | "not_running" = "transient") {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.drop(new ChannelError("deadline", `Sandbox ${this.sandboxId}: ${what} within ${Math.round(ms / 1000)} s`, kind)), ms);
  }

  private oversized({ type, size, cap }: OversizedFrame) {
    if (!this.hello) this.drop(new ChannelError("impostor", `Sandbox ${this.sandboxId}: something other than its agent answers on its socket`, "not_running"));
    else this.drop(new ChannelError("oversized_frame", `Sandbox ${this.sandboxId}: its agent sent a frame larger than allowed (type ${JSON.stringify(type)}, ${size} bytes, at most ${Math.max(cap, 0)})`));
  }

  /** A frame the host cannot make sense of is a broken agent (or an impostor): drop it, never throw into the event loop. */
  private dispatch(type: string, body: Buffer) {
    try {
      this.handler(type, body);
    } catch (error) {
      this.drop(new ChannelError("protocol", `Sandbox ${this.sandboxId}: its agent sent a malformed ${JSON.stringify(type)} frame (${(error as Error).message})`));
    }
  }

  /** Ends the connection for `fault`; the pending exchange (or open) fails with it. */
  drop(fault: ChannelError) {
    this.fault ??= fault;
    clearTimeout(this.timer);
    this.reader.stop();
    this.closeHandler(this.fault);
    this.socket.destroy();
  }

  send(type: FrameType, payload?: Uint8Array | string): boolean {
    let ok = true;
    for (const part of encodeFrame(type, payload)) ok = this.socket.write(part);
    return ok;
  }

  /** Resolves when a write can continue (backpressure for big uploads). */
  drained(): Promise<void> {
    return this.socket.writableNeedDrain ? new Promise((r) => this.socket.once("drain", () => r())) : Promise.resolve();
  }

  /** Routes frames until the returned promise settles; a dropped connection rejects. */
  exchange<T>(onFrame: (type: string, body: Buffer, done: (value: T) => void, fail: (e: Error) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const done = (value: T) => {
        if (settled) return;
        settled = true;
        clearTimeout(this.timer);
        resolve(value);
      };
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(this.timer);
        reject(error);
      };
      this.handler = (type, body) => {
        if (type === "R") {
          const { code, message } = JSON.parse(body.toString("utf8")) as { code: unknown; message: unknown };
          if (typeof code !== "string") throw new Error("error without a code");
          fail(Object.assign(new Error(String(message)), { code }));
        } else onFrame(type, body, done, fail);
      };
      this.closeHandler = (error) =>
        fail(
          error instanceof ChannelError
            ? error
            : new SandboxError("not_running", `Sandbox ${this.sandboxId}: connection to its agent was lost${error ? ` (${error.message})` : ""}`, { cause: error }),
        );
      // Dropped or closed between the hello and this exchange: no event will say so again.
      if (this.fault || this.closed) this.closeHandler(this.fault);
    });
  }

  /**
   * Switch to raw bytes (port forwarding). Called from the frame handler that saw the
   * reply, so no byte after it is parsed as a frame; until `pipeTo`, bytes are held by a
   * listener — never left to a moment without one, when a flowing socket drops them
   * (which Bun, OpenCode's runtime, does between two microtasks). No deadline from here
   * on: the stream's owner bounds it (see preview.ts).
   */
  detach(): Forwarded {
    clearTimeout(this.timer);
    this.reader.raw = true;
    this.handler = () => {};
    this.closeHandler = () => {};
    const held: Buffer[] = [this.reader.rest()];
    let heldBytes = held[0]!.length;
    const socket = this.socket;
    const hold = (chunk: Buffer) => {
      held.push(chunk);
      if ((heldBytes += chunk.length) > MAX_HELD_BYTES) socket.destroy();
    };
    socket.removeAllListeners("data");
    socket.on("data", hold);
    return {
      socket,
      pipeTo(to) {
        for (const chunk of held) if (chunk.length) to.write(chunk);
        held.length = 0;
        socket.off("data", hold);
        socket.pipe(to);
      },
    };
  }

  close() {
    clearTimeout(this.timer);
    this.socket.destroy();
  }
}

/** A stream into the sandbox (a forwarded port). */
export interface Forwarded {
  socket: Socket;
  /** Pipes what the sandbox sends into `to`, what arrived so far first. */
  pipeTo(to: Writable): void;
}

