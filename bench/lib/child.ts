/**
 * Runs one benchmark module in this process and writes its section as JSON:
 *   node --import tsx bench/lib/child.ts <bench file> <json out>   (BENCH_SMOKE=1 for the smoke run)
 * Each benchmark runs in a process of its own, so one cannot warm or load the next.
 */
import { writeFile } from "node:fs/promises";
import { basename } from "node:path";
import { pathToFileURL } from "node:url";
import { benchContext } from "./context.js";
import type { Section } from "./section.js";

const [file, out] = process.argv.slice(2);
if (!file || !out) throw new Error("usage: child.ts <bench file> <json out>");
const mod = (await import(pathToFileURL(file).href)) as { default?: (ctx: ReturnType<typeof benchContext>) => Promise<Section> };
if (typeof mod.default !== "function") throw new Error(`${file} has no default export (a function of the bench context returning its section)`);
const section = await mod.default(benchContext(process.env.BENCH_SMOKE === "1", basename(file, ".bench.ts")));
await writeFile(out, JSON.stringify(section, null, 2));
// Benchmarks may leave handles (servers, sandboxes' timers) that are not ours to wait for.
process.exit(0);
