/**
 * The apply_patch envelope as OpenCode 1.18.33 parses and applies it:
 *
 *   *** Begin Patch
 *   *** Add File: <path>        then "+" lines
 *   *** Delete File: <path>
 *   *** Update File: <path>     optional "*** Move to: <path>", then "@@ [context]" chunks of " ", "-", "+" lines
 *   *** End Patch
 *
 * Lines the grammar does not know are skipped (as upstream does), and update chunks are
 * located with progressively looser comparisons (exact, trailing space, both ends,
 * typographic punctuation).
 */

export interface UpdateChunk {
  oldLines: string[];
  newLines: string[];
  changeContext?: string;
  isEndOfFile?: boolean;
}

export type Hunk =
  | { type: "add"; path: string; contents: string }
  | { type: "delete"; path: string }
  | { type: "update"; path: string; movePath?: string; chunks: UpdateChunk[] };

const BEGIN = "*** Begin Patch";
const END = "*** End Patch";
const ADD = "*** Add File:";
const DELETE = "*** Delete File:";
const UPDATE = "*** Update File:";
const MOVE = "*** Move to:";

/** A patch wrapped in a heredoc (`<<'EOF' … EOF`, optionally after `cat`) is unwrapped. */
function stripHeredoc(text: string): string {
  const m = text.match(/^(?:cat\s+)?<<['"]?(\w+)['"]?\s*\n([\s\S]*?)\n\1\s*$/);
  return m ? m[2] : text;
}

function header(lines: string[], i: number): { filePath: string; movePath?: string; next: number } | null {
  const line = lines[i];
  if (line.startsWith(ADD) || line.startsWith(DELETE)) {
    const filePath = line.slice(line.startsWith(ADD) ? ADD.length : DELETE.length).trim();
    return filePath ? { filePath, next: i + 1 } : null;
  }
  if (line.startsWith(UPDATE)) {
    const filePath = line.slice(UPDATE.length).trim();
    let next = i + 1;
    let movePath: string | undefined;
    if (next < lines.length && lines[next].startsWith(MOVE)) {
      movePath = lines[next].slice(MOVE.length).trim();
      next++;
    }
    return filePath ? { filePath, movePath, next } : null;
  }
  return null;
}

function addContents(lines: string[], start: number): { contents: string; next: number } {
  let contents = "";
  let i = start;
  while (i < lines.length && !lines[i].startsWith("***")) {
    if (lines[i].startsWith("+")) contents += lines[i].substring(1) + "\n";
    i++;
  }
  if (contents.endsWith("\n")) contents = contents.slice(0, -1);
  return { contents, next: i };
}

function updateChunks(lines: string[], start: number): { chunks: UpdateChunk[]; next: number } {
  const chunks: UpdateChunk[] = [];
  let i = start;
  while (i < lines.length && !lines[i].startsWith("***")) {
    if (!lines[i].startsWith("@@")) {
      i++;
      continue;
    }
    const context = lines[i].substring(2).trim();
    i++;
    const oldLines: string[] = [];
    const newLines: string[] = [];
    let eof = false;
    while (i < lines.length && !lines[i].startsWith("@@") && !lines[i].startsWith("***")) {
      const line = lines[i];
      // Upstream checks for "*** End of File" here, but the loop condition stops at "***" first.
      if (line === "*** End of File") {
        eof = true;
        i++;
        break;
      }
      if (line.startsWith(" ")) {
        oldLines.push(line.substring(1));
        newLines.push(line.substring(1));
      } else if (line.startsWith("-")) oldLines.push(line.substring(1));
      else if (line.startsWith("+")) newLines.push(line.substring(1));
      i++;
    }
    chunks.push({ oldLines, newLines, changeContext: context || undefined, isEndOfFile: eof || undefined });
  }
  return { chunks, next: i };
}

/** Throws "Invalid patch format: missing Begin/End markers" like upstream. */
export function parsePatch(patchText: string): Hunk[] {
  const lines = stripHeredoc(patchText.trim()).split("\n");
  const begin = lines.findIndex((l) => l.trim() === BEGIN);
  const end = lines.findIndex((l) => l.trim() === END);
  if (begin === -1 || end === -1 || begin >= end) throw new Error("Invalid patch format: missing Begin/End markers");
  const hunks: Hunk[] = [];
  let i = begin + 1;
  while (i < end) {
    const h = header(lines, i);
    if (!h) {
      i++;
      continue;
    }
    if (lines[i].startsWith(ADD)) {
      const { contents, next } = addContents(lines, h.next);
      hunks.push({ type: "add", path: h.filePath, contents });
      i = next;
    } else if (lines[i].startsWith(DELETE)) {
      hunks.push({ type: "delete", path: h.filePath });
      i = h.next;
    } else {
      const { chunks, next } = updateChunks(lines, h.next);
      hunks.push({ type: "update", path: h.filePath, movePath: h.movePath, chunks });
      i = next;
    }
  }
  return hunks;
}

// ---------------------------------------------------------------------------------------
// Applying update chunks

function normalizePunctuation(s: string): string {
  return s
    .replace(/[\u2018\u2019\u201A\u201B]/g, "'")
    .replace(/[\u201C\u201D\u201E\u201F]/g, '"')
    .replace(/[\u2010\u2011\u2012\u2013\u2014\u2015]/g, "-")
    .replace(/\u2026/g, "...")
    .replace(/\u00A0/g, " ");
}

function scan(lines: string[], pattern: string[], from: number, eq: (a: string, b: string) => boolean, eof: boolean): number {
  const matchesAt = (at: number) => pattern.every((p, k) => eq(lines[at + k], p));
  if (eof) {
    const at = lines.length - pattern.length;
    if (at >= from && matchesAt(at)) return at;
  }
  for (let at = from; at <= lines.length - pattern.length; at++) if (matchesAt(at)) return at;
  return -1;
}

/** Where `pattern` occurs at or after `from`, trying looser comparisons in turn; -1 if nowhere. */
export function seekSequence(lines: string[], pattern: string[], from: number, eof = false): number {
  if (pattern.length === 0) return -1;
  const comparisons: ((a: string, b: string) => boolean)[] = [
    (a, b) => a === b,
    (a, b) => a.trimEnd() === b.trimEnd(),
    (a, b) => a.trim() === b.trim(),
    (a, b) => normalizePunctuation(a.trim()) === normalizePunctuation(b.trim()),
  ];
  for (const eq of comparisons) {
    const at = scan(lines, pattern, from, eq, eof);
    if (at !== -1) return at;
  }
  return -1;
}

type Replacement = [start: number, removeCount: number, insert: string[]];

function replacements(lines: string[], file: string, chunks: UpdateChunk[]): Replacement[] {
  const out: Replacement[] = [];
  let cursor = 0;
  for (const chunk of chunks) {
    if (chunk.changeContext) {
      const at = seekSequence(lines, [chunk.changeContext], cursor);
      if (at === -1) throw new Error(`Failed to find context '${chunk.changeContext}' in ${file}`);
      cursor = at + 1;
    }
    if (chunk.oldLines.length === 0) {
      // Pure insertion: at the end of the file.
      const at = lines.length > 0 && lines[lines.length - 1] === "" ? lines.length - 1 : lines.length;
      out.push([at, 0, chunk.newLines]);
      continue;
    }
    let oldLines = chunk.oldLines;
    let newLines = chunk.newLines;
    let at = seekSequence(lines, oldLines, cursor, chunk.isEndOfFile);
    if (at === -1 && oldLines.length > 0 && oldLines[oldLines.length - 1] === "") {
      // A trailing empty line in the chunk stands for the file's final newline.
      oldLines = oldLines.slice(0, -1);
      if (newLines.length > 0 && newLines[newLines.length - 1] === "") newLines = newLines.slice(0, -1);
      at = seekSequence(lines, oldLines, cursor, chunk.isEndOfFile);
    }
    if (at === -1) throw new Error(`Failed to find expected lines in ${file}:\n${chunk.oldLines.join("\n")}`);
    out.push([at, oldLines.length, newLines]);
    cursor = at + oldLines.length;
  }
  return out.sort((a, b) => a[0] - b[0]);
}

/**
 * New contents of `file` (used in error messages) after its update chunks. `original` may
 * start with a BOM; the result is BOM-free, with `bom` telling whether to put one back.
 */
export function deriveNewContents(file: string, chunks: UpdateChunk[], original: string): { content: string; bom: boolean } {
  const hadBom = original.charCodeAt(0) === 0xfeff;
  const text = hadBom ? original.slice(1) : original;
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const result = [...lines];
  const reps = replacements(lines, file, chunks);
  for (let r = reps.length - 1; r >= 0; r--) {
    const [start, remove, insert] = reps[r];
    result.splice(start, remove, ...insert);
  }
  if (result.length === 0 || result[result.length - 1] !== "") result.push("");
  const joined = result.join("\n");
  const newBom = joined.charCodeAt(0) === 0xfeff;
  return { content: newBom ? joined.slice(1) : joined, bom: hadBom || newBom };
}
