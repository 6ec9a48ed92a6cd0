/**
 * Install footprint: `npm pack` of this repository (dist/ as built), then `npm install
 * <tarball>` into an empty directory — time and disk, the biggest dependencies by disk —
 * and what the plugin adds to OpenCode's start-up: `opencode serve` started to listening,
 * and to its first prompt answered, with the plugin (loaded from that installed package)
 * and without, interleaved.
 */
import { execFile, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { REPO, Workbench } from "../harness/opencode.js";
import type { BenchContext } from "./lib/context.js";
import { COUNT, SectionBuilder, type Unit } from "./lib/section.js";
import { newSession, turn } from "./support/served.js";

const run = promisify(execFile);
const MIB: Unit = { name: "MiB", digits: 1 };
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Bytes on disk (allocated blocks, as `du` counts them) under a path. */
const du = (path: string): number => Number(execFileSync("du", ["-sk", path], { encoding: "utf8" }).split("\t")[0]) * 1024;
const fileCount = (path: string): number => Number(execFileSync("sh", ["-c", 'find "$1" -type f | wc -l', "sh", path], { encoding: "utf8" }).trim());

/** Top-level packages of a node_modules (scoped ones as @scope/name). */
function packages(nodeModules: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(nodeModules)) {
    if (name.startsWith(".")) continue;
    if (name.startsWith("@")) for (const sub of readdirSync(join(nodeModules, name))) out.push(`${name}/${sub}`);
    else out.push(name);
  }
  return out;
}

interface LsNode {
  dependencies?: Record<string, LsNode>;
}

/**
 * Disk each direct dependency of the package brings alone: the top-level packages reachable
 * from it in `npm ls --all` and from no other direct dependency, by name (deduplicated
 * entries list no children; another occurrence of the same name does).
 */
function ownShares(dir: string, pkg: string, sizeOf: Map<string, number>): { name: string; bytes: number; packages: number }[] {
  const tree = JSON.parse(execFileSync("npm", ["ls", "--all", "--json"], { cwd: dir, encoding: "utf8", maxBuffer: 1 << 28 })) as LsNode;
  const edges = new Map<string, Set<string>>();
  const walk = (name: string, node: LsNode) => {
    const out = edges.get(name) ?? new Set<string>();
    edges.set(name, out);
    for (const [child, sub] of Object.entries(node.dependencies ?? {})) {
      out.add(child);
      walk(child, sub);
    }
  };
  const root = tree.dependencies?.[pkg];
  if (!root) return [];
  walk(pkg, root);
  const reach = (from: string) => {
    const seen = new Set([from]);
    for (const name of seen) for (const next of edges.get(name) ?? []) seen.add(next);
    return seen;
  };
  const direct = Object.keys(root.dependencies ?? {});
  const reached = new Map(direct.map((d) => [d, reach(d)]));
  return direct
    .map((d) => {
      const own = [...reached.get(d)!].filter((n) => direct.every((o) => o === d || !reached.get(o)!.has(n)));
      return { name: d, bytes: own.reduce((sum, n) => sum + (sizeOf.get(n) ?? 0), 0), packages: own.length };
    })
    .sort((a, b) => b.bytes - a.bytes);
}

async function npmInstall(dir: string, tarball: string, mode: "--offline" | "--prefer-offline"): Promise<number> {
  await rm(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "empty", version: "1.0.0", private: true }));
  const t0 = performance.now();
  await run("npm", ["install", mode, "--no-audit", "--no-fund", "--loglevel=error", tarball], { cwd: dir, env: { ...process.env, npm_config_update_notifier: "false" } });
  return performance.now() - t0;
}

export default async function (ctx: BenchContext) {
  const installs = ctx.runs(3, 1);
  const starts = ctx.runs(6, 1);
  const section = new SectionBuilder(
    "install",
    "Install footprint",
    "The package as npm publishes it (`npm pack` of this repository, dist/ as built), installed with `npm install <tarball>` into an empty directory; then OpenCode's start-up with the plugin loaded from that installed package against OpenCode without it.",
  );
  const work = await mkdtemp(join(tmpdir(), "bench-install-"));
  try {
    if (!existsSync(join(REPO, "dist/plugin/index.js"))) execFileSync("npm", ["run", "build"], { cwd: REPO, stdio: "ignore" });
    const packed = JSON.parse((await run("npm", ["pack", "--json", "--pack-destination", work], { cwd: REPO })).stdout) as { filename: string; size: number; unpackedSize: number; entryCount: number }[];
    const tarball = join(work, packed[0]!.filename);

    // Is every dependency in npm's cache? An --offline install says so (it fails on a miss).
    const dir = join(work, "app");
    let warm = true;
    const times: number[] = [];
    try {
      times.push(await npmInstall(dir, tarball, "--offline"));
    } catch {
      warm = false;
      ctx.progress("npm cache misses: the first install fetches from the registry (not timed)");
      await npmInstall(dir, tarball, "--prefer-offline");
    }
    while (times.length < installs) times.push(await npmInstall(dir, tarball, "--offline"));
    ctx.progress(`installed ${times.length} times`);

    const nodeModules = join(dir, "node_modules");
    const pkgs = packages(nodeModules);
    const sizes = pkgs.map((name) => ({ name, bytes: du(join(nodeModules, name)) })).sort((a, b) => b.bytes - a.bytes);
    const total = du(nodeModules);

    const t = section.table("Installing the package", ["", "value", "runs"]);
    t.row(["package tarball (npm pack)", `${mib(packed[0]!.size)} packed, ${mib(packed[0]!.unpackedSize)} unpacked, ${packed[0]!.entryCount} files`, "1"]);
    const installTable = section.table("npm install <tarball> into an empty directory");
    installTable.compare(`time (${warm ? "npm cache warm: every package from ~/.npm, no network" : "npm cache was cold: the timed installs ran after one untimed install filled it"})`, times, undefined);
    installTable.compare("disk (node_modules, du)", [total / 2 ** 20], undefined, { unit: MIB });
    installTable.compare("packages in node_modules (top level)", [pkgs.length], undefined, { unit: COUNT });
    installTable.compare("files in node_modules", [fileCount(nodeModules)], undefined, { unit: COUNT });

    const biggest = section.table("Biggest dependencies by disk (top-level folders of node_modules, du)", ["package", "disk", "share"]);
    for (const p of sizes.slice(0, 10)) biggest.row([p.name, mib(p.bytes), `${((100 * p.bytes) / total).toFixed(0)} %`]);
    const shares = section.table("What each dependency of the package brings alone (its own dependencies included, those shared with another left out)", ["dependency", "disk", "packages", "share"]);
    for (const d of ownShares(dir, "opencode-sandboxed", new Map(sizes.map((p) => [p.name, p.bytes])))) shares.row([d.name, mib(d.bytes), String(d.packages), `${((100 * d.bytes) / total).toFixed(0)} %`]);
    section.chart({
      id: "install-biggest",
      title: "node_modules of an install by package (du)",
      spec: {
        data: { values: sizes.slice(0, 12).map((p) => ({ package: p.name, MiB: +(p.bytes / 2 ** 20).toFixed(2) })) },
        mark: "bar",
        encoding: { y: { field: "package", type: "nominal", sort: "-x", title: "" }, x: { field: "MiB", type: "quantitative", title: "MiB on disk" } },
      },
    });

    // Start-up: the plugin from the installed package, as a user's opencode.json names it.
    const installed = pathToFileURL(join(nodeModules, "opencode-sandboxed/dist/plugin/index.js")).href;
    const sides = {
      without: await Workbench.create({ plugin: false, prefix: "bench-start-without-" }),
      with: await Workbench.create({ plugin: installed, prefix: "bench-start-with-" }),
    };
    const listening = { without: [] as number[], with: [] as number[] };
    const answered = { without: [] as number[], with: [] as number[] };
    try {
      for (let i = -1; i < starts; i++) {
        for (const side of i % 2 ? (["with", "without"] as const) : (["without", "with"] as const)) {
          const bench = sides[side];
          const t0 = performance.now();
          const served = await bench.serve({ timeoutMs: 120_000 });
          const t1 = performance.now();
          const id = await newSession(served.client, "start");
          await turn(served, id, [{ text: "hello" }]);
          const t2 = performance.now();
          await served.stop();
          if (i < 0) continue; // warm-up: the first start of a binary reads it from disk
          listening[side].push(t1 - t0);
          answered[side].push(t2 - t0);
        }
      }
    } finally {
      await sides.without.dispose();
      await sides.with.dispose();
    }
    ctx.progress(`started OpenCode ${starts} times a side`);
    const start = section.table("OpenCode's start-up with the plugin (from the installed package) against without it");
    start.compare("`opencode serve` started → answering for the project", listening.with, { label: "without", samples: listening.without });
    start.compare("`opencode serve` started → first prompt answered (a new session, a text answer)", answered.with, { label: "without", samples: answered.without });
    section.note(
      `Every install ran \`npm install ${warm ? "--offline" : "--offline (after one untimed --prefer-offline)"} --no-audit --no-fund <tarball>\` into a fresh directory holding only a package.json, with npm's cache at its usual place; install scripts ran as they do for a user.`,
    );
    section.note("\"First prompt answered\" carries whatever of the plugin's start OpenCode defers to the first use of the project; \"answering\" is the harness's readiness probe (`GET /path` for the project) answering.");
    return section.done();
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
