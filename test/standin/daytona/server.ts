/**
 * The HTTP server and its routing: `/api/…` (control plane, Bearer API key),
 * `/toolbox/{sandboxId}/…` (the toolbox proxy in front of the daemon, Bearer API key),
 * `/preview/{id|signedToken}/{port}/…` (preview proxy), WebSocket upgrades (socket.io and
 * toolbox streams are refused, preview ones forwarded). Every request is recorded, and
 * faults are applied before and after the handler.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import { SANDBOX_HOME } from "../../../.opencode/plugin/sandbox/providers/local/constants.js";
import type { ApiRoutes } from "./api.js";
import type { ControlPlane } from "./control-plane.js";
import type { Daemons } from "./daemon.js";
import { execute, type DaemonMode, type ExecuteBody } from "./exec.js";
import { files } from "./files.js";
import { apiError, daemonError, drain, HANDLED, json, readJson, send, sleep, type HandlerResult, type Reply } from "./http.js";
import { PREVIEW_PREFIX, type PreviewProxy } from "./preview.js";
import type { Sessions } from "./sessions.js";
import { describeFault, type Fault, type Faults, type RecordedRequest, type RequestLog } from "./wire.js";

export const API_PREFIX = "/api";
export const TOOLBOX_PREFIX = "/toolbox";

export interface ServerParts {
  apiKey: string;
  daemon: DaemonMode;
  daemons: Daemons;
  log: RequestLog;
  faults: Faults;
  cp: ControlPlane;
  api: ApiRoutes;
  sessions: Sessions;
  preview: PreviewProxy;
  /** Added before every request is handled, upgrades included: a network's round trip. */
  latencyMs?: number;
}

/** The sandbox id or name a path addresses (for `vanish` faults). */
function sandboxRef(path: string): string | undefined {
  const m = /^\/api\/sandbox\/([^/]+)/.exec(path) ?? /^\/toolbox\/([^/]+)/.exec(path) ?? /^\/preview\/([^/]+)/.exec(path);
  return m ? decodeURIComponent(m[1]!) : undefined;
}

export function createStandinServer(p: ServerParts): { server: Server; closeSockets(): void } {
  const sockets = new Set<Duplex>();

  const faultReply = (fault: Extract<Fault, { status: number }>, path: string, method: string, url: string): Reply => {
    const headers: Record<string, string> = fault.retryAfter !== undefined ? { "retry-after": String(fault.retryAfter) } : {};
    let reply: Reply;
    if (fault.body !== undefined) reply = json(fault.status, fault.body);
    else if (path.startsWith(API_PREFIX)) reply = apiError(fault.status, fault.status === 429 ? "ThrottlerException: Too Many Requests" : "An unexpected error occurred.", url);
    else reply = daemonError(fault.status, fault.status === 408 ? "REQUEST_TIMEOUT" : fault.status === 429 ? "TOO_MANY_REQUESTS" : "INTERNAL_SERVER_ERROR", `injected fault (${fault.status})`, path, method);
    return { ...reply, headers: { ...reply.headers, ...headers } };
  };

  const vanish = async (path: string) => {
    const ref = sandboxRef(path);
    const sb = ref ? (p.cp.find(ref) ?? [...p.cp.sandboxes.values()].find((s) => s.id === p.cp.signedPreviews.get(ref)?.sandboxId)) : undefined;
    if (sb) await p.cp.vanish(sb);
  };

  const drop = (req: IncomingMessage, entry: RecordedRequest) => {
    entry.status = 0;
    req.socket.destroy();
  };

  /**
   * What Daytona answers for the toolbox of a sandbox that is not started: the proxy
   * passes the request to the sandbox's runner, which finds its container without an
   * IP address and answers 400 (the runner's ErrorResponse has no `source`).
   */
  const notStarted = (path: string, method: string): Reply =>
    json(400, {
      statusCode: 400,
      message: "bad request: failed to resolve container IP after 3 attempts: no IP address found. Is the Sandbox started?",
      code: "BAD_REQUEST",
      timestamp: new Date().toISOString(),
      path,
      method,
    });

  async function toolbox(req: IncomingMessage, url: URL): Promise<Reply> {
    const method = req.method ?? "GET";
    const path = url.pathname;
    if (req.headers.authorization !== `Bearer ${p.apiKey}`)
      return daemonError(401, "UNAUTHORIZED", "authentication failed: Bearer token is invalid", path, method, "DAYTONA_PROXY");
    const [id = "", ...rest] = path.slice(TOOLBOX_PREFIX.length + 1).split("/").map(decodeURIComponent);
    const sb = p.cp.sandboxes.get(id);
    if (!sb || sb.state === "destroyed") return daemonError(404, "NOT_FOUND", "not found: sandbox not found", path, method, "DAYTONA_PROXY");
    const local = sb.local;
    if (sb.state !== "started" || !local) return notStarted(path, method);
    const workDir = local.projectDir;
    try {
      if (rest[0] === "process" && rest[1] === "execute" && rest.length === 2 && method === "POST")
        return await execute(p.daemons, local, workDir, p.daemon, await readJson<ExecuteBody>(req), path);
      if (rest[0] === "process" && rest[1] === "session") return await p.sessions.handle(sb.id, local, workDir, method, rest.slice(2), req, path);
      if (rest[0] === "files") return await files(local, workDir, method, rest.slice(1), url, req, path);
      if (rest.length === 1 && method === "GET" && rest[0] === "work-dir") return json(200, { dir: workDir });
      if (rest.length === 1 && method === "GET" && rest[0] === "user-home-dir") return json(200, { dir: SANDBOX_HOME });
      if (rest.length === 1 && method === "GET" && rest[0] === "version") return json(200, { version: "standin" });
      return { status: 404, headers: { "content-type": "text/plain" }, body: "404 page not found" };
    } catch (error) {
      // The sandbox stopped or vanished under the call.
      if (sb.state !== "started") return daemonError(502, "BAD_GATEWAY", `sandbox ${id} is not running (${sb.state})`, path, method, "DAYTONA_PROXY");
      return daemonError(500, "INTERNAL_SERVER_ERROR", (error as Error).message, path, method);
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<HandlerResult> {
    const method = req.method ?? "GET";
    const path = url.pathname;
    if (path === API_PREFIX || path.startsWith(`${API_PREFIX}/`)) {
      if (req.headers.authorization !== `Bearer ${p.apiKey}`) return apiError(401, "Unauthorized", req.url ?? path);
      return p.api.handle(method, path.slice(API_PREFIX.length), url, req.url ?? path, req);
    }
    if (path.startsWith(`${TOOLBOX_PREFIX}/`)) return toolbox(req, url);
    if (path.startsWith(`${PREVIEW_PREFIX}/`)) return p.preview.handle(req, res, url);
    return { status: 404, headers: { "content-type": "text/plain" }, body: "not found" };
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const method = req.method ?? "GET";
    const entry = p.log.open(method, req.url ?? "/");
    res.on("finish", () => (entry.status = res.statusCode));
    res.on("close", () => {
      if (!res.writableFinished && entry.status === undefined) entry.status = 0;
    });
    const url = new URL(req.url ?? "/", "http://standin.invalid");
    const path = url.pathname;
    try {
      if (p.latencyMs) await sleep(p.latencyMs);
      const before = p.faults.take("before", method, path);
      if (before) {
        entry.fault = `before: ${describeFault(before)}`;
        if ("delayMs" in before) await sleep(before.delayMs);
        else if ("vanish" in before) await vanish(path);
        else if ("drop" in before) return drop(req, entry);
        else {
          req.resume();
          return send(res, faultReply(before, path, method, req.url ?? path));
        }
      }
      const result = await route(req, res, url);
      if (result === HANDLED) return;
      const after = p.faults.take("after", method, path);
      if (after) {
        entry.fault = `after: ${describeFault(after)}`;
        if ("delayMs" in after) await sleep(after.delayMs);
        else if ("vanish" in after) await vanish(path);
        else {
          await drain(result);
          if ("drop" in after) return drop(req, entry);
          return send(res, faultReply(after, path, method, req.url ?? path));
        }
      }
      send(res, result);
    } catch (error) {
      send(res, path.startsWith(API_PREFIX) ? apiError(500, "An unexpected error occurred.", req.url ?? path) : daemonError(500, "INTERNAL_SERVER_ERROR", (error as Error).message, path, method));
    }
  }

  async function upgrade(req: IncomingMessage, socket: Socket, head: Buffer) {
    const entry = p.log.open(req.method ?? "GET", req.url ?? "/", true);
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    const url = new URL(req.url ?? "/", "http://standin.invalid");
    const refuse = (status: number, text: string) => {
      entry.status = status;
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    try {
      if (p.latencyMs) await sleep(p.latencyMs);
      if (url.pathname.startsWith(`${PREVIEW_PREFIX}/`)) entry.status = await p.preview.upgrade(req, socket, head, url);
      // socket.io (the SDK's state events) is not served: the SDK falls back to polling.
      else if (url.pathname.startsWith(`${API_PREFIX}/socket.io`)) refuse(404, "Not Found");
      else refuse(501, "Not Implemented");
    } catch {
      refuse(502, "Bad Gateway");
    }
  }

  const server = createServer((req, res) => void handle(req, res));
  server.on("upgrade", (req: IncomingMessage, socket: Socket, head: Buffer) => void upgrade(req, socket, head));
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  return {
    server,
    closeSockets() {
      for (const s of sockets) s.destroy();
    },
  };
}
