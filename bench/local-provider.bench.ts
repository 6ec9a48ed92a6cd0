/**
 * Local provider benchmark (prints, never asserts). Run: npx tsx bench/local-provider.bench.ts
 * Compares against plain `sh -c` in the same run:
 *   - create + first command (+ delete, untimed) vs one plain `sh -c`
 *   - a command in a warm sandbox vs a plain `sh -c`
 *   - writeFile/readFile of 4 KiB and 10 MiB vs host fs
 * Targets (issue 3): create + first ≤ 100 ms median; warm ≤ plain + 15 ms median.
 * Env: BENCH_N (default 20), BENCH_NETWORK (none|isolated, default both).
 * The agent runs on this node, and (as inside OpenCode) on the opencode binary (Bun).
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { silentLogger } from "../.opencode/plugin/sandbox/core/logger.js";
import { LocalProvider } from "../.opencode/plugin/sandbox/providers/local/index.js";

const N = Number(process.env.BENCH_N ?? 20);
const networks = (process.env.BENCH_NETWORK ? [process.env.BENCH_NETWORK] : ["none", "isolated"]) as Array<"none" | "isolated">;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (n: number) => `${n.toFixed(1)} ms`;

function plain(command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", command], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.resume();
    child.stderr.resume();
    child.on("exit", () => resolve());
    child.on("error", reject);
  });
}

async function time(fn: () => Promise<unknown>, n = N): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

function row(name: string, xs: number[], base?: number, target?: string) {
  const m = median(xs);
  const vs = base !== undefined ? `  ratio ${(m / base).toFixed(2)}x  (+${ms(m - base)} over plain)` : "";
  console.log(`${name.padEnd(40)} median ${ms(m).padStart(9)}  min ${ms(Math.min(...xs)).padStart(9)}${vs}${target ? `  target: ${target}` : ""}`);
}

const root = await mkdtemp(join(tmpdir(), "ocsb-bench-"));
try {
  const cmd = "echo hi";
  for (let i = 0; i < 3; i++) await plain(cmd);
  const plainTimes = await time(() => plain(cmd));
  const plainMedian = median(plainTimes);
  console.log(`local provider benchmark — N=${N}, node ${process.version}, uid ${process.getuid?.()}`);
  row(`plain sh -c '${cmd}'`, plainTimes);

  const opencode = join(process.cwd(), "node_modules/opencode-linux-x64/bin/opencode");
  const runtimes: Array<[string, string | undefined]> = [["node", undefined]];
  if (existsSync(opencode)) runtimes.push(["opencode (Bun)", opencode]);
  for (const network of networks) for (const [runtimeName, runtime] of runtimes) {
    const provider = new LocalProvider({ root, network, runtime, memoryMb: 2048, maxProcesses: 512, maxOpenFiles: 4096, log: silentLogger });
    await provider.preflight();
    // Warm-up: first create also runs the start-up clean-up and writes the agent file.
    const warm = await provider.create({ labels: { bench: "warmup" } });
    await warm.exec(cmd);
    await provider.delete(warm.id);

    const createTimes: number[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      const sb = await provider.create({ labels: { bench: "create" } });
      await sb.exec(cmd);
      createTimes.push(performance.now() - t0);
      await provider.delete(sb.id);
    }
    console.log(`\nnetwork ${network}, agent on ${runtimeName}`);
    row("create + first command", createTimes, plainMedian, "≤ 100 ms");

    const sb = await provider.create({ labels: { bench: "warm" } });
    for (let i = 0; i < 5; i++) await sb.exec(cmd);
    // Interleaved with plain runs, so both see the same machine load.
    const warmTimes: number[] = [];
    const plainTimes2: number[] = [];
    for (let i = 0; i < N; i++) {
      plainTimes2.push(...(await time(() => plain(cmd), 1)));
      warmTimes.push(...(await time(() => sb.exec(cmd), 1)));
    }
    row("plain sh -c (interleaved with warm)", plainTimes2);
    row("warm command", warmTimes, median(plainTimes2), "≤ plain + 15 ms");

    for (const [label, size] of [["4 KiB", 4096], ["10 MiB", 10 * 1024 * 1024]] as const) {
      const data = randomBytes(size);
      const hostFile = join(root, `host-${size}`);
      row(`writeFile ${label}`, await time(() => sb.writeFile(`/workspace/f-${size}`, data)), median(await time(() => writeFile(hostFile, data))));
      row(`readFile ${label}`, await time(() => sb.readFile(`/workspace/f-${size}`)), median(await time(() => readFile(hostFile))));
    }
    const big = randomBytes(100 * 1024 * 1024);
    row("writeFile 100 MiB", await time(() => sb.writeFile("/workspace/big", big), 3));
    row("readFile 100 MiB", await time(() => sb.readFile("/workspace/big"), 3));
    row("stat", await time(() => sb.stat("/workspace/big")));
    await provider.delete(sb.id);
    await provider.dispose();
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
