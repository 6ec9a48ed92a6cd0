/**
 * One connection to the agent inside a sandbox, over its unix socket: frames in and
 * out, one request/response exchange, or a switch to raw bytes (port forwarding).
 * The host sends nothing until the agent has said hello with the right magic: the
 * socket lives in a directory the sandbox can write, so it could be swapped for a
 * symlink to some other host socket — which then never hears a byte from us.
 */
import { closeSync, openSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { basename, dirname } from "node:path";
import type { Writable } from "node:stream";
import { SandboxError } from "../provider.js";
import { AGENT_MAGIC } from "./agent-source.js";
import { MAX_SOCKET_PATH } from "./constants.js";
import { encodeFrame, FrameReader, type FrameType } from "./protocol.js";

const HELLO_TIMEOUT_MS = 5_000;

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
    case "ELOOP":
      return new SandboxError("bad_input", `Too many levels of symbolic links${where}`);
    default:
      return new SandboxError("transient", `Sandbox agent error ${code}${where}: ${message}`);
  }
}

/** One request/response exchange on a fresh connection. */
export class AgentConnection {
  private readonly reader: FrameReader;
  private handler: (type: string, body: Buffer) => void = () => {};
  private closeHandler: (error?: Error) => void = () => {};
  hello?: Hello;

  private constructor(readonly socket: Socket) {
    this.reader = new FrameReader((type, body) => this.handler(type, body));
    socket.on("data", (chunk: Buffer) => this.reader.push(chunk));
    socket.on("error", (error) => this.closeHandler(error));
    socket.on("close", () => this.closeHandler());
  }

  static open(socketPath: string, sandboxId: string): Promise<AgentConnection> {
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
      const conn = new AgentConnection(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new SandboxError("not_running", `Sandbox ${sandboxId}: its agent did not answer`));
      }, HELLO_TIMEOUT_MS);
      conn.closeHandler = (error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new SandboxError("not_running", `Sandbox ${sandboxId} is not running${error ? ` (${error.message})` : ""}`, { cause: error }));
      };
      conn.handler = (type, body) => {
        clearTimeout(timer);
        let hello: Hello | undefined;
        try {
          hello = type === "H" ? (JSON.parse(body.toString("utf8")) as Hello) : undefined;
        } catch {}
        if (!hello || hello.magic !== AGENT_MAGIC) {
          socket.destroy();
          reject(new SandboxError("not_running", `Sandbox ${sandboxId}: something other than its agent answers on its socket`));
          return;
        }
        conn.hello = hello;
        conn.handler = () => {};
        conn.closeHandler = () => {};
        resolve(conn);
      };
    });
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
  exchange<T>(sandboxId: string, onFrame: (type: string, body: Buffer, done: (value: T) => void, fail: (e: Error) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const done = (value: T) => {
        if (settled) return;
        settled = true;
        resolve(value);
      };
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        reject(error);
      };
      this.handler = (type, body) => {
        if (type === "R") {
          const { code, message } = JSON.parse(body.toString("utf8")) as { code: string; message: string };
          fail(Object.assign(new Error(message), { code }));
        } else onFrame(type, body, done, fail);
      };
      this.closeHandler = (error) =>
        fail(new SandboxError("not_running", `Sandbox ${sandboxId}: connection to its agent was lost${error ? ` (${error.message})` : ""}`, { cause: error }));
    });
  }

  /**
   * Switch to raw bytes (port forwarding). Called from the frame handler that saw the
   * reply, so no byte after it is parsed as a frame; until `pipeTo`, bytes are held by a
   * listener — never left to a moment without one, when a flowing socket drops them
   * (which Bun, OpenCode's runtime, does between two microtasks).
   */
  detach(): Forwarded {
    this.reader.raw = true;
    this.handler = () => {};
    this.closeHandler = () => {};
    const held: Buffer[] = [this.reader.rest()];
    const hold = (chunk: Buffer) => void held.push(chunk);
    this.socket.removeAllListeners("data");
    this.socket.on("data", hold);
    const socket = this.socket;
    return {
      socket,
      pipeTo(to) {
        for (const chunk of held) if (chunk.length) to.write(chunk);
        socket.off("data", hold);
        socket.pipe(to);
      },
    };
  }

  close() {
    this.socket.destroy();
  }
}

/** A stream into the sandbox (a forwarded port). */
export interface Forwarded {
  socket: Socket;
  /** Pipes what the sandbox sends into `to`, what arrived so far first. */
  pipeTo(to: Writable): void;
}

