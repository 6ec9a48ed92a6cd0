/**
 * Seed and sync (issue 15) on generated repositories (bench/support/gen-repo.ts) of
 * 1,000, 10,000 and 50,000 files, through the real path (git/seeder.ts, git/service.ts)
 * into and out of a real local sandbox:
 * - seed (bundle on the host, upload, clone and checkout inside) against `git bundle
 *   create --all` of the same repository: time and bytes;
 * - a one-file change synced against a plain local `git fetch` of the same change between
 *   two clones, for a change the agent left uncommitted (sync commits it: compared with
 *   plain add + commit + fetch) and one it committed itself (compared with the fetch);
 * - changes of 1, 10 and 100 files and of a new 1 MiB and 10 MiB file (random bytes),
 *   uncommitted: time and bytes against add + commit + fetch, bytes against the change.
 * Every subject runs interleaved with its baseline; making the change is never timed.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ConfigSchema } from "../.opencode/plugin/sandbox/config.js";
import { silentLogger } from "../.opencode/plugin/sandbox/core/logger.js";
import type { SessionRecord } from "../.opencode/plugin/sandbox/core/state-store.js";
import { Seeder } from "../.opencode/plugin/sandbox/git/seeder.js";
import { GitSync, type SyncResult } from "../.opencode/plugin/sandbox/git/service.js";
import { LocalProvider } from "../.opencode/plugin/sandbox/providers/local/index.js";
import type { Sandbox } from "../.opencode/plugin/sandbox/providers/provider.js";
import type { BenchContext } from "./lib/context.js";
import { MS, SectionBuilder, type Section } from "./lib/section.js";
import { summarize } from "./lib/stats.js";
import { BENCH_GIT_ENV, generateRepo, type GeneratedRepo } from "./support/gen-repo.js";
import { interleavedSteps } from "./support/steps.js";

const run = promisify(execFile);
const MIB = 1024 * 1024;

async function git(cwd: string, ...args: string[]): Promise<string> {
  return (await run("git", args, { cwd, env: BENCH_GIT_ENV, maxBuffer: 1 << 28 })).stdout.trim();
}
const sh = (cwd: string, script: string) => run("sh", ["-c", script], { cwd, env: BENCH_GIT_ENV, maxBuffer: 1 << 28 });

/** A change of the working tree, the same script on the host and in the sandbox. */
interface Change {
  label: string;
  /** Bytes the change adds (new content). */
  bytes: number;
  script: (repo: GeneratedRepo, i: number) => string;
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const line = (i: number) => `// changed in run ${i} ${"x".repeat(40)}`;
function editFiles(n: number): Change {
  return {
    label: n === 1 ? "1 file edited" : `${n} files edited`,
    bytes: n * (line(0).length + 1),
    // Spread over the tree: every (files / n)th file.
    script: (repo, i) => {
      const step = Math.max(1, Math.floor(repo.paths.length / n));
      const paths = Array.from({ length: n }, (_, k) => repo.paths[(k * step + i + 7) % repo.paths.length]!);
      return `for f in ${paths.map(quote).join(" ")}; do echo ${quote(line(i))} >> "$f"; done`;
    },
  };
}
function newFile(bytes: number, label: string): Change {
  return { label, bytes, script: (_, i) => `head -c ${bytes} /dev/urandom > new-${bytes}-${i}.bin` };
}

/** One repository's sandbox side: seeder, sync, and the session records they share. */
class Harness {
  readonly records = new Map<string, SessionRecord>();
  readonly sandboxes = new Map<string, Sandbox>();
  readonly sync: GitSync;
  readonly seeder: Seeder;

  constructor(readonly repo: GeneratedRepo) {
    const config = ConfigSchema.parse({});
    const store = {
      get: async (id: string) => this.records.get(id),
      patch: async (id: string, p: Partial<SessionRecord>) => {
        const r = { ...this.records.get(id)!, ...p };
        this.records.set(id, r);
        return r;
      },
    };
    this.sync = new GitSync({ directory: repo.dir, config, log: silentLogger, notify: () => {}, store, sandboxFor: async (id) => this.sandboxes.get(id)! });
    this.seeder = new Seeder({ host: this.sync.host, config, log: silentLogger, notify: () => {}, store });
  }

  async synced(id: string): Promise<Extract<SyncResult, { kind: "synced" }>> {
    const r = await this.sync.sync(id, "manual");
    if (r.kind !== "synced") throw new Error(`sync skipped: ${r.why}`);
    return r;
  }
}

export default async function seedSync(ctx: BenchContext): Promise<Section> {
  const sizes = ctx.smoke ? [300] : [1_000, 10_000, 50_000];
  const changeRepo = ctx.smoke ? 300 : 10_000;
  const changes: Change[] = ctx.smoke
    ? [editFiles(10), newFile(MIB, "new 1 MiB file")]
    : [editFiles(1), editFiles(10), editFiles(100), newFile(MIB, "new 1 MiB file"), newFile(10 * MIB, "new 10 MiB file")];
  const s = new SectionBuilder(
    "seed-sync",
    "Seed and sync",
    "Generated repositories (bench/support/gen-repo.ts: nested directories of ~20 files, most files 0.2–6 KiB, 1 % up to 64 KiB, 4 commits), " +
      "synced through the real path (git/seeder.ts, git/service.ts) with a real local sandbox (network none). Baselines are plain git between two local clones, " +
      "run interleaved with the subject; making a change is never timed. Bytes of a plain fetch are those of a bundle of the same commits (the pack it carries).",
  );
  const seedTable = s.table("Seed: time against git bundle create --all");
  const seedBytes = s.table("Seed: bytes", ["repository", "seed bundle", "git bundle create --all", "ratio", "files' bytes"]);
  const syncTable = s.table("One-file change synced against a plain local fetch of the same change");
  const phaseTable = s.table("Where a one-file sync's time goes (medians)", ["repository", "change", "in the sandbox (commit + bundle)", "download", "host (budget check, fetch, branch)", "total"]);
  const changeTable = s.table(`Change size (${changeRepo.toLocaleString("en-US")} files, uncommitted changes): time against add + commit + fetch`);
  const changeBytes = s.table(`Change size (${changeRepo.toLocaleString("en-US")} files): bytes`, ["change", "new content", "sync bundle", "plain fetch", "sync ÷ new content", "sync ÷ fetch"]);
  const seedPoints: Record<string, unknown>[] = [];
  const syncPoints: Record<string, unknown>[] = [];
  const changePoints: Record<string, unknown>[] = [];
  const changeBytePoints: Record<string, unknown>[] = [];

  const work = await mkdtemp(join(tmpdir(), "bench-seed-sync-"));
  const provider = new LocalProvider({ root: join(work, "sbx"), network: "none", memoryMb: 2048, maxProcesses: 512, maxOpenFiles: 4096, log: silentLogger });
  try {
    await provider.preflight();
    for (const files of sizes) {
      const name = `${files.toLocaleString("en-US")} files`;
      ctx.progress(`generating ${name}`);
      const repo = await generateRepo(join(work, `repo-${files}`), files);
      const h = new Harness(repo);
      // The plain side: "a" makes the change (as the agent does), "b" fetches it (as the host).
      const a = join(work, `a-${files}`);
      const b = join(work, `b-${files}`);
      await git(work, "clone", "-q", repo.dir, a);
      await git(work, "clone", "-q", "--bare", repo.dir, b);

      // ---- seed
      ctx.progress(`${name}: seed`);
      let seededBytes = 0;
      let allBytes = 0;
      let kept: string | undefined;
      const seed = await interleavedSteps(
        ctx.runs(files >= 50_000 ? 3 : 5, 1),
        {
          run: (i) => git(repo.dir, "bundle", "create", "-q", join(work, `all-${i}.bundle`), "--all"),
          after: async (i) => {
            allBytes = (await stat(join(work, `all-${i}.bundle`))).size;
            await rm(join(work, `all-${i}.bundle`));
          },
        },
        {
          setup: async (i) => {
            const id = `ses_seed${files}_${i + 1}`;
            const sandbox = await provider.create({ labels: { bench: "seed-sync" } });
            const now = new Date().toISOString();
            h.records.set(id, { provider: provider.name, sandboxId: sandbox.id, createdAt: now, lastUsedAt: now });
            h.sandboxes.set(id, sandbox);
          },
          run: async (i) => {
            const id = `ses_seed${files}_${i + 1}`;
            const raw = h.sandboxes.get(id)!;
            const counting: Sandbox = Object.create(raw, {
              writeFile: { value: (p: string, d: Uint8Array | string) => ((seededBytes = Buffer.byteLength(d)), raw.writeFile(p, d)) },
            });
            const fields = await h.seeder.seed(counting, { sessionID: id, record: h.records.get(id)!, recreated: false });
            h.records.set(id, { ...h.records.get(id)!, ...fields, seededAt: new Date().toISOString() });
          },
          after: async (i) => {
            const id = `ses_seed${files}_${i + 1}`;
            if (!kept) return void (kept = id);
            await provider.delete(h.sandboxes.get(id)!.id);
            h.sandboxes.delete(id);
          },
        },
        { warmup: 0 },
      );
      const seedRow = seedTable.compare(name, seed.subject, { label: "bundle --all", samples: seed.baseline });
      seedBytes.row([name, fmtKiB(seededBytes), fmtKiB(allBytes), `${(seededBytes / allBytes).toFixed(2)}×`, fmtKiB(repo.bytes)]);
      seedPoints.push({ files, what: "seed", ms: seedRow.subject.median }, { files, what: "git bundle create --all", ms: seedRow.baseline!.median });

      // ---- one-file change, both kinds
      const id = kept!;
      const sandbox = h.sandboxes.get(id)!;
      const syncRuns = ctx.runs(20, 2);
      let prev = await git(a, "rev-parse", "HEAD");
      const fetchBytes: number[] = [];
      const plainSide = (change: Change, commit: "timed" | "untimed") => ({
        setup: async (i: number) => {
          prev = await git(a, "rev-parse", "HEAD");
          await sh(a, change.script(repo, i));
          if (commit === "untimed") await sh(a, "git add -A && git commit -q -m change");
        },
        run: async () => {
          if (commit === "timed") await sh(a, "git add -A && git commit -q -m change");
          await git(b, "fetch", "-q", a, "+main:refs/remotes/a/main");
        },
        after: async (i: number) => {
          const out = join(work, `fetch-${i}.bundle`);
          await git(a, "bundle", "create", "-q", out, "main", `^${prev}`);
          fetchBytes.push((await stat(out)).size);
          await rm(out);
        },
      });
      const syncBytes: number[] = [];
      const phases: { sandbox: number; download: number; host: number }[] = [];
      const syncSide = (change: Change, commit: "sync" | "agent") => ({
        setup: (i: number) =>
          sandbox.exec(
            change.script(repo, i) +
              (commit === "agent" ? " && git -c safe.directory='*' add -A && git -c safe.directory='*' -c user.name=agent -c user.email=agent@example.com commit -q -m change" : ""),
          ).then((r) => {
            if (r.exitCode !== 0) throw new Error(`making the change in the sandbox failed: ${r.output}`);
          }),
        run: async () => {
          const r = await h.synced(id);
          syncBytes.push(r.bytes);
          phases.push(r.ms);
        },
      });
      for (const kind of ["uncommitted", "committed"] as const) {
        ctx.progress(`${name}: one-file change, ${kind}`);
        fetchBytes.length = syncBytes.length = phases.length = 0;
        const one = editFiles(1);
        const pair = await interleavedSteps(syncRuns, plainSide(one, kind === "uncommitted" ? "timed" : "untimed"), syncSide(one, kind === "uncommitted" ? "sync" : "agent"));
        const label = kind === "uncommitted" ? "add + commit + fetch" : "fetch";
        const row = syncTable.compare(`${name}, ${kind === "uncommitted" ? "left uncommitted (sync commits)" : "committed by the agent"}`, pair.subject, { label, samples: pair.baseline }, { target: { kind: "ratio", max: 2 } });
        syncPoints.push({ files, what: `sync, ${kind}`, ms: row.subject.median }, { files, what: label, ms: row.baseline!.median });
        const med = (f: (p: (typeof phases)[number]) => number) => summarize(phases.slice(-syncRuns).map(f)).median;
        phaseTable.row([name, kind, ms(med((p) => p.sandbox)), ms(med((p) => p.download)), ms(med((p) => p.host)), ms(row.subject.median)]);
      }

      // ---- change size
      if (files === changeRepo) {
        for (const change of changes) {
          ctx.progress(`${name}: ${change.label}`);
          fetchBytes.length = syncBytes.length = phases.length = 0;
          const pair = await interleavedSteps(ctx.runs(10, 2), plainSide(change, "timed"), syncSide(change, "sync"));
          const row = changeTable.compare(change.label, pair.subject, { label: "add + commit + fetch", samples: pair.baseline }, { target: { kind: "ratio", max: 2 } });
          const sb = summarize(syncBytes.slice(-pair.subject.length)).median;
          const fb = summarize(fetchBytes.slice(-pair.baseline.length)).median;
          changeBytes.row([change.label, fmtKiB(change.bytes), fmtKiB(sb), fmtKiB(fb), `${(sb / change.bytes).toFixed(2)}×`, `${(sb / fb).toFixed(2)}×`]);
          changePoints.push({ change: change.bytes, what: "sync", ms: row.subject.median }, { change: change.bytes, what: "add + commit + fetch", ms: row.baseline!.median });
          changeBytePoints.push({ change: change.bytes, what: "sync bundle", bytes: sb }, { change: change.bytes, what: "plain fetch", bytes: fb }, { change: change.bytes, what: "new content", bytes: change.bytes });
        }
      }
      for (const sb of h.sandboxes.values()) await provider.delete(sb.id).catch(() => {});
      await rm(a, { recursive: true, force: true });
      await rm(b, { recursive: true, force: true });
      await rm(repo.dir, { recursive: true, force: true });
    }
  } finally {
    for (const info of await provider.list({}).catch(() => [])) await provider.delete(info.id).catch(() => {});
    await provider.dispose().catch(() => {});
    await rm(work, { recursive: true, force: true });
  }

  const logX = (field: string, title: string) => ({ field, type: "quantitative", title, scale: { type: "log" } });
  const lines = (id: string, title: string, values: Record<string, unknown>[], x: object, y: object) =>
    s.chart({ id, title, spec: { data: { values }, mark: { type: "line", point: true }, encoding: { x, y, color: { field: "what", type: "nominal", title: null } } } });
  lines("seed-time", "Seed time by repository size (median)", seedPoints, logX("files", "files"), { field: "ms", type: "quantitative", title: "ms" });
  lines("sync-one-file", "One-file sync by repository size (median)", syncPoints, logX("files", "files"), { field: "ms", type: "quantitative", title: "ms" });
  lines("sync-change-time", "Sync time by change size (median)", changePoints, logX("change", "bytes of new content"), { field: "ms", type: "quantitative", title: "ms" });
  lines("sync-change-bytes", "Bytes carried by change size (median)", changeBytePoints, logX("change", "bytes of new content"), { ...logX("bytes", "bytes carried") });
  s.note(
    "The one-file rows compare like with like: a change left uncommitted is committed by sync inside the sandbox, so its baseline commits too (git add -A + commit + fetch); " +
      "a change the agent committed is compared with the fetch alone. A sync also runs the size-budget check (git/quarantine.ts), moves the branch and talks to the sandbox over its channel.",
  );
  return s.done();
}

function fmtKiB(bytes: number): string {
  return `${(bytes / 1024).toLocaleString("en-US", { maximumFractionDigits: 1 })} KiB`;
}
function ms(n: number): string {
  return `${n.toFixed(1)} ${MS.name}`;
}
