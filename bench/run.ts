/**
 * `npm run bench [-- name…]`: runs every bench/*.bench.ts (or those whose file name
 * contains one of the names) one after another, each in its own process.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const dir = import.meta.dirname;
const filters = process.argv.slice(2);
const benches = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => !filters.length || filters.some((name) => f.includes(name)))
  .sort();
if (!benches.length) {
  console.error(`no benchmark matches ${filters.join(", ")}; have: ${readdirSync(dir).filter((f) => f.endsWith(".bench.ts")).join(", ")}`);
  process.exit(2);
}
let failed = 0;
for (const file of benches) {
  console.log(`\n=== ${file}`);
  const r = spawnSync(process.execPath, ["--import", "tsx", join(dir, file)], { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
