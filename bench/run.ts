/**
 * `npm run bench [-- --smoke] [-- name…]`: runs every bench/*.bench.ts (or those whose
 * file name contains one of the names), one after another, each in its own process,
 * and writes the report: BENCHMARKS.md and bench/charts/*.svg for a full run of every
 * benchmark, bench/out/smoke/ or bench/out/partial/ otherwise.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { parseArgs } from "node:util";
import { chartSvg } from "./lib/chart.js";
import { describeMachine } from "./lib/machine.js";
import { renderReport, type Failed } from "./lib/report.js";
import type { Section } from "./lib/section.js";

const dir = import.meta.dirname;
const repo = join(dir, "..");
const { values, positionals: filters } = parseArgs({ options: { smoke: { type: "boolean", default: false } }, allowPositionals: true });
const smoke = values.smoke!;
const all = readdirSync(dir).filter((f) => f.endsWith(".bench.ts")).sort();
const benches = all.filter((f) => !filters.length || filters.some((name) => f.includes(name)));
if (!benches.length) {
  console.error(`no benchmark matches ${filters.join(", ")}; have: ${all.join(", ")}`);
  process.exit(2);
}

const full = !smoke && benches.length === all.length;
// A smoke or partial run never overwrites the committed report, nor each other.
const outDir = full ? repo : join(dir, "out", smoke ? "smoke" : "partial");
const chartDir = full ? join(dir, "charts") : join(outDir, "charts");
rmSync(chartDir, { recursive: true, force: true });
mkdirSync(chartDir, { recursive: true });
const reportPath = join(outDir, "BENCHMARKS.md");

const started = performance.now();
const machine = describeMachine(repo);
const sections: Section[] = [];
const failed: Failed[] = [];
for (const file of benches) {
  console.log(`\n=== ${file}${smoke ? " (smoke)" : ""}`);
  const json = join(outDir, `.${file}.json`);
  rmSync(json, { force: true });
  // Progress lines go straight through: a long benchmark must not look hung.
  const r = spawnSync(process.execPath, ["--import", "tsx", join(dir, "lib/child.ts"), join(dir, file), json], {
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, BENCH_SMOKE: smoke ? "1" : "0" },
  });
  try {
    if (r.status !== 0) throw new Error(`exit ${r.status ?? r.signal} (its output is in the run's log)`);
    const section = JSON.parse(readFileSync(json, "utf8")) as Section;
    rmSync(json, { force: true });
    for (const chart of section.charts) writeFileSync(join(chartDir, `${chart.id}.svg`), await chartSvg(chart));
    sections.push(section);
  } catch (error) {
    failed.push({ file, error: (error as Error).message });
  }
}

const report = renderReport({
  machine,
  smoke,
  command: `npm run bench${smoke || filters.length ? ` --${smoke ? " --smoke" : ""}${filters.map((f) => ` ${f}`).join("")}` : ""}`,
  sections,
  failed,
  chartPath: (id) => relative(outDir, join(chartDir, `${id}.svg`)),
  minutes: (performance.now() - started) / 60_000,
});
writeFileSync(reportPath, report);
console.log(`\nreport: ${relative(process.cwd(), reportPath)}${failed.length ? ` — ${failed.length} benchmark(s) failed: ${failed.map((f) => f.file).join(", ")}` : ""}`);
process.exit(failed.length ? 1 : 0);
