/**
 * File listing and content search inside the sandbox, the way the built-in glob/grep
 * drive ripgrep (`rg --files --glob=…`, `rg --json …`). When the sandbox has no `rg`
 * the same answers come from `git ls-files` (or `find`) + ripgrep's glob rules
 * (rg-glob.ts) + `grep -P`/`-E`. Untrusted values travel in environment variables,
 * never inside the command text.
 */
import { posix } from "node:path";
import type { Sandbox } from "../providers/provider.js";
import { GlobOverrides } from "./rg-glob.js";
import { nonce } from "./shared.js";

export interface GrepMatch {
  /** Relative to the search directory, "/"-separated. */
  path: string;
  line: number;
  text: string;
}

export class SearchError extends Error {
  override readonly name = "SearchError";
}

/** The built-in's ripgrep service strips leading "./" and "/" from reported paths. */
function cleanPath(p: string): string {
  return p.replace(/^(?:\.[\\/])+/u, "").replace(/^[\\/]+/u, "").replaceAll("\\", "/");
}

const MAX_LINE = 2000;

/** As the built-in: long lines cut at 2000 characters, never inside a surrogate pair. */
function cutLine(text: string): string {
  return text.length > MAX_LINE ? `${text.slice(0, MAX_LINE).replace(/[\uD800-\uDBFF]$/, "")}...` : text;
}

const EXCLUDE_GIT = "!**/.git/**";

/** Lists files below "$D" (NUL-separated), then the deleted-but-tracked ones after the marker. */
const LIST_FILES = `if command -v git >/dev/null 2>&1 && [ "$(git rev-parse --is-inside-work-tree 2>/dev/null)" = true ]; then
  git ls-files -z -co --exclude-standard -- . 2>/dev/null
  printf '%s' "$OCSBX_M"
  git ls-files -z -d -- . 2>/dev/null
else
  find . -name .git -prune -o -type f -print0 2>/dev/null
  printf '%s' "$OCSBX_M"
fi`;

interface Listing {
  mode: "rg" | "fallback";
  output: string;
}

function parseListing(output: string, marker: string): string[] {
  const at = output.indexOf(marker);
  const listed = (at === -1 ? output : output.slice(0, at)).split("\0").filter(Boolean).map(cleanPath);
  const deleted = new Set(at === -1 ? [] : output.slice(at + marker.length).split("\0").filter(Boolean).map(cleanPath));
  const seen = new Set<string>();
  return listed.filter((p) => !deleted.has(p) && !seen.has(p) && (seen.add(p), true));
}

function useRg(forceFallback?: boolean): string {
  return forceFallback ? "false" : "command -v rg >/dev/null 2>&1";
}

export interface SearchOptions {
  signal?: AbortSignal;
  /** Tests: behave as if the sandbox had no rg. */
  forceFallback?: boolean;
}

/** Files matching `pattern` under `dir` (sandbox path), at most `limit` (+1 to tell truncation). */
/** A NUL cannot travel to a command (it would fail naming our environment variable, not the argument). */
function assertNoNul(what: string, value: string): void {
  if (value.includes("\0")) throw new Error(`Invalid ${what} (contains a NUL byte): ${JSON.stringify(value)}`);
}

export async function globFiles(
  sandbox: Sandbox,
  dir: string,
  pattern: string,
  limit: number,
  options: SearchOptions = {},
): Promise<string[]> {
  assertNoNul("pattern", pattern);
  const marker = nonce();
  const script = `if [ -f "$OCSBX_D" ]; then exit 3; fi
cd -- "$OCSBX_D" 2>/dev/null || exit 4
if ${useRg(options.forceFallback)}; then
  rg --no-config --files --glob="$OCSBX_P" --glob='${EXCLUDE_GIT}' . 2>/dev/null | head -n ${limit + 1}
  exit 0
fi
printf '%s:fallback\\n' "$OCSBX_M"
${LIST_FILES}`;
  const result = await sandbox.exec(script, {
    env: { OCSBX_D: dir, OCSBX_P: pattern, OCSBX_M: marker },
    signal: options.signal,
  });
  checkExit(result.exitCode, result.aborted);
  const listing = splitMode(result.output, marker);
  if (listing.mode === "rg") return listing.output.split("\n").filter((l) => l.length > 0).map(cleanPath).slice(0, limit + 1);
  let overrides: GlobOverrides;
  try {
    overrides = new GlobOverrides([pattern, EXCLUDE_GIT]);
  } catch {
    // ripgrep reports an invalid glob on stderr and lists nothing; the built-in shows "No files found".
    return [];
  }
  const out: string[] = [];
  for (const p of parseListing(listing.output, marker)) {
    if (!overrides.accepts(p, { hidden: false })) continue;
    out.push(p);
    if (out.length > limit) break;
  }
  return out;
}

function splitMode(output: string, marker: string): Listing {
  const head = `${marker}:fallback\n`;
  const at = output.indexOf(head);
  if (at === -1) return { mode: "rg", output };
  return { mode: "fallback", output: output.slice(at + head.length) };
}

function checkExit(exitCode: number | null, aborted: boolean) {
  if (aborted) throw new SearchError("Aborted");
  if (exitCode === 3) throw new SearchError("not a directory");
  // The built-in's ripgrep service fails this way when its cwd does not exist.
  if (exitCode === 4) throw new SearchError("ripgrep execution failed");
}

/** The built-in decides "invalid pattern" from ripgrep's stderr. */
function isRegexError(stderr: string): boolean {
  return stderr.includes("regex parse error") || stderr.includes("error parsing regex");
}

interface RgJsonText {
  text?: string;
  bytes?: string;
}

function rgText(value: RgJsonText | undefined): string {
  if (!value) return "";
  if (typeof value.text === "string") return value.text;
  // Non-UTF-8 data: ripgrep sends base64; decode lossily rather than fail like the built-in.
  return value.bytes ? Buffer.from(value.bytes, "base64").toString("utf8") : "";
}

export interface GrepResult {
  /** Whether `target` was a directory; if not, its parent directory was searched (as the built-in does). */
  isDir: boolean;
  matches: GrepMatch[];
}

/**
 * Matches of `pattern` under `target` (sandbox path), at most `limit` + 1. Like the
 * built-in, a target that is not a directory searches its parent directory.
 */
export async function grepFiles(
  sandbox: Sandbox,
  target: string,
  pattern: string,
  include: string | undefined,
  limit: number,
  options: SearchOptions = {},
): Promise<GrepResult> {
  assertNoNul("pattern", pattern);
  assertNoNul("include", include ?? "");
  const marker = nonce();
  const script = `if [ -d "$OCSBX_T" ]; then OCSBX_D=$OCSBX_T; printf D; else OCSBX_D=$(dirname -- "$OCSBX_T"); printf F; fi
cd -- "$OCSBX_D" 2>/dev/null || exit 4
if ${useRg(options.forceFallback)}; then
  E=$(mktemp 2>/dev/null || echo "/tmp/.ocsbx-rg.$$")
  if [ -n "$OCSBX_I" ]; then
    rg --no-config --json --hidden --no-messages --glob="$OCSBX_I" --glob='${EXCLUDE_GIT}' -- "$OCSBX_P" . 2>"$E" | grep '^{"type":"match"' | head -n ${limit + 1}
  else
    rg --no-config --json --hidden --no-messages --glob='${EXCLUDE_GIT}' -- "$OCSBX_P" . 2>"$E" | grep '^{"type":"match"' | head -n ${limit + 1}
  fi
  printf '\\n%s\\n' "$OCSBX_M"
  cat "$E" 2>/dev/null; rm -f "$E"
  exit 0
fi
printf '%s:fallback\\n' "$OCSBX_M"
${LIST_FILES}`;
  const result = await sandbox.exec(script, {
    env: { OCSBX_T: target, OCSBX_P: pattern, OCSBX_I: include ?? "", OCSBX_M: marker },
    signal: options.signal,
  });
  checkExit(result.exitCode, result.aborted);
  const isDir = result.output.startsWith("D");
  const output = result.output.slice(1);
  const dir = isDir ? target : posix.dirname(target);
  const listing = splitMode(output, marker);
  if (listing.mode === "fallback")
    return { isDir, matches: await grepFallback(sandbox, dir, pattern, include, limit, parseListing(listing.output, marker), options) };

  const at = output.lastIndexOf(`\n${marker}\n`);
  const stdout = at === -1 ? output : output.slice(0, at);
  const stderr = at === -1 ? "" : output.slice(at + marker.length + 2);
  if (isRegexError(stderr)) throw new SearchError(stderr.trim());
  const matches: GrepMatch[] = [];
  for (const line of stdout.split("\n")) {
    if (!line.startsWith('{"type":"match"')) continue;
    let record: { data?: { path?: RgJsonText; lines?: RgJsonText; line_number?: number } };
    try {
      record = JSON.parse(line);
    } catch {
      continue;
    }
    const data = record.data;
    if (!data || typeof data.line_number !== "number") continue;
    matches.push({ path: cleanPath(rgText(data.path)), line: data.line_number, text: cutLine(rgText(data.lines)) });
    if (matches.length > limit) break;
  }
  return { isDir, matches };
}

async function grepFallback(
  sandbox: Sandbox,
  dir: string,
  pattern: string,
  include: string | undefined,
  limit: number,
  files: string[],
  options: SearchOptions,
): Promise<GrepMatch[]> {
  let overrides: GlobOverrides;
  try {
    overrides = new GlobOverrides(include ? [include, EXCLUDE_GIT] : [EXCLUDE_GIT]);
  } catch {
    return [];
  }
  const selected = files.filter((p) => overrides.accepts(p, { hidden: true }));
  if (selected.length === 0) return [];
  const marker = nonce();
  // -P is closest to ripgrep's regex syntax (\d, \w, (?i)); -E where grep lacks PCRE.
  const script = `cd -- "$OCSBX_D" 2>/dev/null || exit 4
if echo x | grep -P 'x' >/dev/null 2>&1; then F=-P; else F=-E; fi
E=$(mktemp 2>/dev/null || echo "/tmp/.ocsbx-grep.$$")
xargs -0 grep -n -H -I -s "$F" -e "$OCSBX_P" -- 2>"$E" | head -n ${limit + 1}
printf '\\n%s\\n' "$OCSBX_M"
cat "$E" 2>/dev/null; rm -f "$E"`;
  const result = await sandbox.exec(script, {
    env: { OCSBX_D: dir, OCSBX_P: pattern, OCSBX_M: marker },
    stdin: selected.map((p) => `./${p}`).join("\0") + "\0",
    signal: options.signal,
  });
  checkExit(result.exitCode, result.aborted);
  const at = result.output.lastIndexOf(`\n${marker}\n`);
  const stdout = at === -1 ? result.output : result.output.slice(0, at);
  const stderr = at === -1 ? "" : result.output.slice(at + marker.length + 2).trim();
  const known = new Set(selected);
  const matches: GrepMatch[] = [];
  for (const line of stdout.split("\n")) {
    if (!line) continue;
    const m = locate(line, known);
    if (!m) continue;
    // grep drops the line terminator ripgrep keeps in `lines.text`; put it back.
    matches.push({ path: m.path, line: m.line, text: cutLine(`${m.text}\n`) });
    if (matches.length > limit) break;
  }
  if (matches.length === 0 && stderr && !/No such file|Permission denied/.test(stderr)) throw new SearchError(`regex parse error:\n${stderr}`);
  return matches;
}

/** "./path:12:text" → the known path (paths may contain ':'), line number and text. */
function locate(line: string, known: Set<string>): GrepMatch | undefined {
  let from = 0;
  for (;;) {
    const colon = line.indexOf(":", from);
    if (colon === -1) return undefined;
    const candidate = cleanPath(line.slice(0, colon));
    const rest = /^(\d+):/.exec(line.slice(colon + 1));
    if (rest && known.has(candidate)) {
      return { path: candidate, line: Number(rest[1]), text: line.slice(colon + 1 + rest[0].length) };
    }
    from = colon + 1;
  }
}
