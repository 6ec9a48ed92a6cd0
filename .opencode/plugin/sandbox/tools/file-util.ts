/**
 * Helpers shared by read/write/edit/apply_patch: BOM handling and UTF-8 decoding the way
 * the built-ins do it, and the unified diff they attach as metadata.
 */
import type { ToolContext } from "@opencode-ai/plugin";
import { createTwoFilesPatch, diffLines } from "diff";
import { isSandboxError, type Sandbox } from "../providers/provider.js";
import type { ToolDeps } from "./deps.js";
import { assertValidPath, resolveToolPath, type RelativeMode, type ToolPath } from "./paths.js";

const BOM = "\uFEFF";

export interface BomText {
  bom: boolean;
  text: string;
}

/** Split a leading BOM off, so matching and diffs never see it. */
export function splitBom(text: string): BomText {
  return text.charCodeAt(0) === 0xfeff ? { bom: true, text: text.slice(1) } : { bom: false, text };
}

/** Put a BOM back when the file had one (or the new content brought one). */
export function joinBom(text: string, bom: boolean): string {
  const plain = splitBom(text).text;
  return bom ? BOM + plain : plain;
}

/** A file's text as the built-in editors see it: invalid UTF-8 becomes U+FFFD, the BOM split off. */
export async function readTextWithBom(sandbox: Sandbox, file: string): Promise<BomText> {
  return decodeText(await sandbox.readFile(file));
}

/** The session's sandbox plus the path mapped into it. */
export async function locate(
  deps: ToolDeps,
  ctx: ToolContext,
  filePath: string,
  mode: RelativeMode,
): Promise<{ sandbox: Sandbox; target: ToolPath }> {
  // Validate before getting a sandbox: a NUL byte is the model's mistake, not a reason to boot one.
  assertValidPath(filePath);
  const sandbox = await deps.sandboxFor(ctx.sessionID);
  return { sandbox, target: resolveToolPath(filePath, deps.directory, sandbox.projectDir, mode) };
}

export type Found = { kind: "file"; bytes: Uint8Array } | { kind: "directory" } | { kind: undefined };

/**
 * The file's bytes, or what is there instead — one round trip in the common case (a
 * remote sandbox pays per request). Follows a final symlink, as reading does.
 */
export async function readAny(sandbox: Sandbox, p: string): Promise<Found> {
  try {
    return { kind: "file", bytes: await sandbox.readFile(p) };
  } catch (error) {
    if (isSandboxError(error, "is_directory")) return { kind: "directory" };
    if (isSandboxError(error, "file_not_found")) return { kind: undefined };
    throw error;
  }
}

/** What a write will put in the file, and the permission request (with its diff) to make first. */
export interface Prepared {
  data: string;
  ask(): Promise<void>;
}

/**
 * Writes what `prepare` makes of the file's current content, asking the user's
 * permission first, with compare-and-swap against that content. The content comes from
 * what this plugin last read or wrote (`deps.seen`: no round trip), else — `unknown:
 * "absent"` — the file is taken to be new, else it is read. When remembered content
 * proves stale (the write finds the file changed, or `prepare` fails on it) the file is
 * read again and prepared and asked once more, with the true diff; a permission refused
 * is never asked again. Returns what the file held before the write.
 */
export async function writeAgainst(
  deps: Pick<ToolDeps, "seen">,
  sandbox: Sandbox,
  file: string,
  unknown: "absent" | "read",
  prepare: (found: Found) => Prepared,
): Promise<Found> {
  const known = deps.seen?.get(sandbox.id, file);
  // Without a memory of files (tests, a face that keeps none) nothing is assumed: the file is read.
  const assumeAbsent = unknown === "absent" && deps.seen !== undefined;
  let found: Found = known ? { kind: "file", bytes: known } : assumeAbsent ? { kind: undefined } : await readAny(sandbox, file);
  let remembered = known !== undefined || assumeAbsent;
  const fresh = async () => {
    remembered = false;
    deps.seen?.set(sandbox.id, file, undefined);
    found = await readAny(sandbox, file);
  };
  for (;;) {
    let prepared: Prepared;
    try {
      prepared = prepare(found);
    } catch (error) {
      if (!remembered) throw error;
      await fresh();
      continue;
    }
    await prepared.ask();
    try {
      await sandbox.writeFile(file, prepared.data, { expect: found.kind === "file" ? found.bytes : null });
    } catch (error) {
      // Assumed new but a directory is there: read, and let `prepare` say what the built-in says.
      if (!remembered || !isSandboxError(error, "changed", "is_directory")) throw error;
      await fresh();
      continue;
    }
    deps.seen?.set(sandbox.id, file, Buffer.from(prepared.data));
    return found;
  }
}

/** Text as the built-in editors see it: invalid UTF-8 becomes U+FFFD, the BOM split off. */
export function decodeText(bytes: Uint8Array): BomText {
  return splitBom(new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes));
}

/** What is at `p`, following a final symlink (the seam's stat does not). */
export async function kindOf(sandbox: Sandbox, p: string): Promise<"file" | "directory" | undefined> {
  const st = await sandbox.stat(p);
  if (!st) return undefined;
  if (st.type === "directory") return "directory";
  if (st.type !== "symlink") return "file";
  try {
    await sandbox.readDir(p);
    return "directory";
  } catch (error) {
    if (isSandboxError(error, "file_not_found")) return undefined;
    return "file";
  }
}

/** Removes one file inside the sandbox (the seam has no unlink; the path is quoted, never interpolated raw). */
export async function removeFile(sandbox: Sandbox, file: string, signal?: AbortSignal): Promise<void> {
  const quoted = `'${file.replace(/'/g, `'\\''`)}'`;
  const result = await sandbox.exec(`rm -f -- ${quoted}`, { signal, timeoutMs: 60_000 });
  if (result.exitCode !== 0) throw new Error(result.output.trim() || `Failed to remove ${file}`);
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new Error("Aborted");
}

// ---------------------------------------------------------------------------------------
// The unified diff the built-ins attach as metadata (for the permission prompt and the
// UI; never shown to the model): jsdiff, as they use it.

export interface FileDiff {
  /** trimDiff(createTwoFilesPatch(...)) as the built-ins attach it. */
  diff: string;
  /** Lines added and removed (jsdiff diffLines counts). */
  additions: number;
  deletions: number;
}

export function fileDiff(file: string, before: string, after: string): FileDiff {
  let additions = 0;
  let deletions = 0;
  for (const change of diffLines(before, after)) {
    if (change.added) additions += change.count ?? 0;
    else if (change.removed) deletions += change.count ?? 0;
  }
  return { diff: trimDiff(createTwoFilesPatch(file, file, before, after)), additions, deletions };
}

/** The built-in's trimDiff: drop the indentation every changed/context line shares, for a compact display. */
export function trimDiff(diff: string): string {
  const lines = diff.split("\n");
  const isBody = (l: string) => (l.startsWith("+") || l.startsWith("-") || l.startsWith(" ")) && !l.startsWith("---") && !l.startsWith("+++");
  const body = lines.filter(isBody);
  if (body.length === 0) return diff;
  let min = Infinity;
  for (const l of body) {
    const content = l.slice(1);
    if (content.trim().length > 0) min = Math.min(min, /^(\s*)/.exec(content)![1].length);
  }
  if (min === Infinity || min === 0) return diff;
  return lines.map((l) => (isBody(l) ? l[0] + l.slice(1).slice(min) : l)).join("\n");
}
