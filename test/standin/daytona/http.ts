/**
 * Small HTTP pieces shared by the stand-in's modules: the Reply a handler returns (so a
 * fault can replace it after the work is done), body reading, and the two error body
 * shapes the SDK parses — the API's (NestJS AllExceptionsFilter: path, timestamp,
 * statusCode, error, message) and the daemon's / proxy's (common-go ErrorResponse:
 * statusCode, message, code, timestamp, path, method; plus `source`, which the pinned
 * toolbox client documents and the SDK uses to pick typed errors such as
 * DaytonaFileNotFoundError).
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from "node:http";
import { Readable } from "node:stream";

export interface Reply {
  status: number;
  headers?: Record<string, string | number>;
  body?: string | Buffer | Readable;
}

/** A handler that wrote the response itself (streams, proxies): faults "after" cannot apply. */
export const HANDLED = Symbol("handled");
export type HandlerResult = Reply | typeof HANDLED;

export class HttpError extends Error {
  constructor(readonly reply: Reply) {
    super(`HTTP ${reply.status}`);
  }
}

export function json(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { "content-type": "application/json; charset=utf-8", ...headers }, body: JSON.stringify(value) };
}

export function empty(status: number): Reply {
  return { status };
}

/** The control plane's error body (apps/api AllExceptionsFilter). */
export function apiError(status: number, message: string, url: string): Reply {
  return json(status, { path: url, timestamp: new Date().toISOString(), statusCode: status, error: STATUS_CODES[status] ?? "Error", message });
}

/** The daemon's / proxy's error body (libs/common-go ErrorResponse). */
export function daemonError(status: number, code: string, message: string, path: string, method: string, source = "DAYTONA_DAEMON"): Reply {
  return json(status, { statusCode: status, message, code, timestamp: new Date().toISOString(), path, method, source });
}

export function readBody(req: IncomingMessage, limit = 512 * 1024 * 1024): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new HttpError({ status: 413 }));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export async function readJson<T>(req: IncomingMessage): Promise<T | undefined> {
  const raw = await readBody(req);
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw.toString("utf8")) as T;
  } catch {
    return undefined;
  }
}

/** Writes a Reply; a closed connection is not an error (the client went away). */
export function send(res: ServerResponse, reply: Reply): void {
  if (res.destroyed || res.headersSent) return;
  res.statusCode = reply.status;
  for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
  const body = reply.body;
  if (body instanceof Readable) {
    body.on("error", () => res.destroy());
    body.pipe(res);
  } else res.end(body);
}

/** Reads a Reply's body fully (a fault after a streamed answer still lets the work finish). */
export async function drain(reply: Reply): Promise<void> {
  if (reply.body instanceof Readable) for await (const _ of reply.body) void _;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
