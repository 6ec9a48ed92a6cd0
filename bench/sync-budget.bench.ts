/**
 * What the sync budget's measurement costs (prints, never asserts). Run: npx tsx bench/sync-budget.bench.ts
 * A one-commit bundle over a clone of this repository: measuring it (git/quarantine.ts)
 * vs a plain `git fetch` of the same bundle — the step it adds before each sync's fetch.
 * Env: BENCH_N (default 10).
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { measureBundle } from "../.opencode/plugin/sandbox/git/quarantine.js";

const N = Number(process.env.BENCH_N ?? 10);
const ENV = { ...process.env, GIT_AUTHOR_NAME: "Bench", GIT_AUTHOR_EMAIL: "b@example.com", GIT_COMMITTER_NAME: "Bench", GIT_COMMITTER_EMAIL: "b@example.com" };
const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, env: ENV, encoding: "utf8" }).trim();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const dir = await mkdtemp(join(tmpdir(), "bench-budget-"));
  try {
    const repo = join(dir, "r");
    const other = join(dir, "o");
    git(dir, "clone", "-q", process.cwd(), repo);
    git(dir, "clone", "-q", process.cwd(), other);
    await writeFile(join(repo, "bench-new.txt"), "x\n");
    git(repo, "add", "bench-new.txt");
    git(repo, "commit", "-q", "-m", "bench");
    const bundle = join(dir, "one.bundle");
    git(repo, "bundle", "create", "-q", bundle, "HEAD", "^HEAD~1");
    const measure: number[] = [];
    const fetch: number[] = [];
    for (let i = 0; i < N; i++) {
      let t = performance.now();
      await measureBundle(bundle, join(other, ".git", "objects"), join(dir, `q${i}`), true);
      measure.push(performance.now() - t);
      t = performance.now();
      git(other, "fetch", "-q", "--no-write-fetch-head", bundle, `HEAD:refs/bench/${i}`);
      fetch.push(performance.now() - t);
    }
    console.log(`measuring a one-commit bundle: median ${median(measure).toFixed(1)} ms; plain git fetch of it: ${median(fetch).toFixed(1)} ms (N=${N})`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
