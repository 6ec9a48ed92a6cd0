/**
 * Helpers shared by read/write/edit/apply_patch: BOM handling and UTF-8 decoding the way
 * the built-ins do it, the unified diff they attach as metadata, and a per-file lock.
 */
import type { ToolContext } from "@opencode-ai/plugin";
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
  return splitBom(new TextDecoder("utf-8", { ignoreBOM: true }).decode(await sandbox.readFile(file)));
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
// Per-file serialisation: the built-in edit holds a one-permit semaphore per resolved path,
// so two parallel edits of one file do not lose each other's change.

const locks = new Map<string, Promise<unknown>>();

export async function withFileLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = locks.get(key) ?? Promise.resolve();
  const run = previous.then(fn, fn);
  const tail = run.catch(() => undefined);
  locks.set(key, tail);
  try {
    return await run;
  } finally {
    if (locks.get(key) === tail) locks.delete(key);
  }
}

// ---------------------------------------------------------------------------------------
// Unified diff, shaped like jsdiff's createTwoFilesPatch (what the built-ins put in
// metadata.diff for the permission prompt and the UI). Never shown to the model.

type Op = { kind: " " | "-" | "+"; token: string };

/** Lines with their newline kept (jsdiff's tokenisation: "b" and "b\n" differ). */
function tokens(text: string): string[] {
  if (text === "") return [];
  const out: string[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      out.push(text.slice(start, i + 1));
      start = i + 1;
    }
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

/** Myers O(ND) on the middle part after common prefix/suffix; gives up (replace-all) on huge edits. */
function diffTokens(a: string[], b: string[]): Op[] {
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
  const ma = a.slice(pre, a.length - suf);
  const mb = b.slice(pre, b.length - suf);
  const middle = myers(ma, mb) ?? [...ma.map((t) => ({ kind: "-" as const, token: t })), ...mb.map((t) => ({ kind: "+" as const, token: t }))];
  return [
    ...a.slice(0, pre).map((t) => ({ kind: " " as const, token: t })),
    ...middle,
    ...a.slice(a.length - suf).map((t) => ({ kind: " " as const, token: t })),
  ];
}

function myers(a: string[], b: string[]): Op[] | undefined {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return [...a.map((t) => ({ kind: "-" as const, token: t })), ...b.map((t) => ({ kind: "+" as const, token: t }))];
  // Bounded so the trace stays small (≤ ~8 MB); beyond that the diff is shown as replace-all.
  const max = Math.min(n + m, 1000);
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= max; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]) ? v[offset + k + 1] : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) return backtrack(trace, a, b, offset, d);
    }
  }
  return undefined;
}

function backtrack(trace: Int32Array[], a: string[], b: string[], offset: number, dEnd: number): Op[] {
  const ops: Op[] = [];
  let x = a.length;
  let y = b.length;
  for (let d = dEnd; d > 0; d--) {
    const v = trace[d];
    const k = x - y;
    const prevK = k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1]) ? k + 1 : k - 1;
    const prevX = v[offset + prevK];
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) ops.push({ kind: " ", token: a[--x] });
    if (x === prevX) ops.push({ kind: "+", token: b[--y] });
    else ops.push({ kind: "-", token: a[--x] });
  }
  while (x > 0 && y > 0) ops.push({ kind: " ", token: a[--x] });
  return ops.reverse();
}

const CONTEXT = 4;

function unified(file: string, ops: Op[]): string {
  const out = [`Index: ${file}`, "===================================================================", `--- ${file}`, `+++ ${file}`];
  // Positions (old line, new line) of every op, then hunks around the changes.
  const changes: number[] = [];
  ops.forEach((op, i) => op.kind !== " " && changes.push(i));
  let ci = 0;
  while (ci < changes.length) {
    const start = Math.max(0, changes[ci] - CONTEXT);
    let end = changes[ci];
    while (ci < changes.length && changes[ci] - end <= 2 * CONTEXT) end = changes[ci++];
    end = Math.min(ops.length - 1, end + CONTEXT);
    let oldLine = 1;
    let newLine = 1;
    for (let i = 0; i < start; i++) {
      if (ops[i].kind !== "+") oldLine++;
      if (ops[i].kind !== "-") newLine++;
    }
    const body: string[] = [];
    let oldCount = 0;
    let newCount = 0;
    for (let i = start; i <= end; i++) {
      const op = ops[i];
      if (op.kind !== "+") oldCount++;
      if (op.kind !== "-") newCount++;
      const hasNewline = op.token.endsWith("\n");
      body.push(op.kind + (hasNewline ? op.token.slice(0, -1) : op.token));
      if (!hasNewline) body.push("\\ No newline at end of file");
    }
    out.push(`@@ -${oldCount === 0 ? oldLine - 1 : oldLine},${oldCount} +${newCount === 0 ? newLine - 1 : newLine},${newCount} @@`, ...body);
  }
  return out.join("\n") + "\n";
}

export function unifiedDiff(file: string, before: string, after: string): string {
  return unified(file, diffTokens(tokens(before), tokens(after)));
}

export interface FileDiff {
  /** trimDiff(createTwoFilesPatch(...)) as the built-ins attach it. */
  diff: string;
  /** Lines added and removed (jsdiff diffLines counts). */
  additions: number;
  deletions: number;
}

export function fileDiff(file: string, before: string, after: string): FileDiff {
  const ops = diffTokens(tokens(before), tokens(after));
  let additions = 0;
  let deletions = 0;
  for (const op of ops) {
    if (op.kind === "+") additions++;
    else if (op.kind === "-") deletions++;
  }
  return { diff: trimDiff(unified(file, ops)), additions, deletions };
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
