/**
 * Git sync benchmark (prints, never asserts). Run: npx tsx bench/git-sync.bench.ts
 * On a generated repository (10,000 files, BENCH_COMMITS commits, default 3000), in one run:
 *   - seed: time and bytes vs `git bundle create --all` of the same repository
 *   - sync of a one-file change: time and bytes vs a plain `git fetch` of the same kind of
 *     change between two local repositories — (a) left uncommitted by the agent (sync commits
 *     it: compared with plain add + commit + fetch), (b) committed by the agent (vs the fetch)
 * Targets (issue 6): incremental sync ≤ 1.5× the plain fetch; bytes proportional to the change.
 * Env: BENCH_N (default 10), BENCH_PROVIDER (local|dir; default local when available).
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigSchema } from "../.opencode/plugin/sandbox/config.js";
import { silentLogger } from "../.opencode/plugin/sandbox/core/logger.js";
import type { SessionRecord } from "../.opencode/plugin/sandbox/core/state-store.js";
import { Seeder } from "../.opencode/plugin/sandbox/git/seeder.js";
import { GitSync } from "../.opencode/plugin/sandbox/git/service.js";
import { LocalProvider } from "../.opencode/plugin/sandbox/providers/local/index.js";
import type { Sandbox, SandboxProvider } from "../.opencode/plugin/sandbox/providers/provider.js";
import { DirProvider } from "../test/support/dir-provider.js";

const N = Number(process.env.BENCH_N ?? 10);
const FILES = 10_000;
const COMMITS = Number(process.env.BENCH_COMMITS ?? 3000);
const ENV = { ...process.env, GIT_AUTHOR_NAME: "Bench", GIT_AUTHOR_EMAIL: "b@example.com", GIT_COMMITTER_NAME: "Bench", GIT_COMMITTER_EMAIL: "b@example.com" };

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (n: number) => `${n.toFixed(1)} ms`;
const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, env: ENV, encoding: "utf8", maxBuffer: 1 << 30 }).trim();

function gitAsync(cwd: string, ...args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = spawn("git", args, { cwd, env: ENV, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    c.stderr.on("data", (d) => (err += d));
    c.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`git ${args.join(" ")}: ${err}`))));
  });
}

/** 10,000 files in the first commit, then small commits touching 1–3 files each, via fast-import. */
function generateRepo(dir: string) {
  git(dir, "init", "-q", "-b", "main");
  const chunks: string[] = [];
  let mark = 0;
  const blob = (content: string) => {
    mark++;
    chunks.push(`blob\nmark :${mark}\ndata ${Buffer.byteLength(content)}\n${content}\n`);
    return mark;
  };
  const path = (i: number) => `src/d${i % 100}/file${i}.txt`;
  const body = (i: number, v: number) => `file ${i} version ${v}\n${"lorem ipsum dolor sit amet ".repeat(8 + (i % 20))}\n`;
  const first = Array.from({ length: FILES }, (_, i) => [path(i), blob(body(i, 0))] as const);
  let time = 1_700_000_000;
  const commit = (msg: string, entries: (readonly [string, number])[]) => {
    chunks.push(
      `commit refs/heads/main\ncommitter Bench <b@example.com> ${time++} +0000\ndata ${msg.length}\n${msg}\n` +
        entries.map(([p, m]) => `M 100644 :${m} ${p}\n`).join("") +
        "\n",
    );
  };
  commit("initial", first);
  for (let c = 1; c < COMMITS; c++) {
    const touched = Array.from({ length: 1 + (c % 3) }, (_, k) => (c * 7919 + k * 104729) % FILES);
    commit(`change ${c}`, touched.map((i) => [path(i), blob(body(i, c))] as const));
  }
  execFileSync("git", ["fast-import", "--quiet"], { cwd: dir, input: chunks.join(""), env: ENV, maxBuffer: 1 << 30 });
  git(dir, "reset", "-q", "--hard", "main");
}

async function main() {
  const work = await mkdtemp(join(tmpdir(), "bench-git-"));
  const repo = join(work, "repo");
  await mkdir(repo);
  let t = Date.now();
  generateRepo(repo);
  console.log(`generated ${FILES} files, ${git(repo, "rev-list", "--count", "HEAD")} commits in ${Date.now() - t} ms; .git ${git(repo, "count-objects", "-vH").split("\n").find((l) => l.startsWith("size-pack"))}`);

  let provider: SandboxProvider;
  const want = process.env.BENCH_PROVIDER ?? "local";
  if (want === "local") {
    try {
      const p = new LocalProvider({ root: join(work, "sbx"), network: "none", memoryMb: 2048, maxProcesses: 512, maxOpenFiles: 4096, log: silentLogger });
      await p.preflight();
      provider = p;
    } catch (error) {
      console.log(`local provider unavailable (${(error as Error).message}); using the directory double`);
      provider = new DirProvider(join(work, "dir"));
    }
  } else provider = new DirProvider(join(work, "dir"));
  console.log(`provider: ${provider.name}, N=${N}`);

  const records = new Map<string, SessionRecord>();
  const sandboxes = new Map<string, Sandbox>();
  const sync = new GitSync({
    directory: repo,
    config: ConfigSchema.parse({}),
    log: silentLogger,
    notify: () => {},
    store: {
      get: async (id) => records.get(id),
      patch: async (id, p) => {
        const r = { ...records.get(id)!, ...p };
        records.set(id, r);
        return r;
      },
    },
    sandboxFor: async (id) => sandboxes.get(id)!,
  });
  const seeder = new Seeder({ host: sync.host, config: ConfigSchema.parse({}), log: silentLogger, notify: () => {}, store: { patch: async (id, p) => (records.set(id, { ...records.get(id)!, ...p }), records.get(id)) } });

  // ---- seed vs git bundle create --all
  const seedTimes: number[] = [];
  let seedBytes = 0;
  const seeds = Math.max(3, Math.min(N, 5));
  for (let i = 0; i < seeds; i++) {
    const id = `ses_seed${i}`;
    const raw = await provider.create({ labels: { bench: "git" } });
    const counting: Sandbox = Object.create(raw, {
      writeFile: { value: async (p: string, d: Uint8Array | string) => ((seedBytes = typeof d === "string" ? d.length : d.length), raw.writeFile(p, d)) },
    });
    const now = new Date().toISOString();
    const record: SessionRecord = { provider: provider.name, sandboxId: raw.id, createdAt: now, lastUsedAt: now };
    records.set(id, record);
    sandboxes.set(id, raw);
    t = performance.now();
    const fields = await seeder.seed(counting, { sessionID: id, record, recreated: false });
    seedTimes.push(performance.now() - t);
    records.set(id, { ...records.get(id)!, ...fields, seededAt: now });
  }
  const bundleTimes: number[] = [];
  let bundleBytes = 0;
  for (let i = 0; i < seeds; i++) {
    const out = join(work, `all${i}.bundle`);
    t = performance.now();
    await gitAsync(repo, "bundle", "create", "-q", out, "--all");
    bundleTimes.push(performance.now() - t);
    bundleBytes = (await stat(out)).size;
    await rm(out);
  }
  console.log(`\nseed (snapshot + bundle + upload + clone in sandbox): median ${ms(median(seedTimes))}, ${kb(seedBytes)}`);
  console.log(`git bundle create --all (host only):                  median ${ms(median(bundleTimes))}, ${kb(bundleBytes)}`);
  console.log(`ratio: time ${(median(seedTimes) / median(bundleTimes)).toFixed(2)}×, bytes ${(seedBytes / bundleBytes).toFixed(2)}×`);

  // ---- one-file-change sync vs plain git fetch between two local repositories
  const id = "ses_seed0";
  const sandbox = sandboxes.get(id)!;
  const syncTimes: number[] = [];
  const syncBytes: number[] = [];
  const phases: { sandbox: number; download: number; host: number }[] = [];
  const commitTimes: number[] = [];
  const committedSyncTimes: number[] = [];
  for (let i = 0; i < N; i++) {
    // (a) work the agent left uncommitted: sync commits it first.
    await sandbox.exec(`echo "change ${i}" >> src/d1/file1.txt`);
    t = performance.now();
    const r = await sync.sync(id, "manual");
    syncTimes.push(performance.now() - t);
    if (r.kind !== "synced") throw new Error(`sync skipped: ${r.why}`);
    syncBytes.push(r.bytes);
    phases.push(r.ms);
    // (b) a change the agent committed itself (its commit timed, for context).
    await sandbox.exec(`echo "ctx ${i}" >> src/d2/file2.txt`);
    t = performance.now();
    await sandbox.exec("git -c safe.directory='*' add -A && git -c safe.directory='*' -c user.name=b -c user.email=b@x commit -qm ctx");
    commitTimes.push(performance.now() - t);
    t = performance.now();
    const c = await sync.sync(id, "manual");
    committedSyncTimes.push(performance.now() - t);
    if (c.kind !== "synced") throw new Error(`sync skipped: ${c.why}`);
  }
  const a = join(work, "a");
  const b = join(work, "b");
  await gitAsync(work, "clone", "-q", "--no-local", repo, a);
  await gitAsync(work, "clone", "-q", "--no-local", repo, b);
  const fetchTimes: number[] = [];
  const fetchBytes: number[] = [];
  const hostCommitTimes: number[] = [];
  for (let i = 0; i < N; i++) {
    execFileSync("sh", ["-c", `echo "change ${i}" >> src/d1/file1.txt`], { cwd: a });
    t = performance.now();
    await gitAsync(a, "add", "-A");
    await gitAsync(a, "commit", "-qm", "one");
    hostCommitTimes.push(performance.now() - t);
    const prev = git(b, "rev-parse", i === 0 ? "main" : "refs/remotes/a/main");
    t = performance.now();
    await gitAsync(b, "fetch", "-q", a, "main:refs/remotes/a/main");
    fetchTimes.push(performance.now() - t);
    // What the fetch carried, measured as the thin pack of the same commits (a bundle of them).
    const out = join(work, `fetch${i}.bundle`);
    await gitAsync(a, "bundle", "create", "-q", out, "main", `^${prev}`);
    fetchBytes.push((await stat(out)).size);
  }
  const fetch = median(fetchTimes);
  const plainCommitFetch = median(hostCommitTimes) + fetch;
  console.log(`\nplain git fetch of a one-file change between two local repositories:            median ${ms(fetch)}, median ${median(fetchBytes)} bytes (as a bundle of the same commits)`);
  console.log(`plain git add -A + commit of that change (host, 10,000 files):                   median ${ms(median(hostCommitTimes))}`);
  console.log(`(a) sync of an uncommitted one-file change (commit + bundle in sandbox, download, verify, fetch, CAS): median ${ms(median(syncTimes))}, median ${median(syncBytes)} bytes`);
  console.log(`    phases (medians): in sandbox ${ms(median(phases.map((p) => p.sandbox)))}, download ${ms(median(phases.map((p) => p.download)))}, host ${ms(median(phases.map((p) => p.host)))}`);
  console.log(`    vs plain add + commit + fetch (${ms(plainCommitFetch)}): ${(median(syncTimes) / plainCommitFetch).toFixed(2)}×`);
  console.log(`(b) sync of a change the agent committed itself:                                  median ${ms(median(committedSyncTimes))} (its commit in the sandbox took ${ms(median(commitTimes))})`);
  console.log(`    vs plain fetch: ${(median(committedSyncTimes) / fetch).toFixed(2)}×   target ≤ 1.5× ${median(committedSyncTimes) / fetch <= 1.5 ? "met" : "MISSED"}`);
  console.log(`sync bytes vs seed bytes: ${((median(syncBytes) / seedBytes) * 100).toFixed(3)}% (proportional to the change, not the repository)`);

  for (const s of sandboxes.values()) await provider.delete(s.id).catch(() => {});
  await provider.dispose?.();
  await rm(work, { recursive: true, force: true });
}

await main();
