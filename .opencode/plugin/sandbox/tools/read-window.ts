/**
 * What read shows of a file, as OpenCode's built-in decides it: MIME sniffing (images and
 * PDFs become attachments), the binary test, line splitting, and the window of numbered
 * lines under the line, byte and plugin-output caps.
 */
import * as path from "node:path";

export const DEFAULT_READ_LIMIT = 2000;
const MAX_LINE_LENGTH = 2000;
const MAX_LINE_SUFFIX = `... (line truncated to ${MAX_LINE_LENGTH} chars)`;
const MAX_BYTES = 50 * 1024;
export const MAX_BYTES_LABEL = `${MAX_BYTES / 1024} KB`;
export const SAMPLE_BYTES = 4096;
/**
 * OpenCode cuts every *plugin* tool's output at these (Truncate.MAX_LINES/MAX_BYTES) and
 * points the model at a host file; the built-in read is exempt. So at the very edge the
 * window shrinks to keep the whole answer, envelope included, under them.
 */
export const OUTPUT_MAX_LINES = 2000;
export const OUTPUT_MAX_BYTES = 51200;
export const ATTACHABLE_IMAGES = new Set(["image/jpeg", "image/png", "image/gif", "image/webp"]);

/** Extensions the built-in refuses as binary without looking at the bytes. */
const BINARY_EXTENSIONS = new Set(
  ".zip .tar .gz .exe .dll .so .class .jar .war .7z .doc .docx .xls .xlsx .ppt .pptx .odt .ods .odp .bin .dat .obj .o .a .lib .wasm .pyc .pyo".split(" "),
);

/** Extension → MIME for the types that decide attachment vs text (the built-in uses mime-types). */
const EXTENSION_MIME: Record<string, string> = {
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".jpe": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".pdf": "application/pdf",
  ".bmp": "image/bmp",
  ".svg": "image/svg+xml",
};

function startsWith(bytes: Uint8Array, signature: number[], at = 0): boolean {
  if (bytes.length < at + signature.length) return false;
  return signature.every((b, i) => bytes[at + i] === b);
}

/** Magic numbers first, then the extension — the built-in's order. */
export function sniffMime(sample: Uint8Array, file: string): string {
  if (startsWith(sample, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return "image/png";
  if (startsWith(sample, [0xff, 0xd8, 0xff])) return "image/jpeg";
  if (startsWith(sample, [0x47, 0x49, 0x46, 0x38])) return "image/gif";
  if (startsWith(sample, [0x42, 0x4d])) return "image/bmp";
  if (startsWith(sample, [0x25, 0x50, 0x44, 0x46, 0x2d])) return "application/pdf";
  if (startsWith(sample, [0x52, 0x49, 0x46, 0x46]) && startsWith(sample, [0x57, 0x45, 0x42, 0x50], 8)) return "image/webp";
  return EXTENSION_MIME[path.extname(file).toLowerCase()] ?? "application/octet-stream";
}

/** The built-in's binary test: known extension, a NUL byte, or >30% control characters in the first 4 KB. */
export function looksBinary(file: string, sample: Uint8Array): boolean {
  if (BINARY_EXTENSIONS.has(path.extname(file).toLowerCase())) return true;
  if (sample.length === 0) return false;
  let control = 0;
  for (const byte of sample) {
    if (byte === 0) return true;
    if (byte < 9 || (byte > 13 && byte < 32)) control++;
  }
  return control / sample.length > 0.3;
}

/** Lines as the built-in's stream splits them: \n, \r\n and a lone \r all end a line; no empty last line. */
export function splitLines(text: string): string[] {
  const lines: string[] = [];
  const re = /\r\n|\n|\r/g;
  let start = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    lines.push(text.slice(start, m.index));
    start = m.index + m[0].length;
  }
  if (start < text.length) lines.push(text.slice(start));
  return lines;
}

interface Window {
  raw: string[];
  /** Lines seen: the whole file, unless the byte cap stopped the scan early. */
  count: number;
  cut: boolean;
  more: boolean;
  offset: number;
}

/** `room`: what the numbered lines may take of OpenCode's output cap (prefixes included). */
export function window(lines: string[], offset: number, limit: number, room: { lines: number; bytes: number }): Window {
  const skip = offset - 1;
  const raw: string[] = [];
  let bytes = 0;
  let outBytes = 0;
  let count = 0;
  let more = false;
  const cap = Math.min(limit, room.lines);
  for (const line of lines) {
    count++;
    if (count <= skip) continue;
    if (raw.length >= cap) {
      more = true;
      continue;
    }
    const shown = line.length > MAX_LINE_LENGTH ? line.substring(0, MAX_LINE_LENGTH) + MAX_LINE_SUFFIX : line;
    const size = Buffer.byteLength(shown, "utf-8") + (raw.length > 0 ? 1 : 0);
    const prefix = `${count}: `.length;
    if (bytes + size > MAX_BYTES || outBytes + size + prefix > room.bytes) return { raw, count, cut: true, more: true, offset };
    raw.push(shown);
    bytes += size;
    outBytes += size + prefix;
  }
  return { raw, count, cut: false, more, offset };
}
