/**
 * ripgrep's `--glob` override semantics, for the fallback used when a sandbox has
 * no `rg`. Globs are gitignore-style: a glob without a slash matches a name at any
 * depth, one with a slash is anchored at the search root; `*` stays within one path
 * component, `**` crosses them; `{a,b}`, `[...]`, `?` work; `!glob` excludes; the
 * last matching glob wins. A file matching a positive glob is listed even when
 * hidden; when any positive glob exists, files matching none are not listed;
 * directories are never excluded by not matching (so `*.ts` still descends).
 */

type Match = "whitelist" | "ignore" | "none";

interface CompiledGlob {
  negated: boolean;
  dirOnly: boolean;
  regex: RegExp;
}

function escapeRe(ch: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(ch) ? `\\${ch}` : ch;
}

/** Glob body (no leading "!", no trailing "/") → regex source matching a whole relative path. */
function translate(glob: string): string {
  let out = "";
  let i = 0;
  const braces: number[] = [];
  while (i < glob.length) {
    const ch = glob[i]!;
    if (ch === "\\" && i + 1 < glob.length) {
      out += escapeRe(glob[i + 1]!);
      i += 2;
      continue;
    }
    if (ch === "*") {
      if (glob[i + 1] === "*") {
        const atStart = i === 0 || glob[i - 1] === "/";
        const atEnd = i + 2 === glob.length || glob[i + 2] === "/";
        if (atStart && atEnd) {
          if (i + 2 === glob.length) {
            // "a/**" → everything below a; lone "**" → everything
            out += i === 0 ? ".*" : ".+";
            i += 2;
          } else {
            // "**/" → zero or more leading directories
            out += "(?:.*/)?";
            i += 3;
          }
          continue;
        }
        // "a**b" is two single stars in gitignore rules
        out += "[^/]*";
        i += 2;
        continue;
      }
      out += "[^/]*";
      i++;
      continue;
    }
    if (ch === "?") {
      out += "[^/]";
      i++;
      continue;
    }
    if (ch === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end === -1) throw new Error(`unclosed character class in glob: ${glob}`);
      let body = glob.slice(i + 1, end);
      let negate = false;
      if (body.startsWith("!") || body.startsWith("^")) {
        negate = true;
        body = body.slice(1);
      }
      const cls = body.replace(/[\\\]^]/g, (c) => `\\${c}`);
      out += negate ? `[^/${cls}]` : `[${cls}]`;
      i = end + 1;
      continue;
    }
    if (ch === "{") {
      braces.push(i);
      out += "(?:";
      i++;
      continue;
    }
    if (ch === "," && braces.length > 0) {
      out += "|";
      i++;
      continue;
    }
    if (ch === "}" && braces.length > 0) {
      braces.pop();
      out += ")";
      i++;
      continue;
    }
    out += escapeRe(ch);
    i++;
  }
  if (braces.length > 0) throw new Error(`unclosed alternate group in glob: ${glob}`);
  return out;
}

export function compileGlob(raw: string): CompiledGlob {
  let glob = raw;
  let negated = false;
  if (glob.startsWith("!")) {
    negated = true;
    glob = glob.slice(1);
  }
  let dirOnly = false;
  if (glob.endsWith("/") && glob.length > 1) {
    dirOnly = true;
    glob = glob.slice(0, -1);
  }
  let anchored = glob.includes("/");
  if (glob.startsWith("/")) glob = glob.slice(1);
  if (glob.startsWith("**/")) anchored = true;
  const body = translate(glob);
  const source = anchored ? body : `(?:.*/)?${body}`;
  return { negated, dirOnly, regex: new RegExp(`^${source}$`, "s") };
}

export class GlobOverrides {
  private readonly globs: CompiledGlob[];
  readonly hasPositive: boolean;
  constructor(globs: string[]) {
    this.globs = globs.map(compileGlob);
    this.hasPositive = this.globs.some((g) => !g.negated);
  }
  /** Last matching glob wins, like gitignore. */
  match(rel: string, isDir: boolean): Match {
    for (let i = this.globs.length - 1; i >= 0; i--) {
      const g = this.globs[i]!;
      if (g.dirOnly && !isDir) continue;
      if (g.regex.test(rel)) return g.negated ? "ignore" : "whitelist";
    }
    return "none";
  }
  /** Would ripgrep list this file (path relative to the search root, "/"-separated)? */
  accepts(rel: string, options: { hidden: boolean }): boolean {
    const parts = rel.split("/");
    for (let i = 1; i < parts.length; i++) {
      const m = this.match(parts.slice(0, i).join("/"), true);
      if (m === "ignore") return false;
      if (m === "none" && !options.hidden && parts[i - 1]!.startsWith(".")) return false;
    }
    const m = this.match(rel, false);
    if (m === "ignore") return false;
    if (m === "whitelist") return true;
    if (this.hasPositive) return false;
    return options.hidden || !parts[parts.length - 1]!.startsWith(".");
  }
}
