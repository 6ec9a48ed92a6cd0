/**
 * Tool calls inside real OpenCode: the plugin (local sandbox) against OpenCode's
 * built-ins on the same project, one `opencode serve` each, in interleaved rounds (who
 * goes first alternates). A round is one new session on each side: a first call (on the
 * plugin's side it makes the session's sandbox), then every tool several times — read,
 * write, edit, glob, grep, bash with the scripted model, apply_patch in a second turn
 * with a gpt-* model (OpenCode offers apply_patch only to those). Each call's time is its
 * tool part's end − start as OpenCode recorded it: the tool's own work, no model round
 * trip. Then the first call of a session on generated 1,000- and 10,000-file
 * repositories, where the plugin's first call seeds the sandbox with the repository.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Step } from "../harness/model-server.js";
import { Workbench, type Served } from "../harness/opencode.js";
import type { BenchContext } from "./lib/context.js";
import { SectionBuilder } from "./lib/section.js";
import { summarize } from "./lib/stats.js";
import { generateRepo } from "./support/gen-repo.js";
import { clientFor, deleteSession, GPT, newSession, offerBothModels, toolTimes, turn, unmountUnder } from "./support/served.js";

const TOOLS = ["read", "write", "edit", "glob", "grep", "bash", "apply_patch"] as const;
type Side = "builtin" | "plugin";
const SIDES: Side[] = ["builtin", "plugin"];

const FILES: Record<string, string> = { "README.md": "# bench\n" };
for (let i = 0; i < 200; i++) FILES[`src/mod${i % 10}/file${i}.ts`] = `export const value${i} = ${i};\n// TODO item ${i}\n`.repeat(20);

const bash = (command: string): Step => ({ tool: "bash", args: { command, description: "bench" } });
const FIRST = bash("true");

/** Turn 1 (scripted model): the first call, then read…bash `perTool` times each. */
function mainTurn(project: string, round: number, perTool: number): Step[] {
  const counter = join(project, `counter-${round}.txt`);
  const steps: Step[] = [FIRST, { tool: "write", args: { filePath: counter, content: "v0\n" } }, { tool: "write", args: { filePath: join(project, `patched-${round}.txt`), content: "p0\n" } }];
  for (let i = 0; i < perTool; i++) {
    steps.push({ tool: "read", args: { filePath: join(project, `src/mod${i % 10}/file${i}.ts`) } });
    steps.push({ tool: "write", args: { filePath: join(project, `out/r${round}-${i}.txt`), content: `round ${round} call ${i}\n` } });
    steps.push({ tool: "edit", args: { filePath: counter, oldString: `v${i}`, newString: `v${i + 1}` } });
    steps.push({ tool: "glob", args: { pattern: "**/*.ts" } });
    steps.push({ tool: "grep", args: { pattern: `TODO item ${i}\\d` } });
    steps.push(bash("ls src | wc -l"));
  }
  return [...steps, { text: "done" }];
}

/** Turn 2 (gpt-* model): apply_patch `perTool` times on the file turn 1 made. */
function patchTurn(round: number, perTool: number): Step[] {
  const steps: Step[] = [];
  for (let i = 0; i < perTool; i++)
    steps.push({ tool: "apply_patch", args: { patchText: `*** Begin Patch\n*** Update File: patched-${round}.txt\n@@\n-p${i}\n+p${i + 1}\n*** End Patch` } });
  return [...steps, { text: "done" }];
}

/** Alternates which side goes first, so drift in the machine's load hits both. */
async function interleave(i: number, fn: (side: Side) => Promise<void>): Promise<void> {
  for (const side of i % 2 ? [...SIDES].reverse() : SIDES) await fn(side);
}

export default async function (ctx: BenchContext) {
  const rounds = ctx.runs(5, 1);
  const perTool = ctx.runs(4, 1);
  // Extra one-call sessions, so the first-call row rests on as many runs as the tools.
  const firstOnly = ctx.runs(10, 0);
  const repoSizes = ctx.smoke ? [1000] : [1000, 10_000];
  const repoSessions = ctx.runs(4, 1);

  const section = new SectionBuilder(
    "opencode-tools",
    "Tool calls inside real OpenCode",
    "Real OpenCode (`opencode serve`) with the scripted model, the plugin on the local provider against OpenCode's own tools (the plugin left out of opencode.json) on the same project of 200 files, interleaved. A call's time is the tool part's end − start as OpenCode records it: the tool's work, without the model's round trip.",
  );
  const work = await mkdtemp(join(tmpdir(), "bench-oc-tools-"));
  const benches = {} as Record<Side, Workbench>;
  const served = {} as Record<Side, Served>;
  try {
    await Promise.all(
      SIDES.map(async (side) => {
        benches[side] = await Workbench.create({ ...(side === "builtin" ? { plugin: false } : {}), files: FILES, prefix: `bench-oc-${side}-` });
        offerBothModels(benches[side]);
        served[side] = await benches[side].serve({ timeoutMs: 120_000 });
      }),
    );

    // Warm-up: OpenCode's first prompt in a directory loads what later ones reuse.
    for (const side of SIDES) {
      const id = await newSession(served[side].client, "warm-up");
      await turn(served[side], id, [FIRST, { text: "ok" }]);
      await deleteSession(served[side], id);
    }

    const times = { builtin: {}, plugin: {} } as Record<Side, Record<string, number[]>>;
    const first = { builtin: [], plugin: [] } as Record<Side, number[]>;
    for (let r = 0; r < rounds; r++) {
      await interleave(r, async (side) => {
        const s = served[side];
        const id = await newSession(s.client, `round ${r}`);
        await turn(s, id, mainTurn(s.bench.project, r, perTool));
        await turn(s, id, patchTurn(r, perTool), { modelID: GPT });
        const calls = await toolTimes(s.client, id);
        first[side].push(calls[0]!.ms);
        for (const c of calls.slice(1)) (times[side][c.tool] ??= []).push(c.ms);
        await deleteSession(s, id);
      });
      ctx.progress(`round ${r + 1}/${rounds}`);
    }
    for (let i = 0; i < firstOnly; i++) {
      await interleave(i, async (side) => {
        const s = served[side];
        const id = await newSession(s.client, `first ${i}`);
        await turn(s, id, [FIRST, { text: "ok" }]);
        first[side].push((await toolTimes(s.client, id))[0]!.ms);
        await deleteSession(s, id);
      });
    }
    ctx.progress(`first calls: ${first.plugin.length}`);

    const perCall = section.table(`Per call, after the session's first (${rounds} sessions × ${perTool} calls of each tool)`);
    for (const tool of TOOLS) perCall.compare(tool, times.plugin[tool] ?? [], { label: "built-in", samples: times.builtin[tool] ?? [] }, { target: { kind: "over", max: 10 } });
    const firstTable = section.table("First tool call of a session (bash `true`; the plugin's makes the session's sandbox and seeds it)");
    firstTable.compare("200-file project", first.plugin, { label: "built-in", samples: first.builtin }, { target: { kind: "over", max: 300 } });

    // The same servers serve the generated repositories too (a client per directory).
    const growth: { files: number; side: string; ms: number }[] = [
      { files: 200, side: "built-in", ms: summarize(first.builtin).median },
      { files: 200, side: "plugin", ms: summarize(first.plugin).median },
    ];
    for (const files of repoSizes) {
      const repo = await generateRepo(join(work, `repo-${files}`), files);
      const samples = { builtin: [], plugin: [] } as Record<Side, number[]>;
      for (let i = 0; i < repoSessions; i++) {
        await interleave(i, async (side) => {
          const s = served[side];
          const client = clientFor(s, repo.dir);
          const id = await newSession(client, `repo ${files} ${i}`);
          await turn(s, id, [FIRST, { text: "ok" }], { client, timeoutMs: 300_000 });
          samples[side].push((await toolTimes(client, id))[0]!.ms);
          await deleteSession(s, id, client);
        });
      }
      const c = firstTable.compare(`${files.toLocaleString("en-US")}-file repository (${(repo.bytes / 2 ** 20).toFixed(1)} MiB, ${repo.commits} commits)`, samples.plugin, { label: "built-in", samples: samples.builtin });
      growth.push({ files, side: "built-in", ms: c.baseline!.median }, { files, side: "plugin", ms: c.subject.median });
      ctx.progress(`first call on ${files} files done`);
    }
    section.chart({
      id: "opencode-first-call",
      title: "First tool call of a session by repository size (median)",
      spec: {
        data: { values: growth },
        mark: { type: "line", point: true },
        encoding: {
          x: { field: "files", type: "quantitative", scale: { type: "log" }, title: "files in the repository" },
          y: { field: "ms", type: "quantitative", title: "ms" },
          color: { field: "side", type: "nominal", title: "" },
        },
      },
    });
    section.note(
      "The plugin's first call of a session starts the session's sandbox and seeds it with the repository (its commits and the uncommitted work); OpenCode's built-in runs on the host and has nothing to start. Each session is deleted after its run and the next starts only once its sandbox is gone, so no background work (the sync at idle, the removal) overlaps a measurement.",
    );
    return section.done();
  } finally {
    for (const side of SIDES) {
      await benches[side]?.stopChildren();
      if (benches[side]) unmountUnder(benches[side].root); // last resort: a disk of ours left mounted
      await benches[side]?.dispose();
    }
    await rm(work, { recursive: true, force: true });
  }
}
