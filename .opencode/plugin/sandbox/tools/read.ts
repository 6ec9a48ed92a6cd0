/**
 * read, as OpenCode 1.18.33's built-in (line-numbered `<path>/<type>/<content>` output,
 * offset/limit, 2000-line and 50 KB caps, long lines cut, directories listed, images and
 * PDFs as attachments, binary refused, suggestions for a missing file) — inside the sandbox.
 */
import * as path from "node:path";
import { tool, type ToolContext } from "@opencode-ai/plugin";
import type { Sandbox } from "../providers/provider.js";
import type { ToolDeps } from "./deps.js";
import { kindOf, locate, readAny, throwIfAborted } from "./file-util.js";
import { nearbyInstructions } from "./read-instructions.js";
import {
  ATTACHABLE_IMAGES,
  DEFAULT_READ_LIMIT,
  looksBinary,
  MAX_BYTES_LABEL,
  OUTPUT_MAX_BYTES,
  OUTPUT_MAX_LINES,
  SAMPLE_BYTES,
  sniffMime,
  splitLines,
  window,
} from "./read-window.js";
import { assertExternalDirectory } from "./shared.js";

export const READ_DESCRIPTION = `Read a file or directory from the local filesystem. If the path does not exist, an error is returned.

Usage:
- The filePath parameter should be an absolute path.
- By default, this tool returns up to 2000 lines from the start of the file.
- The offset parameter is the line number to start from (1-indexed).
- To read later sections, call this tool again with a larger offset.
- Use the grep tool to find specific content in large files or files with long lines.
- If you are unsure of the correct file path, use the glob tool to look up filenames by glob pattern.
- Contents are returned with each line prefixed by its line number as \`<line>: <content>\`. For example, if a file has contents "foo\\n", you will receive "1: foo\\n". For directories, entries are returned one per line (without line numbers) with a trailing \`/\` for subdirectories.
- Any line longer than 2000 characters is truncated.
- Call this tool in parallel when you know there are multiple files you want to read.
- Avoid tiny repeated slices (30 line chunks). If you need more context, read a larger window.
- This tool can read image files and PDFs and return them as file attachments.
`;

async function listDirectory(sandbox: Sandbox, dir: string): Promise<string[]> {
  const entries = await sandbox.readDir(dir);
  const names = await Promise.all(
    entries.map(async (e) => {
      if (e.type === "directory") return e.name + "/";
      if (e.type !== "symlink") return e.name;
      return (await kindOf(sandbox, path.posix.join(dir, e.name))) === "directory" ? e.name + "/" : e.name;
    }),
  );
  return names.sort((a, b) => a.localeCompare(b));
}

/** The built-in's "File not found" with up to three similarly named siblings. */
async function notFound(sandbox: Sandbox, shown: string, inSandbox: string): Promise<never> {
  const dir = path.dirname(shown);
  const base = path.basename(shown).toLowerCase();
  let suggestions: string[] = [];
  try {
    suggestions = (await sandbox.readDir(path.posix.dirname(inSandbox)))
      .map((e) => e.name)
      .filter((name) => name.toLowerCase().includes(base) || base.includes(name.toLowerCase()))
      .map((name) => path.join(dir, name))
      .slice(0, 3);
  } catch {}
  if (suggestions.length > 0) throw new Error(`File not found: ${shown}\n\nDid you mean one of these?\n${suggestions.join("\n")}`);
  throw new Error(`File not found: ${shown}`);
}

export function readTool(deps: ToolDeps) {
  // Instruction files already shown per session (the built-in tracks them through the message history).
  const claims = new Map<string, Set<string>>();

  async function execute(args: { filePath: string; offset?: number; limit?: number }, ctx: ToolContext) {
    const { sandbox, target } = await locate(deps, ctx, args.filePath, "resolve");
    const shown = target.display;
    const worktree = ctx.worktree || deps.directory;
    const title = path.relative(worktree, shown);

    // Read at once (one round trip); nothing is shown before the permission below is granted.
    const found = await readAny(sandbox, target.sandbox);
    const kind = found.kind;
    await assertExternalDirectory(ctx, shown, kind === "directory" ? "directory" : "file");
    await ctx.ask({ permission: "read", patterns: [path.relative(worktree, shown)], always: ["*"], metadata: {} });
    throwIfAborted(ctx.abort);
    if (!kind) return notFound(sandbox, shown, target.sandbox);

    if (kind === "directory") {
      const entries = await listDirectory(sandbox, target.sandbox);
      const limit = args.limit ?? DEFAULT_READ_LIMIT;
      const offset = args.offset || 1;
      const start = offset - 1;
      const slice = entries.slice(start, start + limit);
      // Keep the listing under OpenCode's plugin-output cap (see OUTPUT_MAX_LINES).
      const envelope = `<path>${shown}</path>\n<type>directory</type>\n<entries>\n\n(Showing 9999999999 of 9999999999 entries. Use 'offset' parameter to read beyond entry 9999999999)\n</entries>`;
      let budget = OUTPUT_MAX_BYTES - Buffer.byteLength(envelope, "utf-8");
      let fit = 0;
      while (fit < slice.length && fit < OUTPUT_MAX_LINES - 6) {
        budget -= Buffer.byteLength(slice[fit], "utf-8") + 1;
        if (budget < 0) break;
        fit++;
      }
      slice.length = fit;
      const truncated = start + slice.length < entries.length;
      return {
        title,
        output: [
          `<path>${shown}</path>`,
          "<type>directory</type>",
          "<entries>",
          slice.join("\n"),
          truncated
            ? `\n(Showing ${slice.length} of ${entries.length} entries. Use 'offset' parameter to read beyond entry ${offset + slice.length})`
            : `\n(${entries.length} entries)`,
          "</entries>",
        ].join("\n"),
        metadata: {
          preview: slice.slice(0, 20).join("\n"),
          truncated,
          loaded: [] as string[],
          display: { type: "directory", path: shown, entries: slice, offset, totalEntries: entries.length, truncated },
        },
      };
    }

    if (found.kind !== "file") return notFound(sandbox, shown, target.sandbox);
    const bytes = found.bytes;
    deps.seen?.set(sandbox.id, target.sandbox, bytes);
    const sample = bytes.subarray(0, SAMPLE_BYTES);
    const mime = sniffMime(sample, shown);
    if (ATTACHABLE_IMAGES.has(mime) || mime === "application/pdf") {
      const msg = mime === "application/pdf" ? "PDF read successfully" : "Image read successfully";
      return {
        title,
        output: msg,
        metadata: { preview: msg, truncated: false, loaded: [] as string[] },
        attachments: [{ type: "file" as const, mime, url: `data:${mime};base64,${Buffer.from(bytes).toString("base64")}` }],
      };
    }
    if (looksBinary(shown, sample)) throw new Error(`Cannot read binary file: ${shown}`);

    let claimed = claims.get(ctx.sessionID);
    if (!claimed) claims.set(ctx.sessionID, (claimed = new Set()));
    const instructions = target.inProject ? await nearbyInstructions(deps, sandbox, claimed, target.host) : [];
    const reminder =
      instructions.length > 0 ? `\n\n<system-reminder>\n${instructions.map((i) => i.content).join("\n\n")}\n</system-reminder>` : "";

    const header = [`<path>${shown}</path>`, "<type>file</type>", "<content>\n"].join("\n");
    // Widest trailer the window can produce, to reserve its room.
    const n = "9".repeat(16);
    const trailerReserve = `\n\n(Output capped at ${MAX_BYTES_LABEL}. Showing lines ${n}-${n} of ${n}. Use offset=${n} to continue.)\n</content>`;
    const envelope = header + trailerReserve + reminder;
    const room = {
      lines: Math.max(0, OUTPUT_MAX_LINES - envelope.split("\n").length + 1),
      bytes: OUTPUT_MAX_BYTES - Buffer.byteLength(envelope, "utf-8"),
    };

    // The built-in decodes without ignoreBOM, so a leading BOM is not shown; bad UTF-8 becomes U+FFFD.
    const text = new TextDecoder("utf-8").decode(bytes);
    const win = window(splitLines(text), args.offset || 1, args.limit ?? DEFAULT_READ_LIMIT, room);
    if (win.count < win.offset && !(win.count === 0 && win.offset === 1))
      throw new Error(`Offset ${win.offset} is out of range for this file (${win.count} lines)`);

    let output = header;
    output += win.raw.map((line, i) => `${i + win.offset}: ${line}`).join("\n");
    const last = win.offset + win.raw.length - 1;
    const next = last + 1;
    const truncated = win.more || win.cut;
    if (win.cut) output += `\n\n(Output capped at ${MAX_BYTES_LABEL}. Showing lines ${win.offset}-${last}. Use offset=${next} to continue.)`;
    else if (win.more) output += `\n\n(Showing lines ${win.offset}-${last} of ${win.count}. Use offset=${next} to continue.)`;
    else output += `\n\n(End of file - total ${win.count} lines)`;
    output += "\n</content>" + reminder;

    return {
      title,
      output,
      metadata: {
        preview: win.raw.slice(0, 20).join("\n"),
        truncated,
        loaded: instructions.map((i) => i.filepath),
        display: {
          type: "file",
          path: shown,
          text: win.raw.join("\n"),
          lineStart: win.offset,
          lineEnd: last,
          totalLines: win.count,
          truncated,
        },
      },
    };
  }

  return tool({
    description: READ_DESCRIPTION,
    args: {
      filePath: tool.schema.string().describe("The absolute path to the file or directory to read"),
      offset: tool.schema.number().int().min(0).optional().describe("The line number to start reading from (1-indexed)"),
      limit: tool.schema.number().int().min(0).optional().describe("The maximum number of lines to read (defaults to 2000)"),
    },
    execute,
  });
}
