/**
 * Canaries and the host-side scanners of the secrets suite. A canary is a fresh random
 * string planted where a secret lives; a scan reports every place one of them turns up:
 * in plain bytes (read in overlapping chunks, so a 256 MiB disk image costs no 256 MiB
 * buffer), inside git objects (loose, packed, unreachable ones too) and bundles, and in
 * SQLite databases as SQLite itself reads them (a long row spills into overflow pages,
 * where a raw scan could miss a canary cut by a page header).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, lstatSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { inflateSync } from "node:zlib";
import { REPO } from "../../harness/opencode.js";

/** Where a planted value may turn up by design: never (host secrets), the sandbox's own environment (secretEnv), or anywhere (a file committed to the repository). */
export type CanaryKind = "host" | "secretEnv" | "project";

export interface Canary {
  label: string;
  value: string;
  kind: CanaryKind;
}

export interface Finding {
  label: string;
  where: string;
}

export class Canaries {
  /** What the agent searches for: it never types a canary itself (its commands are stored too). */
  readonly prefix = `cnry${randomBytes(4).toString("hex")}`;
  readonly all: Canary[] = [];

  make(label: string, kind: CanaryKind): string {
    if (!/^[A-Z]+$/.test(label)) throw new Error(`canary label ${label}: capitals only`);
    const value = `${this.prefix}${label}${randomBytes(12).toString("hex")}`;
    this.all.push({ label, value, kind });
    return value;
  }

  /** An extended regular expression matching every canary of this run (for grep -E inside). */
  get pattern(): string {
    return `${this.prefix}[A-Z]+[0-9a-f]{24}`;
  }

  of(...kinds: CanaryKind[]): Canary[] {
    return this.all.filter((c) => kinds.includes(c.kind));
  }

  value(label: string): string {
    const c = this.all.find((x) => x.label === label);
    if (!c) throw new Error(`no canary ${label}`);
    return c.value;
  }
}

export function scanText(text: string | Buffer, canaries: Canary[], where: string): Finding[] {
  const buf = typeof text === "string" ? Buffer.from(text) : text;
  return canaries.filter((c) => buf.includes(c.value)).map((c) => ({ label: c.label, where }));
}

const CHUNK = 4 * 1024 * 1024;

/** A file's raw bytes, chunk by chunk with an overlap as long as the longest canary. */
function scanFileBytes(path: string, canaries: Canary[]): Finding[] {
  const overlap = Math.max(...canaries.map((c) => c.value.length));
  const found = new Set<string>();
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(CHUNK + overlap);
    let carry = 0;
    for (;;) {
      const n = readSync(fd, buf, carry, CHUNK, null);
      if (n <= 0) break;
      const view = buf.subarray(0, carry + n);
      for (const c of canaries) if (!found.has(c.label) && view.includes(c.value)) found.add(c.label);
      carry = Math.min(overlap, view.length);
      view.copy(buf, 0, view.length - carry);
    }
  } finally {
    closeSync(fd);
  }
  return [...found].map((label) => ({ label, where: path }));
}

const git = (args: string[], input?: string) =>
  execFileSync("git", args, { input, maxBuffer: 1 << 30, stdio: ["pipe", "pipe", "ignore"] });

/**
 * The ids of the objects a git directory stores itself, loose and packed — not those it
 * borrows through objects/info/alternates (OpenCode's snapshot repository borrows the
 * project's: they are scanned as the project's).
 */
function ownObjectIds(gitDir: string): string[] {
  const objects = join(gitDir, "objects");
  const ids: string[] = [];
  for (const dir of readdirSync(objects).filter((d) => /^[0-9a-f]{2}$/.test(d)))
    for (const rest of readdirSync(join(objects, dir))) if (/^[0-9a-f]{38,62}$/.test(rest)) ids.push(dir + rest);
  const packs = existsSync(join(objects, "pack")) ? readdirSync(join(objects, "pack")).filter((f) => f.endsWith(".idx")) : [];
  for (const idx of packs)
    for (const line of execFileSync("git", ["show-index"], { input: readFileSync(join(objects, "pack", idx)), encoding: "utf8" }).split("\n"))
      if (line.trim()) ids.push(line.split(" ")[1]!);
  return ids;
}

/** Every object a git directory stores, reachable or not, as git reads them. */
export function scanGitDir(gitDir: string, canaries: Canary[]): Finding[] {
  // A scan that cannot read is a failure, never a clean result.
  const ids = ownObjectIds(gitDir);
  if (ids.length === 0) return [];
  const objects = git(["--git-dir", gitDir, "cat-file", "--batch"], ids.join("\n") + "\n");
  return scanText(objects, canaries, `${gitDir} (git objects)`);
}

/** The history of every ref as a patch: what `git log -p --all` shows the user. */
export function scanHistory(repo: string, canaries: Canary[]): Finding[] {
  const log = execFileSync("git", ["log", "-p", "--all", "--binary", "--format=%H%n%B"], { cwd: repo, maxBuffer: 1 << 30 });
  return scanText(log, canaries, `${repo} (git log -p --all)`);
}

const BUNDLE = /^# v[23] git bundle\n/;

/** A bundle's objects, unpacked into a throw-away repository. */
function scanBundle(path: string, canaries: Canary[]): Finding[] {
  const scratch = mkdtempSync(join(tmpdir(), "ocs-secrets-bundle-"));
  try {
    git(["init", "-q", "--bare", scratch]);
    git(["--git-dir", scratch, "bundle", "unbundle", path]);
    return scanGitDir(scratch, canaries).map((f) => ({ ...f, where: `${path} (bundle)` }));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** OpenCode's Bun (`BUN_BE_BUN=1`): reads a SQLite database without any other dependency. */
function bunBinary(): string {
  for (const pkg of ["opencode-linux-x64", "opencode-linux-x64-baseline", "opencode-linux-arm64"]) {
    const path = join(REPO, "node_modules", pkg, "bin/opencode");
    if (existsSync(path)) return path;
  }
  throw new Error("no opencode binary under node_modules (npm install)");
}

const DUMP_SQLITE = `
import { Database } from "bun:sqlite";
const db = new Database(process.argv.at(-1), { readonly: true });
for (const { name } of db.query("select name from sqlite_master where type = 'table'").all()) {
  for (const row of db.query('select * from "' + name.replaceAll('"', '""') + '"').all())
    for (const v of Object.values(row)) process.stdout.write((v instanceof Uint8Array ? Buffer.from(v).toString("latin1") : String(v)) + "\\n");
}`;

/** Every value of every table, as SQLite reads it (its -wal included). */
export function scanSqlite(path: string, canaries: Canary[]): Finding[] {
  const dump = execFileSync(bunBinary(), ["-e", DUMP_SQLITE, path], {
    env: { PATH: process.env.PATH, BUN_BE_BUN: "1", HOME: tmpdir(), TMPDIR: tmpdir() },
    maxBuffer: 1 << 30,
  });
  return scanText(dump, canaries, `${path} (SQLite rows)`);
}

function startsWith(path: string, prefix: Buffer): boolean {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(prefix.length);
    return readSync(fd, head, 0, head.length, 0) === head.length && head.equals(prefix);
  } finally {
    closeSync(fd);
  }
}

const SQLITE = Buffer.from("SQLite format 3\0");

/**
 * Every regular file below `root` (symlinks are not followed), as bytes; git directories
 * also object by object, bundles unpacked, loose objects inflated, SQLite databases row by
 * row. `skip` leaves subtrees out (scanned separately, with other expectations).
 */
export function scanTree(root: string, canaries: Canary[], skip: (path: string) => boolean = () => false): Finding[] {
  const findings: Finding[] = [];
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    if (names.includes("HEAD") && names.includes("objects")) findings.push(...scanGitDir(dir, canaries));
    for (const name of names) {
      const path = join(dir, name);
      if (skip(path)) continue;
      let st;
      try {
        st = lstatSync(path);
      } catch {
        continue; // gone meanwhile
      }
      if (st.isDirectory()) walk(path);
      else if (st.isFile() && st.size > 0) {
        try {
          findings.push(...scanFileBytes(path, canaries));
        } catch {
          continue; // unreadable (a socket's sibling, a file removed meanwhile)
        }
        if (/^[0-9a-f]{2}$/.test(basename(dirname(path))) && /^[0-9a-f]{38,62}$/.test(name)) {
          try {
            findings.push(...scanText(inflateSync(readFileSync(path)), canaries, `${path} (inflated)`));
          } catch {}
        }
        if (st.size < 1 << 30 && startsWith(path, Buffer.from("# v")) && BUNDLE.test(readFileSync(path).subarray(0, 32).toString("latin1")))
          findings.push(...scanBundle(path, canaries));
        if (startsWith(path, SQLITE)) findings.push(...scanSqlite(path, canaries));
      }
    }
  };
  walk(root);
  return findings;
}

/** The environment and command line of host processes, as the host reads them from /proc. */
export function scanProcesses(pids: number[], canaries: Canary[]): Finding[] {
  const findings: Finding[] = [];
  for (const pid of pids)
    for (const file of ["environ", "cmdline"]) {
      try {
        findings.push(...scanText(readFileSync(`/proc/${pid}/${file}`), canaries, `/proc/${pid}/${file}`));
      } catch {} // gone meanwhile
    }
  return findings;
}

/** One line per finding, for an assertion message. */
export const describeFindings = (findings: Finding[]) => findings.map((f) => `${f.label} in ${f.where}`).sort();
