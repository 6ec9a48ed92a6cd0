/**
 * The preview proxy: `{origin}/preview/{sandboxId | signedToken}/{port}/…` forwards HTTP
 * (and WebSocket upgrades) to the port inside the sandbox through the local sandbox's
 * `previewUrl(port)` forwarder. Daytona's proxy uses hosts (`{port}-{id}.proxy.domain`);
 * a path prefix is used here because wildcard hosts do not resolve on a test machine —
 * the prefix is stripped, so the server inside sees `/…`.
 *
 * Auth as apps/proxy decides it: a public sandbox needs nothing; a private one needs
 * its preview token (header `x-daytona-preview-token` or query
 * `DAYTONA_SANDBOX_AUTH_KEY`, both removed before forwarding) or the API key as Bearer;
 * a signed URL carries its token in place of the sandbox id and stops working after its
 * expiry (or `expire`). Failures answer 401 with the proxy's ErrorResponse — the real
 * proxy sends browsers (non-toolbox requests) a 307 to its login page instead.
 */
import { request, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, type Socket } from "node:net";
import type { ControlPlane, StandinSandbox } from "./control-plane.js";
import { daemonError, HANDLED, send, type HandlerResult, type Reply } from "./http.js";

export const PREVIEW_PREFIX = "/preview";
const TOKEN_HEADER = "x-daytona-preview-token";
const TOKEN_QUERY = "DAYTONA_SANDBOX_AUTH_KEY";

interface Target {
  sandbox: StandinSandbox;
  port: number;
  /** Path (with query) to send to the server inside. */
  path: string;
}

export class PreviewProxy {
  constructor(
    private readonly cp: ControlPlane,
    private readonly apiKey: string,
  ) {}

  /** The target of a preview request, or the error to answer. */
  private resolve(req: IncomingMessage, url: URL): Target | Reply {
    const method = req.method ?? "GET";
    const deny = (why: string) => daemonError(401, "UNAUTHORIZED", `authentication failed: ${why}`, url.pathname, method, "DAYTONA_PROXY");
    const [ref = "", portText = "", ...rest] = url.pathname.slice(PREVIEW_PREFIX.length + 1).split("/");
    const port = Number(portText);
    if (!ref || !Number.isInteger(port) || port < 1 || port > 65535)
      return daemonError(400, "BAD_REQUEST", "sandbox ID or signed token and port are required", url.pathname, method, "DAYTONA_PROXY");
    const query = new URLSearchParams(url.search);
    const token = (req.headers[TOKEN_HEADER] as string | undefined) ?? query.get(TOKEN_QUERY) ?? undefined;
    query.delete(TOKEN_QUERY);
    const search = query.toString() ? `?${query}` : "";
    const path = `/${rest.map(decodeURIComponent).map(encodeURIComponent).join("/")}${search}`;

    let sandbox = this.cp.sandboxes.get(ref);
    if (sandbox && sandbox.state !== "destroyed") {
      const bearer = req.headers.authorization === `Bearer ${this.apiKey}`;
      if (!sandbox.public && !bearer && token !== sandbox.authToken)
        return deny(token ? "Auth key header is invalid" : "missing authentication: provide a preview access token");
    } else {
      const signed = this.cp.signedPreviews.get(ref);
      if (!signed || signed.port !== port || signed.expiresAt <= Date.now()) return deny("Invalid or expired token");
      sandbox = this.cp.sandboxes.get(signed.sandboxId);
      if (!sandbox || sandbox.state === "destroyed") return deny("Invalid or expired token");
    }
    if (sandbox.state !== "started" || !sandbox.local)
      return daemonError(502, "BAD_GATEWAY", `sandbox ${sandbox.id} is not running`, url.pathname, method, "DAYTONA_PROXY");
    return { sandbox, port, path };
  }

  private headers(req: IncomingMessage): Record<string, string | string[]> {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = v;
    delete headers[TOKEN_HEADER];
    if (req.headers.authorization === `Bearer ${this.apiKey}`) delete headers.authorization;
    headers["x-forwarded-host"] = req.headers.host ?? "";
    return headers;
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<HandlerResult> {
    const target = this.resolve(req, url);
    if (!("sandbox" in target)) return target;
    const link = await target.sandbox.local!.previewUrl(target.port);
    const inside = new URL(link.url);
    return new Promise<HandlerResult>((resolve) => {
      const out = request(
        { host: inside.hostname, port: inside.port, method: req.method, path: target.path, headers: { ...this.headers(req), ...(link.headers ?? {}) } },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
          answer.on("error", () => res.destroy());
          res.on("close", () => answer.destroy());
          resolve(HANDLED);
        },
      );
      out.on("error", (error) => {
        if (res.headersSent) res.destroy();
        else send(res, daemonError(502, "BAD_GATEWAY", `preview: ${error.message}`, url.pathname, req.method ?? "GET", "DAYTONA_PROXY"));
        resolve(HANDLED);
      });
      req.pipe(out);
    });
  }

  async upgrade(req: IncomingMessage, socket: Socket, head: Buffer, url: URL): Promise<number> {
    const target = this.resolve(req, url);
    if (!("sandbox" in target)) {
      socket.end(`HTTP/1.1 ${target.status} Preview Refused\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return target.status;
    }
    const link = await target.sandbox.local!.previewUrl(target.port);
    const inside = new URL(link.url);
    const upstream = connect(Number(inside.port), inside.hostname);
    const lines = [`${req.method} ${target.path} HTTP/1.1`];
    for (const [k, v] of Object.entries(this.headers(req))) for (const value of [v].flat()) lines.push(`${k}: ${value}`);
    upstream.on("connect", () => {
      upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
      if (head.length) upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on("error", () => socket.destroy());
    socket.on("error", () => upstream.destroy());
    socket.on("close", () => upstream.destroy());
    return 101;
  }
}
