/**
 * Local sandbox (issue 15): the local provider against its floors, measured in the same run.
 *   - create + first command vs bubblewrap with the sandbox's own arguments running the same
 *     runtime on an empty script (bench/support/bwrap-floor.ts); the delete is untimed
 *   - a command in a warm sandbox vs a plain `sh -c` on the host
 *   - readFile / writeFile through the agent vs a plain host read / write of the same file,
 *     and the memory-copy limit of this machine (Buffer.copy of the same size)
 * For the agent on Node and on the opencode binary (Bun, as inside OpenCode); create for
 * network "none" and "isolated" (slirp4netns and the egress filter).
 * Run: npm run bench -- local-sandbox   (smoke: npm run bench -- --smoke local-sandbox)
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../.opencode/plugin/sandbox/core/logger.js";
import type { NetworkMode } from "../.opencode/plugin/sandbox/providers/local/egress-policy.js";
import { LocalProvider } from "../.opencode/plugin/sandbox/providers/local/index.js";
import { clampLimits } from "../.opencode/plugin/sandbox/providers/local/limits.js";
import { preflight } from "../.opencode/plugin/sandbox/providers/local/preflight.js";
import type { Sandbox } from "../.opencode/plugin/sandbox/providers/provider.js";
import type { BenchContext } from "./lib/context.js";
import { interleaved, repeat, timed } from "./lib/measure.js";
import { MIB_S, MS, SectionBuilder, type Section } from "./lib/section.js";
import { summarize } from "./lib/stats.js";
import { bwrapFloor } from "./support/bwrap-floor.js";

const MiB = 1024 * 1024;
const COMMAND = "echo hi";
const OPENCODE_BIN = join(import.meta.dirname, "..", "node_modules/opencode-linux-x64/bin/opencode");
const LIMITS = { memoryMb: 2048, maxProcesses: 512, maxOpenFiles: 4096 };

interface Agent {
  label: string;
  runtime: string;
  bun: boolean;
}

function plainSh(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", command], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c));
    child.stderr.on("data", (c: Buffer) => (output += c));
    child.once("error", reject);
    child.once("close", (code) => (code === 0 ? resolve(output) : reject(new Error(`sh -c ${command}: exit ${code}`))));
  });
}

const mibPerSecond = (bytes: number) => (ms: number) => bytes / MiB / (ms / 1000);
const sizeLabel = (bytes: number) => (bytes >= MiB ? `${bytes / MiB} MiB` : `${bytes / 1024} KiB`);

/** Buffer.copy of `bytes`, repeated within a sample until ~64 MiB moved (a 4 KiB copy is below the clock's resolution). */
async function memcpySamples(bytes: number, runs: number): Promise<number[]> {
  const src = randomBytes(bytes);
  const dst = Buffer.allocUnsafe(bytes);
  const reps = Math.max(1, Math.ceil((64 * MiB) / bytes));
  src.copy(dst);
  const times = await repeat(runs, () => {
    for (let r = 0; r < reps; r++) src.copy(dst);
  });
  return times.map((ms) => mibPerSecond(bytes * reps)(ms));
}

export default async function localSandbox(ctx: BenchContext): Promise<Section> {
  const section = new SectionBuilder(
    "local-sandbox",
    "Local sandbox",
    "The local provider (bubblewrap around a resident agent) against floors measured in the same run, interleaved: " +
      "a sandbox's create + first command against bubblewrap with the sandbox's own arguments (taken from the provider's launch code) running the same runtime on an empty script; " +
      "a command in a warm sandbox against a plain `sh -c` on the host; files moved through the agent against a plain read or write of the same file on the host, and against a memory copy. " +
      "The agent runs on Node (tests, CLI) and on the opencode binary (Bun, as inside OpenCode).",
  );
  const work = await mkdtemp(join(tmpdir(), "bench-local-sandbox-"));
  await chmod(work, 0o755); // the floor runs as an unprivileged uid when we are root
  const providers: LocalProvider[] = [];
  const live = new Map<string, LocalProvider>();
  const agents: Agent[] = [{ label: "Node", runtime: process.execPath, bun: false }];
  if (existsSync(OPENCODE_BIN)) agents.push({ label: "Bun (opencode)", runtime: OPENCODE_BIN, bun: true });
  else section.note(`The agent on Bun was not measured: ${OPENCODE_BIN} is missing (npm install).`);
  const networks: NetworkMode[] = ["none"];
  const tools = await preflight({ network: "none" });
  if (tools.slirp4netns) networks.push("isolated");
  else section.note('Network "isolated" was not measured: slirp4netns is not installed.');
  const tmpfsBytes = tools.tmpfsSize ? clampLimits(LIMITS).tmpMiB * MiB : undefined;

  const provider = async (agent: Agent, network: NetworkMode) => {
    const p = new LocalProvider({ root: join(work, `${agent.bun ? "bun" : "node"}-${network}`), network, runtime: agent.runtime, ...LIMITS, log: silentLogger });
    providers.push(p);
    await p.preflight();
    return p;
  };
  const create = async (p: LocalProvider, label: string) => {
    const sb = await p.create({ labels: { bench: label } });
    live.set(sb.id, p);
    return sb;
  };
  const remove = async (p: LocalProvider, id: string) => {
    await p.delete(id);
    live.delete(id);
  };
  const first = async (sb: Sandbox) => {
    const r = await sb.exec(COMMAND);
    if (r.exitCode !== 0 || r.output.trim() !== "hi") throw new Error(`${COMMAND} in the sandbox: exit ${r.exitCode}, ${JSON.stringify(r.output)}`);
  };

  try {
    // ---- create + first command against the bwrap floor --------------------------------
    const createTable = section.table("Create + first command (`echo hi`), against bwrap with the sandbox's arguments running the same runtime on an empty script");
    const restartTable = section.table("Start of a stopped sandbox + first command (its disk and directories exist), against the same floor; network none");
    const createRuns = ctx.runs(20, 1);
    /** Floor and subject alternately (which goes first alternates too); `after` runs untimed. */
    const pairs = async (runs: number, floor: () => Promise<void>, subject: () => Promise<void>, after: () => Promise<void>) => {
      const floorTimes: number[] = [];
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const s = () => timed(subject).then((ms) => times.push(ms));
        const b = () => timed(floor).then((ms) => floorTimes.push(ms));
        if (i % 2) await s().then(b);
        else await b().then(s);
        await after();
      }
      return { floorTimes, times };
    };
    for (const network of networks)
      for (const agent of agents) {
        const p = await provider(agent, network);
        const floor = await bwrapFloor({ parent: join(work, "floors"), bwrap: tools.bwrap, runtime: { path: agent.runtime, bun: agent.bun }, network, tmpfsBytes });
        // Warm-up: the first create cleans up after crashes and writes the agent's file; the page cache takes the runtime.
        await floor.run();
        if (!ctx.smoke) {
          const warm = await create(p, "warmup");
          await first(warm);
          await remove(p, warm.id);
        }
        ctx.progress(`create + first: agent on ${agent.label}, network ${network}, ${createRuns} runs`);
        let id = "";
        const { floorTimes, times } = await pairs(
          createRuns,
          () => floor.run(),
          async () => {
            const sb = await create(p, "create");
            id = sb.id;
            await first(sb);
          },
          () => remove(p, id), // untimed
        );
        createTable.compare(`agent on ${agent.label}, network ${network}`, times, { label: "bwrap floor", samples: floorTimes }, { unit: MS, target: { kind: "ratio", max: 1.5 } });
        if (network !== "none") continue;
        ctx.progress(`start of a stopped sandbox + first: agent on ${agent.label}, ${createRuns} runs`);
        const sb = await create(p, "restart");
        await p.stop(sb.id);
        const restart = await pairs(
          createRuns,
          () => floor.run(),
          async () => {
            await p.start(sb.id);
            await first(await p.connect(sb.id));
          },
          () => p.stop(sb.id), // untimed
        );
        await remove(p, sb.id);
        restartTable.compare(`agent on ${agent.label}`, restart.times, { label: "bwrap floor", samples: restart.floorTimes }, { unit: MS });
      }
    section.note(
      "The floor runs bubblewrap with the arguments the provider builds (launch.ts bwrapArgs: the same namespaces, mounts and environment) minus the seccomp filter, " +
        (process.getuid?.() === 0 ? "as an unprivileged uid through setpriv as the sandbox does, " : "") +
        "on an empty script. The measured side adds what the issue counts there: cgroups and ulimits, " +
        (process.getuid?.() === 0 ? "the sandbox's disk image (made and loop-mounted at create: mkfs.ext4) and the launcher's private mount namespace, " : "") +
        "the seccomp filter, the launcher's descriptor sealing and session keyring, slirp4netns and the egress filter (network isolated), the agent's own start (listening on its socket), the host's claim of the socket, and the first command through the agent. " +
        "The start of a stopped sandbox is the same minus what only a create does (its directories, uid and disk image); its connect pings the agent once more.",
    );

    // ---- warm command and files: one sandbox per runtime, network none ------------------
    const warmTable = section.table(`A command (\`${COMMAND}\`) in a warm sandbox, against a plain \`sh -c\` on the host`);
    const fileTable = section.table("Files through the agent (readFile / writeFile) against a plain read / write of the same file on the host");
    const copyTable = section.table("Against the memory-copy limit of this machine (Buffer.copy of the same size)");
    const sizes = ctx.smoke ? [4096, MiB] : [4096, 10 * MiB, 100 * MiB];
    const fileRuns = (bytes: number) => (bytes >= 100 * MiB ? ctx.runs(5, 1) : bytes >= MiB ? ctx.runs(20, 1) : ctx.runs(30, 1));
    const chartRows: { size: number; op: string; series: string; mibs: number }[] = [];
    const memcpy = new Map<number, number[]>();
    /** Plain read/write medians measured beside each agent's (the chart shows the first agent's only). */
    const plainBeside = new Map<string, number>();
    for (const bytes of sizes) memcpy.set(bytes, await memcpySamples(bytes, ctx.runs(20, 1)));
    for (const agent of agents) {
      const p = providers.find((x) => x.root === join(work, `${agent.bun ? "bun" : "node"}-none`))!;
      const sb = await create(p, "warm");
      await first(sb);
      ctx.progress(`warm command: agent on ${agent.label}`);
      const warm = await interleaved(ctx.runs(30, 2), () => plainSh(COMMAND), () => first(sb), { warmup: ctx.smoke ? 0 : 3 });
      warmTable.compare(`agent on ${agent.label}`, warm.subject, { label: "sh -c", samples: warm.baseline }, { unit: MS, target: { kind: "over", max: 5 } });

      for (const bytes of sizes) {
        const data = randomBytes(bytes);
        const name = `bench-${bytes}.bin`;
        const host = join(p.root, sb.id, "project", name);
        const runs = fileRuns(bytes);
        const rate = mibPerSecond(bytes);
        ctx.progress(`files ${sizeLabel(bytes)}: agent on ${agent.label}, ${runs} runs`);
        const write = await interleaved(runs, () => writeFile(host, data), () => sb.writeFile(name, data));
        const read = await interleaved(runs, () => readFile(host), () => sb.readFile(name));
        const check = await sb.readFile(name);
        if (Buffer.compare(Buffer.from(check), data) !== 0) throw new Error(`${name} read back differs from what was written`);
        for (const [op, pair] of [["read", read], ["write", write]] as const) {
          const subject = pair.subject.map(rate);
          const baseline = pair.baseline.map(rate);
          fileTable.compare(`${op} ${sizeLabel(bytes)}, agent on ${agent.label}`, subject, { label: `plain ${op}`, samples: baseline }, { unit: MIB_S });
          copyTable.compare(`${op} ${sizeLabel(bytes)} through the agent on ${agent.label}`, subject, { label: "memory copy", samples: memcpy.get(bytes)! }, { unit: MIB_S });
          chartRows.push({ size: bytes, op, series: `sandbox, agent on ${agent.label}`, mibs: summarize(subject).median });
          plainBeside.set(`${agent.label}/${op}/${bytes}`, summarize(baseline).median);
          if (agent === agents[0]) {
            copyTable.compare(`plain ${op} ${sizeLabel(bytes)}`, baseline, { label: "memory copy", samples: memcpy.get(bytes)! }, { unit: MIB_S });
            chartRows.push({ size: bytes, op, series: `plain ${op} (host)`, mibs: summarize(baseline).median });
            chartRows.push({ size: bytes, op, series: "memory copy", mibs: summarize(memcpy.get(bytes)!).median });
          }
        }
        await rm(host, { force: true });
      }
      await remove(p, sb.id);
    }
    const at = (series: string, op: string, size: number) => chartRows.find((r) => r.series === series && r.op === op && r.size === size)?.mibs;
    const biggest = sizes[sizes.length - 1]!;
    for (const agent of agents) {
      const sandbox = at(`sandbox, agent on ${agent.label}`, "read", biggest);
      const plain = plainBeside.get(`${agent.label}/read/${biggest}`);
      const copy = at("memory copy", "read", biggest);
      if (sandbox && plain && copy)
        section.note(
          `Reading ${sizeLabel(biggest)} through the agent on ${agent.label}: ${(plain / sandbox).toFixed(1)}× slower than a plain read, ${(copy / sandbox).toFixed(0)}× below a memory copy (the plain read itself is ${(copy / plain).toFixed(1)}× below it).`,
        );
    }
    section.note(
      "Why a file through the agent is far from the memory-copy limit: the bytes are not encoded (binary frames of at most 1 MiB, no base64, no JSON), but they cross two processes and a unix socket. " +
        "A plain read is one copy (page cache → the result) in one system call. Through the agent a read is: page cache → the agent's 1 MiB buffer (a fresh allocation each), → the socket (kernel copy), → the host's 64 KiB socket reads (Node reads a stream 64 KiB at a time: ~160 reads and event-loop turns per 10 MiB on each side), → one concatenation into the result. " +
        "With a socket buffer of ~200 KiB the two processes take turns, waking each other tens of times per MiB, which on 2 cores shared with the host's own work is the largest cost after the copies; fresh large buffers also page-fault on first touch, which a loaded machine makes expensive. " +
        "Writes go the other way and add the agent's write to a temporary file and a rename (an atomic replace) on the sandbox's own disk. " +
        "The agent on Bun spends 2–4× the CPU of the agent on Node for the same bytes (its stream and socket layers: futex/sched_yield-heavy under strace). " +
        "Until commit b6b43ae the host also glued each 1 MiB frame out of its 64 KiB pieces before the final concatenation: one more copy into a fresh buffer (interleaved A/B, 10 MiB read: host CPU 49.7 → 37.1 ms median).",
    );
    for (const op of ["read", "write"])
      section.chart({
        id: `local-sandbox-${op}`,
        title: `${op === "read" ? "Reading" : "Writing"} a file: throughput by size (median, log scales)`,
        spec: {
          data: { values: chartRows.filter((r) => r.op === op).map((r) => ({ ...r, label: sizeLabel(r.size) })) },
          mark: { type: "line", point: true },
          encoding: {
            x: { field: "size", type: "quantitative", scale: { type: "log" }, title: "file size (bytes)" },
            y: { field: "mibs", type: "quantitative", scale: { type: "log" }, title: "MiB/s (higher is better)" },
            color: { field: "series", type: "nominal", title: null },
            tooltip: [{ field: "label" }, { field: "series" }, { field: "mibs", format: ".0f" }],
          },
        },
      });
  } finally {
    for (const [id, p] of live) await p.delete(id).catch((e: Error) => ctx.progress(`could not delete ${id}: ${e.message}`));
    for (const p of providers) await p.dispose();
    await rm(work, { recursive: true, force: true });
  }
  return section.done();
}
