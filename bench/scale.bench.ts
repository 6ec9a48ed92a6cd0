/**
 * Scale: N sessions at once inside one real `opencode serve` (harness/load.ts: each
 * session 20 tool calls over write/edit/read/bash/glob/grep, several in parallel), with the
 * plugin — each session makes its sandbox, works in it and syncs to its branch — against
 * OpenCode without the plugin running the same sessions with its built-ins. Total time,
 * failures, and memory: the PSS of OpenCode's whole process tree (OpenCode and every
 * descendant: a local sandbox's bubblewrap, its agent and their children), sampled during
 * the run, peak. Local for N = 1, 20, 50; Daytona through the stand-in for 20 (its
 * sandboxes live in the stand-in, not under OpenCode, as a real Daytona's are remote).
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { runLoad, type LoadRun } from "../harness/load.js";
import { waitFor, Workbench } from "../harness/opencode.js";
import { startDaytonaStandin, type DaytonaStandin } from "../test/standin/daytona/index.js";
import type { BenchContext } from "./lib/context.js";
import { COUNT, SectionBuilder } from "./lib/section.js";
import { samplePss, unmountUnder } from "./support/served.js";

const LATENCY_MS = 30;
const BOUND_MS = 1_200_000; // a hang, not a time

/** builtin: OpenCode as it ships, without the plugin; bare: the same with its snapshots off, as the plugin leaves it. */
type Side = "builtin" | "bare" | "local" | "daytona";
const baseline = (side: Side) => side === "builtin" || side === "bare";

interface Result {
  side: Side;
  sessions: number;
  /** Load start → every session idle. */
  idleS: number;
  /** Load start → every session's work on its branch (the plugin's sides; = idleS without it). */
  doneS: number;
  /** Peak PSS of OpenCode's process tree, MiB. */
  peakMib: number;
  /** PSS of the tree once serving, before the load, MiB. */
  restMib: number;
  failures: number;
  firstErrors: string[];
}

const sandboxDirs = (b: Workbench) => (existsSync(b.sandboxesDir()) ? readdirSync(b.sandboxesDir()).filter((d) => d.startsWith("sb-")) : []);

/** The session's branch holds every file its script made, with its content. */
function synced(bench: Workbench, sessionID: string, files: Record<string, string>): boolean {
  const n = bench.state().sessions[sessionID]?.branchNumber;
  if (n === undefined) return false;
  try {
    return Object.entries(files).every(([path, content]) => execFileSync("git", ["show", `opencode/${n}:${path}`], { cwd: bench.project, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }) === content);
  } catch {
    return false;
  }
}

async function once(ctx: BenchContext, side: Side, sessions: number, standin?: DaytonaStandin): Promise<Result> {
  const bench = await Workbench.create({
    prefix: `bench-scale-${side}-`,
    ...(baseline(side) ? { plugin: false } : {}),
    ...(side === "bare" ? { config: { snapshot: false } } : {}),
    ...(side === "daytona" ? { options: { provider: "daytona" }, env: { DAYTONA_API_KEY: standin!.apiKey, DAYTONA_API_URL: standin!.apiUrl, DAYTONA_TARGET: "us" } } : {}),
  });
  try {
    const served = await bench.serve({ timeoutMs: 120_000 });
    const pid = served.child.pid!;
    const rest = samplePss(pid).stop().peak;
    const pss = samplePss(pid, 500);
    let peak = 0;
    const t0 = performance.now();
    let run: LoadRun;
    let doneMs: number;
    const unsynced = new Set<number>();
    try {
      run = await runLoad(served, { sessions, timeoutMs: BOUND_MS, pollMs: 100 });
      doneMs = run.ms;
      if (!baseline(side)) {
        const waiting = new Map(run.outcomes.filter((o) => o.ok).map((o) => [o.sessionID!, o.files]));
        await waitFor(
          () => {
            for (const [id, files] of waiting) if (synced(bench, id, files)) waiting.delete(id);
            return waiting.size === 0;
          },
          BOUND_MS,
          100,
        );
        doneMs = performance.now() - t0;
        for (const o of run.outcomes) if (waiting.has(o.sessionID!)) unsynced.add(o.index);
      }
    } finally {
      peak = pss.stop().peak;
    }
    const failed = run.outcomes.filter((o) => !o.ok || unsynced.has(o.index));
    const result: Result = {
      side,
      sessions,
      idleS: run.ms / 1000,
      doneS: doneMs / 1000,
      peakMib: peak / 2 ** 20,
      restMib: rest / 2 ** 20,
      failures: failed.length,
      firstErrors: failed.slice(0, 3).map((o) => `session ${o.index}: ${o.error ?? "its work never reached its branch"}`),
    };
    ctx.progress(`${side} × ${sessions}: ${result.doneS.toFixed(1)} s, peak ${result.peakMib.toFixed(0)} MiB, ${result.failures} failed`);

    // Untimed clean-up the product's way: deleting a session removes its sandbox.
    if (!baseline(side)) {
      await Promise.all(run.outcomes.filter((o) => o.sessionID).map((o) => served.client.session.delete({ path: { id: o.sessionID! } })));
      await waitFor(() => sandboxDirs(bench).length === 0, 600_000, 200);
    }
    await served.stop(120_000);
    return result;
  } finally {
    await bench.stopChildren();
    unmountUnder(bench.root); // last resort: a disk of ours left mounted
    await bench.dispose();
  }
}

export default async function (ctx: BenchContext) {
  const counts = ctx.smoke ? [2] : [1, 20, 50];
  const daytonaCount = ctx.smoke ? 2 : 20;
  const section = new SectionBuilder(
    "scale",
    "Scale: concurrent sessions in one OpenCode",
    `N sessions at once inside one \`opencode serve\` (harness/load.ts: each session 20 tool calls in 9 turns over write, edit, read, bash, glob and grep, several in parallel), with the plugin — each session makes its own sandbox, works in it and syncs to its branch \`opencode/<N>\` — against OpenCode without the plugin running the same sessions with its built-ins. One run per cell. Memory is the PSS of OpenCode's whole process tree (OpenCode and every descendant — on the local provider each sandbox's bubblewrap, agent and commands), summed from /proc/<pid>/smaps_rollup every 0.5 s during the run: the peak.`,
  );
  const results: Result[] = [];
  const at: Record<"builtin" | "bare", Record<number, Result>> = { builtin: {}, bare: {} };
  const sides: Side[] = ["builtin", "bare", "local"];
  for (const [i, n] of counts.entries()) {
    // Rotated, so that no side always runs first (or last) on a machine that drifts.
    for (const side of [...sides.slice(i % 3), ...sides.slice(0, i % 3)]) {
      const r = await once(ctx, side, n);
      results.push(r);
      if (side === "builtin" || side === "bare") at[side][n] = r;
    }
  }
  for (const side of ["builtin", "bare"] as const) if (!at[side][daytonaCount]) at[side][daytonaCount] = await once(ctx, side, daytonaCount);
  let standin: DaytonaStandin | undefined;
  try {
    standin = await startDaytonaStandin({ daemon: "shell" });
    standin.faults.add({ fault: { delayMs: LATENCY_MS }, times: Infinity });
    results.push(await once(ctx, "daytona", daytonaCount, standin));
  } finally {
    await standin?.close();
  }

  const labels: Record<Side, string> = {
    builtin: "without the plugin (as shipped)",
    bare: "without the plugin, snapshots off",
    local: "plugin, local",
    daytona: `plugin, Daytona stand-in (+${LATENCY_MS} ms a request)`,
  };
  const label = (r: Result) => labels[r.side];
  const against = (r: Result, b: Result | undefined) =>
    b ? `${(r.doneS / b.idleS).toFixed(2)}×, ${(r.peakMib / b.peakMib).toFixed(2)}× (${r.peakMib >= b.peakMib ? "+" : ""}${((r.peakMib - b.peakMib) / r.sessions).toFixed(0)} MiB a session)` : "—";
  const table = section.table("Sessions at once: time, memory, failures", [
    "sessions",
    "OpenCode",
    "all idle",
    "all synced to their branches",
    "peak PSS of the process tree",
    "PSS at rest",
    "failures",
    "vs as shipped (time, peak PSS)",
    "vs snapshots off (time, peak PSS)",
  ]);
  for (const r of results) {
    table.row([
      String(r.sessions),
      label(r),
      `${r.idleS.toFixed(1)} s`,
      baseline(r.side) ? "—" : `${r.doneS.toFixed(1)} s`,
      `${r.peakMib.toFixed(0)} MiB`,
      `${r.restMib.toFixed(0)} MiB`,
      String(r.failures),
      baseline(r.side) ? "—" : against(r, at.builtin[r.sessions]),
      baseline(r.side) ? "—" : against(r, at.bare[r.sessions]),
    ]);
  }
  const failures = section.table("Failures (target: none)");
  for (const r of results.filter((r) => !baseline(r.side))) failures.compare(`${label(r)}, ${r.sessions} sessions`, [r.failures], undefined, { unit: COUNT, target: { kind: "atMost", max: 0 } });
  for (const r of results) if (r.firstErrors.length) section.note(`${label(r)}, ${r.sessions} sessions — ${r.failures} failed, e.g. ${r.firstErrors.join("; ")}`);

  const points = results.filter((r) => r.side !== "daytona").map((r) => ({ sessions: r.sessions, OpenCode: label(r), seconds: +(baseline(r.side) ? r.idleS : r.doneS).toFixed(2), MiB: +r.peakMib.toFixed(0) }));
  const line = (y: string, title: string) => ({
    data: { values: points },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "sessions", type: "quantitative", title: "sessions at once" },
      y: { field: y, type: "quantitative", title },
      color: { field: "OpenCode", type: "nominal", title: "" },
    },
  });
  section.chart({ id: "scale-time", title: "Time for N sessions at once (local; with the plugin: until every branch holds its work)", spec: line("seconds", "seconds") });
  section.chart({ id: "scale-memory", title: "Peak PSS of OpenCode's process tree, N sessions at once (local)", spec: line("MiB", "MiB") });
  section.note(
    `Time "all synced" runs from the first session created to the last session's work on its branch (the plugin syncs each at its idle, after the 300 ms debounce); OpenCode without the plugin has nothing to sync, so its row compares with its "all idle". A sandbox's files on a root machine live on a loop-mounted disk image, whose page cache is no process's PSS; a tmpfs's pages are counted only while mapped.`,
  );
  section.note(
    "The plugin turns OpenCode's own snapshots off (they track the host checkout, which the agent no longer changes; each step of each session ran a `git add` of the project). So the plugin's rows are compared twice: with OpenCode as it ships, snapshots on, which is what a user without the plugin runs, and with the same OpenCode with snapshots off, which isolates the plugin's own cost.",
  );
  section.note(`The Daytona stand-in's sandboxes run in the benchmark's own process (the stand-in serves them locally), so its row's PSS is OpenCode's and the SDK's alone, as with a real, remote Daytona; the stand-in takes at least 1 s to make a sandbox (its "creating" state).`);
  return section.done();
}
