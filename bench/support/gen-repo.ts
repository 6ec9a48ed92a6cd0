/**
 * Generated git repositories for benchmarks: `files` files of source-like text in a
 * nested directory tree (about 20 files a directory, 2–4 levels), sizes spread like a
 * real project's (most 0.2–6 KiB, 1 % up to 64 KiB), and a short history (an initial
 * commit, then commits that edit, add and delete about 1 % of the files each). Seeded:
 * the same call makes the same repository. Written with `git fast-import` (one process),
 * then checked out.
 */
import { execFileSync } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { seededRandom } from "../../test/support/seeded-random.js";

export const BENCH_GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: "Bench",
  GIT_AUTHOR_EMAIL: "bench@example.com",
  GIT_COMMITTER_NAME: "Bench",
  GIT_COMMITTER_EMAIL: "bench@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
};

export interface GeneratedRepo {
  dir: string;
  /** Paths of the files at HEAD, in a stable order. */
  paths: string[];
  /** Bytes of the files at HEAD. */
  bytes: number;
  commits: number;
}

const WORDS = (
  "const let return import export from function async await if else for while new this class interface type " +
  "value result error config options items index count name path data state update render handle request " +
  "response buffer stream parse format write read open close start stop session sandbox provider branch commit"
).split(" ");
const EXT = [".ts", ".ts", ".ts", ".tsx", ".js", ".json", ".md", ".py", ".css", ".go"];
const TOP = ["src", "lib", "test", "packages", "docs", "tools"];

function text(random: () => number, bytes: number): string {
  const lines: string[] = [];
  let n = 0;
  while (n < bytes) {
    const indent = "  ".repeat(Math.floor(random() * 4));
    const words: string[] = [];
    const count = 3 + Math.floor(random() * 9);
    for (let w = 0; w < count; w++) {
      const word = WORDS[Math.floor(random() * WORDS.length)]!;
      words.push(random() < 0.25 ? `${word}${Math.floor(random() * 1000)}` : word);
    }
    const line = `${indent}${words.join(" ")};`;
    lines.push(line);
    n += line.length + 1;
  }
  return `${lines.join("\n")}\n`;
}

function size(random: () => number): number {
  if (random() < 0.01) return 16_384 + Math.floor(random() * 49_152);
  return Math.floor(200 * Math.exp(random() * 3.4));
}

function pathOf(i: number): string {
  // About 20 files a directory; the directory number, in base 6, spelled as nested directories.
  let d = Math.floor(i / 20);
  const parts = [TOP[d % TOP.length]!];
  d = Math.floor(d / TOP.length);
  while (d > 0) {
    parts.push(`m${d % 6}`);
    d = Math.floor(d / 6);
  }
  return `${parts.join("/")}/file${i}${EXT[i % EXT.length]}`;
}

export async function generateRepo(dir: string, files: number, { seed = 1, commits = 4 } = {}): Promise<GeneratedRepo> {
  await mkdir(dir, { recursive: true });
  const git = (...args: string[]) => execFileSync("git", args, { cwd: dir, env: BENCH_GIT_ENV, stdio: ["ignore", "ignore", "pipe"] });
  git("init", "-q", "-b", "main");
  const random = seededRandom(seed);
  const chunks: Buffer[] = [];
  const put = (s: string) => chunks.push(Buffer.from(s));
  let mark = 0;
  const live = new Map<number, number>(); // file index → bytes
  let time = 1_700_000_000;
  const commit = (msg: string, body: string) => {
    put(`commit refs/heads/main\ncommitter Bench <bench@example.com> ${time++} +0000\ndata ${Buffer.byteLength(msg)}\n${msg}\n${body}\n`);
  };
  const blob = (bytes: number) => {
    const content = text(random, bytes);
    put(`blob\nmark :${++mark}\ndata ${Buffer.byteLength(content)}\n${content}\n`);
    return { mark, bytes: Buffer.byteLength(content) };
  };
  let body = "";
  for (let i = 0; i < files; i++) {
    const b = blob(size(random));
    live.set(i, b.bytes);
    body += `M 100644 :${b.mark} ${pathOf(i)}\n`;
  }
  commit("initial", body);
  let next = files;
  const touched = Math.max(1, Math.floor(files / 100));
  for (let c = 1; c < commits; c++) {
    body = "";
    const keys = [...live.keys()];
    for (let k = 0; k < touched; k++) {
      const i = keys[Math.floor(random() * keys.length)]!;
      if (!live.has(i)) continue;
      if (random() < 0.1) {
        live.delete(i);
        body += `D ${pathOf(i)}\n`;
        continue;
      }
      const b = blob(size(random));
      live.set(i, b.bytes);
      body += `M 100644 :${b.mark} ${pathOf(i)}\n`;
    }
    // As many files added as deleted, so HEAD keeps `files` files.
    while (live.size < files) {
      const b = blob(size(random));
      live.set(next, b.bytes);
      body += `M 100644 :${b.mark} ${pathOf(next++)}\n`;
    }
    commit(`change ${c}`, body);
  }
  execFileSync("git", ["fast-import", "--quiet"], { cwd: dir, input: Buffer.concat(chunks), env: BENCH_GIT_ENV, maxBuffer: 1 << 30 });
  git("checkout", "-q", "-f", "main");
  const paths = [...live.keys()].sort((a, b) => a - b).map(pathOf);
  return { dir, paths, bytes: [...live.values()].reduce((a, b) => a + b, 0), commits };
}
