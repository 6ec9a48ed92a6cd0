/**
 * Per-call time of each overridden tool inside real OpenCode (prints, never asserts).
 * Run: npm run bench -- tools   (or npx tsx bench/tools.bench.ts)
 *
 * The same scripted calls are answered by the built-ins (plugin off, on the host) and
 * by the plugin (local sandbox), in interleaved rounds of `opencode run`; each call's
 * time is its tool part's state.time end − start as OpenCode records it. The first
 * call of every run is left out on both sides (on the plugin's side it includes
 * starting the session's sandbox) and reported separately.
 * Targets (issue 4): read/write/edit/glob/grep ≤ built-in + 10 ms median; bash ≤ built-in + 15 ms.
 * Env: BENCH_ROUNDS (default 5), BENCH_PER_TOOL (calls per tool per round, default 4).
 */
import { join } from "node:path";
import type { Step } from "../test/e2e/support/model-server.js";
import { Workbench } from "../test/e2e/support/opencode.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PER_TOOL = Number(process.env.BENCH_PER_TOOL ?? 4);
const TOOLS = ["read", "write", "edit", "glob", "grep", "bash"] as const;
const TARGET_MS: Record<string, number> = { read: 10, write: 10, edit: 10, glob: 10, grep: 10, bash: 15 };

const files: Record<string, string> = { "README.md": "# bench\n" };
for (let i = 0; i < 200; i++) files[`src/mod${i % 10}/file${i}.ts`] = `export const value${i} = ${i};\n// TODO item ${i}\n`.repeat(20);

function script(project: string, round: number): Step[] {
  const steps: Step[] = [{ tool: "bash", args: { command: "true", description: "warm up" } }];
  const counter = join(project, `counter-${round}.txt`);
  steps.push({ tool: "write", args: { filePath: counter, content: "v0\n" } });
  for (let i = 0; i < PER_TOOL; i++) {
    steps.push({ tool: "read", args: { filePath: join(project, `src/mod${i}/file${i}.ts`) } });
    steps.push({ tool: "write", args: { filePath: join(project, `out/r${round}-${i}.txt`), content: `round ${round} call ${i}\n` } });
    steps.push({ tool: "edit", args: { filePath: counter, oldString: `v${i}`, newString: `v${i + 1}` } });
    steps.push({ tool: "glob", args: { pattern: "**/*.ts" } });
    steps.push({ tool: "grep", args: { pattern: `TODO item ${i}\\d` } });
    steps.push({ tool: "bash", args: { command: "ls src | wc -l", description: "count" } });
  }
  steps.push({ text: "done" });
  return steps;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : NaN;
};

type Times = Record<string, number[]>;

async function round(bench: Workbench, n: number, times: Times, first: number[]) {
  bench.model.set(script(bench.project, n));
  const r = await bench.run(`round ${n}`, { timeoutMs: 180_000 });
  const parts = r.events.filter((e) => e.type === "tool_use").map((e) => e.part);
  for (const [i, part] of parts.entries()) {
    if (part.state.status !== "completed") throw new Error(`${part.tool} failed: ${part.state.error ?? JSON.stringify(part.state).slice(0, 300)}`);
    const ms = part.state.time.end - part.state.time.start;
    if (i === 0) first.push(ms);
    else (times[part.tool] ??= []).push(ms);
  }
}

async function main() {
  const builtin = await Workbench.create({ plugin: false, files });
  const plugin = await Workbench.create({ files });
  const t = { builtin: {} as Times, plugin: {} as Times };
  const first = { builtin: [] as number[], plugin: [] as number[] };
  try {
    for (let n = 0; n < ROUNDS; n++) {
      // Interleaved, alternating who goes first, so drift in machine load hits both sides.
      const order = n % 2 ? (["plugin", "builtin"] as const) : (["builtin", "plugin"] as const);
      for (const side of order) await round(side === "plugin" ? plugin : builtin, n, t[side], first[side]);
      process.stdout.write(".");
    }
  } finally {
    await builtin.dispose();
    await plugin.dispose();
  }
  console.log(`\n\nper-call time inside OpenCode, medians of ${ROUNDS} rounds × ${PER_TOOL} calls per tool (200-file project)`);
  console.log("tool     built-in   plugin    +ms      ratio   target");
  for (const tool of TOOLS) {
    const b = median(t.builtin[tool] ?? []);
    const p = median(t.plugin[tool] ?? []);
    const met = p - b <= TARGET_MS[tool]! ? "met" : "MISSED";
    console.log(
      `${tool.padEnd(8)} ${b.toFixed(1).padStart(7)} ms ${p.toFixed(1).padStart(7)} ms ${(p - b).toFixed(1).padStart(6)} ${(p / b).toFixed(2).padStart(6)}×   ≤ +${TARGET_MS[tool]} ms ${met}`,
    );
  }
  console.log(`first call of a run (plugin: includes starting the sandbox): built-in ${median(first.builtin).toFixed(1)} ms, plugin ${median(first.plugin).toFixed(1)} ms`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
