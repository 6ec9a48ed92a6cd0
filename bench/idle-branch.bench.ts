/**
 * Idle → branch inside real OpenCode: from the session going idle (its `session.idle` /
 * `session.status` idle event in `opencode serve`'s event stream) to `opencode/<N>`
 * moving in the host repository, on the host's clock, with the plugin's default options
 * (the provider apart). Each run is one more turn of the same session writing one file;
 * the session's first turn (it makes the sandbox and the branch) is left out. Local
 * provider, then Daytona through the stand-in with a fixed latency added to every request.
 */
import { execFileSync } from "node:child_process";
import { Workbench, type Served } from "../harness/opencode.js";
import { startDaytonaStandin, type DaytonaStandin } from "../test/standin/daytona/index.js";
import type { BenchContext } from "./lib/context.js";
import { SectionBuilder, type TableBuilder } from "./lib/section.js";
import { deleteSession, newSession, turn, unmountUnder, watchRef } from "./support/served.js";

/** Added to every request the stand-in answers: a modest network round trip. */
const LATENCY_MS = 30;
const BRANCH = "opencode/1";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const gitOk = (cwd: string, ...args: string[]) => {
  try {
    execFileSync("git", args, { cwd, stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

interface Measured {
  samples: number[];
  /** Turn start → idle seen, for the note (what a turn costs beside the sync). */
  turns: number[];
}

async function measure(ctx: BenchContext, served: Served, runs: number, label: string): Promise<Measured> {
  const bench = served.bench;
  const idleAt = new Map<string, number>();
  let watching: string | undefined;
  const events = await served.events((e) => {
    const id = e.properties?.sessionID as string | undefined;
    const idle = e.type === "session.idle" || (e.type === "session.status" && e.properties.status?.type === "idle");
    if (idle && id !== undefined && id === watching && !idleAt.has(id)) idleAt.set(id, performance.now());
  });
  try {
    const id = await newSession(served.client, "idle-branch");
    const write = (i: number) => ({ tool: "write", args: { filePath: `${bench.project}/idle-${i}.txt`, content: `turn ${i}\n` } });
    const out: Measured = { samples: [], turns: [] };
    const ref = watchRef(bench.project, BRANCH);
    try {
      for (let i = -1; i < runs; i++) {
        idleAt.delete(id);
        watching = id;
        const seen = ref.changes.length;
        const started = performance.now();
        await turn(served, id, [write(i), { text: "ok" }]);
        // The first value the branch takes that holds this turn's file (the branch may also
        // move earlier: it is made when the sandbox is seeded). The bound only catches a hang.
        const holds = (commit: string | undefined) => !!commit && gitOk(bench.project, "cat-file", "-e", `${commit}:idle-${i}.txt`);
        let moved: { at: number } | undefined;
        const end = performance.now() + 120_000;
        for (let next = seen; !moved && performance.now() < end; ) {
          for (; next < ref.changes.length && !moved; next++) if (holds(ref.changes[next]!.commit)) moved = ref.changes[next];
          if (!moved) await sleep(5);
        }
        // On a loaded machine the event may trail the prompt's answer: wait for it (bounded).
        for (const t = performance.now(); !idleAt.has(id) && performance.now() - t < 30_000; ) await sleep(5);
        const idle = idleAt.get(id);
        if (!moved) throw new Error(`${label}: ${BRANCH} did not take turn ${i}'s file within 120 s\n${bench.pluginLog().slice(-4000)}`);
        if (idle === undefined) throw new Error(`${label}: no idle event for turn ${i} before ${BRANCH} took its file`);
        if (i >= 0) {
          out.samples.push(moved.at - idle);
          out.turns.push(idle - started);
        }
      }
    } finally {
      ref.stop();
    }
    ctx.progress(`${label}: ${runs} runs`);
    await deleteSession(served, id); // the plugin removes its sandbox (and, as root, unmounts its disk)
    return out;
  } finally {
    events.stop();
  }
}

function row(table: TableBuilder, name: string, m: Measured, max: number) {
  return table.compare(name, m.samples, undefined, { target: { kind: "atMost", max } });
}

export default async function (ctx: BenchContext) {
  const runs = ctx.runs(20, 2);
  const section = new SectionBuilder(
    "idle-branch",
    "Idle → branch",
    `From a session going idle (its idle event in \`opencode serve\`'s event stream, as the bench process receives it) to \`${BRANCH}\` moving in the host repository (its ref read from the files every 2 ms), on the host's clock, inside real OpenCode with the plugin's default options (sync debounce 300 ms). Each run is one more turn of the same session writing one file; the first turn of the session (it makes the sandbox and the branch) is left out.`,
  );
  const table = section.table("Idle → branch updated", ["", "baseline", "measured", "difference", "ratio", "runs", "target"]);

  let local: Measured;
  {
    const bench = await Workbench.create({ prefix: "bench-idle-local-" });
    try {
      const served = await bench.serve({ timeoutMs: 120_000 });
      local = await measure(ctx, served, runs, "local");
      await served.stop();
    } finally {
      await bench.stopChildren();
      unmountUnder(bench.root);
      await bench.dispose();
    }
  }
  const l = row(table, "local provider", local, 1000);

  let standin: DaytonaStandin | undefined;
  let daytona: Measured;
  try {
    standin = await startDaytonaStandin({ daemon: "shell" });
    standin.faults.add({ fault: { delayMs: LATENCY_MS }, times: Infinity });
    const bench = await Workbench.create({
      prefix: "bench-idle-daytona-",
      options: { provider: "daytona" },
      env: { DAYTONA_API_KEY: standin.apiKey, DAYTONA_API_URL: standin.apiUrl, DAYTONA_TARGET: "us" },
    });
    try {
      const served = await bench.serve({ timeoutMs: 120_000 });
      const seen = standin.requests.length;
      daytona = await measure(ctx, served, runs, "daytona");
      section.note(`Daytona: ${((standin.requests.length - seen) / (runs + 1)).toFixed(1)} stand-in requests per turn on average (a write, the sync and whatever the SDK adds), each delayed ${LATENCY_MS} ms.`);
      await served.stop();
    } finally {
      await bench.dispose();
    }
  } finally {
    await standin?.close();
  }
  const d = row(table, `Daytona through the stand-in (+${LATENCY_MS} ms a request)`, daytona, 2000);

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  section.note(
    `Of each median, 300 ms is the default debounce (\`sync.debounceMs\`: the sync waits that long after idle in case the session works again); the rest is the sync itself: local ${(l.subject.median - 300).toFixed(0)} ms, Daytona ${(d.subject.median - 300).toFixed(0)} ms. For scale, a turn (prompt sent → idle) took ${median(local.turns).toFixed(0)} ms local, ${median(daytona.turns).toFixed(0)} ms on Daytona.`,
  );
  section.note("The idle event reaches the bench through the server's event stream a little after the plugin sees it in-process, so the figures may understate by that delivery time (milliseconds).");
  return section.done();
}
