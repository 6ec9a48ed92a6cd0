/**
 * multipart/form-data both ways, with Node built-ins only:
 * - parsing (bulk upload): undici's `Request.formData()` (global in Node 20) over the
 *   incoming stream — it handles the chunked, streamed bodies the SDK's `form-data`
 *   package sends;
 * - producing (bulk download): written by hand, byte for byte like the daemon's Go
 *   multipart.Writer with boundary DAYTONA-FILE-BOUNDARY: one part per requested path,
 *   named `file` (Content-Type by extension, Content-Length) or `error` (an
 *   ErrorResponse as JSON), and `filename` = the requested path (plus an RFC 5987
 *   `filename*`), which is how the SDK matches parts to the paths it asked for.
 */
import type { IncomingMessage } from "node:http";
import { extname } from "node:path";
import { Readable } from "node:stream";

export interface UploadedParts {
  /** Text fields by name (`files[0].path` → destination). */
  fields: Map<string, string>;
  /** File fields by name (`files[0].file` → bytes). */
  files: Map<string, Buffer>;
}

export async function parseMultipart(req: IncomingMessage): Promise<UploadedParts> {
  const contentType = String(req.headers["content-type"] ?? "");
  const request = new Request("http://standin.invalid/", {
    method: "POST",
    headers: { "content-type": contentType },
    body: Readable.toWeb(req) as ReadableStream<Uint8Array>,
    duplex: "half",
  } as RequestInit & { duplex: "half" });
  const form = await request.formData();
  const fields = new Map<string, string>();
  const files = new Map<string, Buffer>();
  const pending: Promise<void>[] = [];
  form.forEach((value, name) => {
    if (typeof value === "string") fields.set(name, value);
    else pending.push(value.arrayBuffer().then((b) => void files.set(name, Buffer.from(b))));
  });
  await Promise.all(pending);
  return { fields, files };
}

export const DOWNLOAD_BOUNDARY = "DAYTONA-FILE-BOUNDARY";

export type DownloadPart =
  | { kind: "file"; path: string; data: Uint8Array }
  | { kind: "error"; path: string; error: Record<string, unknown> };

const TYPES: Record<string, string> = {
  ".txt": "text/plain; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".json": "application/json",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

function latin1(s: string): string {
  const escaped = s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/[\r\n\0]/g, "");
  return [...escaped].map((c) => (c.codePointAt(0)! > 0xff || c.codePointAt(0)! < 0x20 || c === "\x7f" ? "_" : c)).join("");
}

function rfc5987(s: string): string {
  return [...Buffer.from(s, "utf8")].map((b) => (/[A-Za-z0-9!#$&+\-.^_`|~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`)).join("");
}

const disposition = (name: string, path: string) => `form-data; name="${name}"; filename="${latin1(path)}"; filename*=utf-8''${rfc5987(path)}`;

export function multipartDownload(parts: DownloadPart[]): Buffer {
  const chunks: Buffer[] = [];
  parts.forEach((part, i) => {
    const headers: [string, string][] =
      part.kind === "file"
        ? [
            ["Content-Disposition", disposition("file", part.path)],
            ["Content-Length", String(part.data.byteLength)],
            ["Content-Type", TYPES[extname(part.path).toLowerCase()] ?? "application/octet-stream"],
          ]
        : [
            ["Content-Disposition", disposition("error", part.path)],
            ["Content-Type", "application/json; charset=utf-8"],
          ];
    chunks.push(Buffer.from(`${i === 0 ? "" : "\r\n"}--${DOWNLOAD_BOUNDARY}\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join("")}\r\n`, "latin1"));
    chunks.push(part.kind === "file" ? Buffer.from(part.data) : Buffer.from(JSON.stringify(part.error)));
  });
  chunks.push(Buffer.from(`${parts.length ? "\r\n" : ""}--${DOWNLOAD_BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}
