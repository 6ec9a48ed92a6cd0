/**
 * webfetch with the built-in's arguments, headers, limits, conversions and errors —
 * but the request goes out through the SANDBOX's network (curl or wget run inside it),
 * never from the host. The built-in is a plain GET from the host: it reaches the
 * host's loopback (where OpenCode's own server answers), cloud metadata addresses and
 * the LAN. From inside the sandbox, "localhost" is the sandbox itself (handy for the
 * agent's own dev server) and the host's loopback is out of reach (local provider).
 * A sandbox with neither curl nor wget gets a clear refusal, not a host fetch.
 */
import { tool } from "@opencode-ai/plugin";
import { Parser } from "htmlparser2";
import TurndownService from "turndown";
import type { Sandbox } from "../providers/provider.js";
import type { ToolDeps } from "./deps.js";
import { nonce } from "./shared.js";

export const WEBFETCH_DESCRIPTION = `- Fetches content from a specified URL
- Takes a URL and optional format as input
- Fetches the URL content, converts to requested format (markdown by default)
- Returns the content in the specified format
- Use this tool when you need to retrieve and analyze web content

Usage notes:
  - IMPORTANT: if another tool is present that offers better web fetching capabilities, is more targeted to the task, or has fewer restrictions, prefer using that tool instead of this one.
  - The URL must be a fully-formed valid URL
  - HTTP URLs will be automatically upgraded to HTTPS
  - Format options: "markdown" (default), "text", or "html"
  - This tool is read-only and does not modify any files
  - Results may be summarized if the content is very large
`;

const MAX_RESPONSE = 5 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;
const MAX_TIMEOUT_MS = 120_000;
const BROWSER_UA =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/143.0.0.0 Safari/537.36";

const ACCEPT: Record<string, string> = {
  markdown: "text/markdown;q=1.0, text/x-markdown;q=0.9, text/plain;q=0.8, text/html;q=0.7, */*;q=0.1",
  text: "text/plain;q=1.0, text/markdown;q=0.9, text/html;q=0.8, */*;q=0.1",
  html: "text/html;q=1.0, application/xhtml+xml;q=0.9, text/plain;q=0.8, text/markdown;q=0.7, */*;q=0.1",
};

export class NoFetcherError extends Error {
  override readonly name = "NoFetcherError";
  constructor() {
    super(
      "webfetch is unavailable: the sandbox has neither curl nor wget. Fetches go out through the sandbox's network, never from the host, so there is no fallback; install curl in the sandbox image to use webfetch.",
    );
  }
}

interface FetchResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
}

// curl/wget write the body to a file in the sandbox (binary-safe: read back as bytes),
// and the status line + headers of every response to the output; the last block is the final one.
const FETCH_SCRIPT = `B=$(mktemp 2>/dev/null || echo "/tmp/.ocsbx-fetch.$$")
E=$(mktemp 2>/dev/null || echo "/tmp/.ocsbx-fetch-err.$$")
if command -v curl >/dev/null 2>&1; then
  curl -sS -L --compressed --max-redirs 10 --max-time "$OCSBX_T" --max-filesize ${MAX_RESPONSE} -A "$OCSBX_UA" -H "Accept: $OCSBX_ACCEPT" -H "Accept-Language: en-US,en;q=0.9" -D "$E.h" -o "$B" -- "$OCSBX_URL" 2>"$E"
  rc=$?; tool=curl
elif command -v wget >/dev/null 2>&1; then
  wget -q -S -O "$B" -T "$OCSBX_T" -U "$OCSBX_UA" --header "Accept: $OCSBX_ACCEPT" --header "Accept-Language: en-US,en;q=0.9" -- "$OCSBX_URL" 2>"$E.h"
  rc=$?; tool=wget
else
  rm -f "$B" "$E"; exit 127
fi
printf '%s %s %s\\n' "$OCSBX_M" "$rc" "$tool"
printf '%s\\n' "$B"
cat "$E.h" 2>/dev/null
printf '\\n%s\\n' "$OCSBX_M"
cat "$E" 2>/dev/null
rm -f "$E" "$E.h"`;

function parseHeaders(raw: string): { status: number; headers: Record<string, string> } {
  let status = 0;
  let headers: Record<string, string> = {};
  for (const rawLine of raw.split(/\r?\n/)) {
    const line = rawLine.trim();
    const statusLine = /^HTTP\/[\d.]+\s+(\d{3})/.exec(line);
    if (statusLine) {
      status = Number(statusLine[1]);
      headers = {};
      continue;
    }
    const colon = line.indexOf(":");
    if (colon > 0 && status) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status, headers };
}

async function fetchInSandbox(
  sandbox: Sandbox,
  url: string,
  headers: { ua: string; accept: string },
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<FetchResponse> {
  const marker = nonce();
  const result = await sandbox.exec(FETCH_SCRIPT, {
    env: {
      OCSBX_URL: url,
      OCSBX_UA: headers.ua,
      OCSBX_ACCEPT: headers.accept,
      OCSBX_T: String(Math.max(1, Math.ceil(timeoutMs / 1000))),
      OCSBX_M: marker,
    },
    // The fetcher's own timeout comes first; this one only guards a hung sandbox.
    timeoutMs: timeoutMs + 5000,
    signal,
  });
  if (result.aborted) throw new Error("Aborted");
  if (result.timedOut) throw new Error("Request timed out");
  if (result.exitCode === 127) throw new NoFetcherError();
  const start = result.output.indexOf(`${marker} `);
  if (start === -1) throw new Error(`Transport error (GET ${url})`);
  const rest = result.output.slice(start + marker.length + 1);
  const [summary = "", bodyPath = "", ...more] = rest.split("\n");
  const [rcText, fetcher] = summary.split(" ");
  const rc = Number(rcText);
  const tailAt = more.join("\n").lastIndexOf(`\n${marker}\n`);
  const headerText = tailAt === -1 ? more.join("\n") : more.join("\n").slice(0, tailAt);
  const { status, headers: responseHeaders } = parseHeaders(headerText);
  try {
    if (fetcher === "curl" && rc === 28) throw new Error("Request timed out");
    if (fetcher === "curl" && rc === 63) throw new Error("Response too large (exceeds 5MB limit)");
    // wget exits 8 when the server answered with an error status: that status is handled by the caller.
    if (!status || (fetcher === "curl" && rc !== 0)) throw new Error(`Transport error (GET ${url})`);
    if (status < 200 || status >= 300) return { status, headers: responseHeaders, body: new Uint8Array() };
    const length = responseHeaders["content-length"];
    if (length && Number.parseInt(length) > MAX_RESPONSE) throw new Error("Response too large (exceeds 5MB limit)");
    return { status, headers: responseHeaders, body: await sandbox.readFile(bodyPath) };
  } finally {
    if (bodyPath) void sandbox.exec(`rm -f -- "$OCSBX_B"`, { env: { OCSBX_B: bodyPath } }).catch(() => {});
  }
}

function isImage(mime: string): boolean {
  return mime.startsWith("image/") && mime !== "image/svg+xml" && mime !== "image/vnd.fastbidsheet";
}

/** Text content of an HTML page, without script/style/etc., as the built-in extracts it. */
export function htmlToText(html: string): string {
  let text = "";
  let skip = 0;
  const parser = new Parser({
    onopentag(name) {
      if (skip > 0 || ["script", "style", "noscript", "iframe", "object", "embed"].includes(name)) skip++;
    },
    ontext(chunk) {
      if (skip === 0) text += chunk;
    },
    onclosetag() {
      if (skip > 0) skip--;
    },
  });
  parser.write(html);
  parser.end();
  return text.trim();
}

export function htmlToMarkdown(html: string): string {
  const turndown = new TurndownService({
    headingStyle: "atx",
    hr: "---",
    bulletListMarker: "-",
    codeBlockStyle: "fenced",
    emDelimiter: "*",
  });
  turndown.remove(["script", "style", "meta", "link"]);
  return turndown.turndown(html);
}

export function webfetchTool(deps: ToolDeps) {
  return tool({
    description: WEBFETCH_DESCRIPTION,
    args: {
      url: tool.schema.string().describe("The URL to fetch content from"),
      format: tool.schema
        .enum(["text", "markdown", "html"])
        .default("markdown")
        .describe("The format to return the content in (text, markdown, or html). Defaults to markdown."),
      timeout: tool.schema.number().optional().describe("Optional timeout in seconds (max 120)"),
    },
    async execute(args, ctx) {
      const format = args.format ?? "markdown";
      if (!args.url.startsWith("http://") && !args.url.startsWith("https://"))
        throw new Error("URL must start with http:// or https://");
      await ctx.ask({
        permission: "webfetch",
        patterns: [args.url],
        always: ["*"],
        metadata: { url: args.url, format, timeout: args.timeout },
      });
      const timeoutMs = Math.min((args.timeout ?? DEFAULT_TIMEOUT_MS / 1000) * 1000, MAX_TIMEOUT_MS);
      const sandbox = await deps.sandboxFor(ctx.sessionID);
      const accept = ACCEPT[format] ?? "*/*";
      let response = await fetchInSandbox(sandbox, args.url, { ua: BROWSER_UA, accept }, timeoutMs, ctx.abort);
      // Cloudflare's bot challenge: retry once with an honest user agent, as the built-in does.
      if (response.status === 403 && response.headers["cf-mitigated"] === "challenge")
        response = await fetchInSandbox(sandbox, args.url, { ua: "opencode", accept }, timeoutMs, ctx.abort);
      if (response.status < 200 || response.status >= 300)
        throw new Error(`StatusCode: non 2xx status code (${response.status} GET ${args.url})`);
      if (response.body.byteLength > MAX_RESPONSE) throw new Error("Response too large (exceeds 5MB limit)");

      const contentType = response.headers["content-type"] || "";
      const mime = contentType.split(";")[0]?.trim().toLowerCase() || "";
      const title = `${args.url} (${contentType})`;
      if (isImage(mime)) {
        return {
          title,
          output: "Image fetched successfully",
          metadata: {},
          attachments: [{ type: "file" as const, mime, url: `data:${mime};base64,${Buffer.from(response.body).toString("base64")}` }],
        };
      }
      const content = new TextDecoder().decode(response.body);
      const isHtml = contentType.includes("text/html");
      if (format === "markdown" && isHtml) return { output: htmlToMarkdown(content), title, metadata: {} };
      if (format === "text" && isHtml) return { output: htmlToText(content), title, metadata: {} };
      return { output: content, title, metadata: {} };
    },
  });
}
