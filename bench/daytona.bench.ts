/**
 * Daytona through the local stand-in (issue 15): the real provider and the real
 * `@daytonaio/sdk` against test/standin with a fixed latency added to every request (a
 * network's round trip). HTTP requests per tool call, per sync and per session start,
 * counted from the stand-in's request log (the SDK's own retries and socket.io attempts
 * included); time per call against the floor of one round trip, measured in the same run.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import type { ToolContext } from "@opencode-ai/plugin";
import { ConfigSchema } from "../.opencode/plugin/sandbox/config.js";
import { silentLogger } from "../.opencode/plugin/sandbox/core/logger.js";
import { DaytonaProvider } from "../.opencode/plugin/sandbox/providers/daytona/index.js";
import { ProjectService } from "../.opencode/plugin/sandbox/service/project.js";
import { bashTool } from "../.opencode/plugin/sandbox/tools/bash.js";
import type { ToolDeps } from "../.opencode/plugin/sandbox/tools/deps.js";
import { editTool } from "../.opencode/plugin/sandbox/tools/edit.js";
import { globTool } from "../.opencode/plugin/sandbox/tools/glob.js";
import { grepTool } from "../.opencode/plugin/sandbox/tools/grep.js";
import { readTool } from "../.opencode/plugin/sandbox/tools/read.js";
import { SeenFiles } from "../.opencode/plugin/sandbox/tools/seen-files.js";
import { writeTool } from "../.opencode/plugin/sandbox/tools/write.js";
import { KeyedQueue } from "../.opencode/plugin/sandbox/util/keyed-queue.js";
import { startDaytonaStandin, type DaytonaStandin, type RecordedRequest } from "../test/standin/daytona/index.js";
import type { BenchContext } from "./lib/context.js";
import { COUNT, SectionBuilder, type Section } from "./lib/section.js";
import { interleavedSteps } from "./support/steps.js";

const LATENCY_MS = 30;
type AnyTool = { args: z.ZodRawShape; execute(args: any, ctx: ToolContext): Promise<unknown> };

/** What kind of request an entry of the log is, for the start-up breakdown. */
function kindOf(r: RecordedRequest): string {
  if (r.upgrade) return "socket.io attempt";
  if (r.method === "GET" && r.path === "/api/sandbox") return "list sandboxes";
  if (r.path.startsWith("/api/")) return `${r.method} ${r.path.replace(/\/api\/sandbox\/[^/]+/, "/api/sandbox/{id}")}`;
  if (r.path.startsWith("/toolbox/")) return `toolbox ${r.method} ${r.path.replace(/^\/toolbox\/[^/]+/, "")}`;
  return `${r.method} ${r.path}`;
}

/** Waits until no request is open and none came for `quietMs` (the start-up's background listing). */
async function settled(standin: DaytonaStandin, quietMs = 10 * LATENCY_MS, boundMs = 30_000): Promise<void> {
  const until = Date.now() + boundMs;
  let seen = -1;
  let since = Date.now();
  while (Date.now() < until) {
    const n = standin.requests.length;
    if (n !== seen || standin.requests.some((r) => r.status === undefined)) {
      seen = n;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

function gitRepo(dir: string): void {
  const git = (...a: string[]) =>
    execFileSync("git", a, { cwd: dir, env: { ...process.env, GIT_AUTHOR_NAME: "b", GIT_AUTHOR_EMAIL: "b@x", GIT_COMMITTER_NAME: "b", GIT_COMMITTER_EMAIL: "b@x" } });
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("commit", "-qm", "initial");
}

export default async function daytona(ctx: BenchContext): Promise<Section> {
  const s = new SectionBuilder(
    "daytona",
    "Daytona through the stand-in",
    `The real Daytona provider and @daytonaio/sdk against the local stand-in (test/standin, backed by local sandboxes) with ${LATENCY_MS} ms added to every request, ` +
      "a network's round trip. Requests are counted from the stand-in's log of every request on the wire; the floor is one authenticated toolbox request " +
      "(GET /toolbox/{id}/version) timed interleaved with each call. The sandbox is running; start-up is counted on its own.",
  );
  const standin = await startDaytonaStandin({ daemon: "shell", latencyMs: LATENCY_MS, creatingMs: 200, startingMs: 200 });
  const work = await mkdtemp(join(tmpdir(), "bench-daytona-"));
  const repo = join(work, "repo");
  execFileSync("mkdir", ["-p", repo]);
  for (let i = 0; i < 20; i++) await writeFile(join(repo, `file${i}.ts`), `export const v${i} = ${i}; // TODO ${i}\n`);
  gitRepo(repo);
  const providers: DaytonaProvider[] = [];
  const services: ProjectService[] = [];
  const make = (id: string, retention: Record<string, unknown> = {}) => {
    const config = ConfigSchema.parse({ provider: "daytona", sync: { debounceMs: 0 }, retention });
    const { apiKey: _, ...defaults } = config.daytona;
    const provider = new DaytonaProvider({ ...defaults, apiKey: standin.apiKey, apiUrl: standin.apiUrl, target: "us", installationId: "bench00000000000", log: silentLogger });
    const service = new ProjectService({ projectId: id, worktree: repo, directory: repo, config, log: silentLogger, notify: () => {}, stateDir: join(work, `state-${id}`), provider: async () => provider });
    providers.push(provider);
    services.push(service);
    return { config, provider, service };
  };
  try {
    // ---- session start: preflight, create and start, seed, the background orphan report
    const startTable = s.table("Requests per session start (a new session: create, start, seed)", ["what", "requests", "of which: list sandboxes", "breakdown"]);
    const startRow = async (label: string, retention: Record<string, unknown>) => {
      const { service } = make(`bench-${label.replace(/\W+/g, "-")}`, retention);
      standin.resetRequests();
      if (Object.keys(retention).length) void service.retain();
      await service.sandboxFor("ses_start");
      await settled(standin);
      const counts = new Map<string, number>();
      for (const r of standin.requests) counts.set(kindOf(r), (counts.get(kindOf(r)) ?? 0) + 1);
      const lists = counts.get("list sandboxes") ?? 0;
      startTable.row([label, String(standin.requests.length), String(lists), [...counts].map(([k, n]) => `${k}: ${n}`).join("; ")]);
      return lists;
    };
    ctx.progress("session start");
    const lists = await startRow("default options", {});
    const listsRetained = await startRow("with retention (maxAgeDays 30)", { maxAgeDays: 30 });
    const startTargets = s.table("Listing sandboxes per session start");
    startTargets.compare("list sandboxes, default options", [lists], undefined, { unit: COUNT, target: { kind: "atMost", max: 1 } });
    startTargets.compare("list sandboxes, with retention", [listsRetained], undefined, { unit: COUNT });

    // ---- tool calls on a running sandbox
    const { config, service } = make("bench");
    const deps: ToolDeps = { directory: repo, config, log: silentLogger, locks: new KeyedQueue(), seen: new SeenFiles(), sandboxFor: (id) => service.sandboxFor(id) };
    const toolCtx = { sessionID: "ses_bench", messageID: "m", agent: "build", directory: repo, worktree: repo, abort: new AbortController().signal, metadata() {}, async ask() {} } as unknown as ToolContext;
    const call = (tool: AnyTool, args: Record<string, unknown>) => tool.execute(z.object(tool.args).parse(args), toolCtx);
    const sandbox = await service.sandboxFor("ses_bench");
    const floorUrl = `${standin.toolboxProxyUrl}/${sandbox.id}/version`;
    const floor = async () => {
      const res = await fetch(floorUrl, { headers: { authorization: `Bearer ${standin.apiKey}` } });
      await res.arrayBuffer();
      if (!res.ok) throw new Error(`floor request: ${res.status}`);
    };

    const reqTable = s.table("HTTP requests per call (sandbox running)");
    const timeTable = s.table(`Time per call against one round trip (${LATENCY_MS} ms added per request)`);
    const runs = ctx.runs(20, 2);
    let edit = 2;
    const calls: [string, number, (i: number) => Promise<unknown>, ((i: number) => Promise<unknown>)?][] = [
      ["bash", 1, () => call(bashTool(deps), { command: "ls | wc -l", description: "count" })],
      ["read", 1, () => call(readTool(deps), { filePath: join(repo, "file1.ts") })],
      ["write", 1, (i) => call(writeTool(deps), { filePath: join(repo, `out${i + 1}.txt`), content: `call ${i}\n` })],
      ["edit", 2, () => call(editTool(deps), { filePath: join(repo, "file2.ts"), oldString: `v2 = ${edit}`, newString: `v2 = ${++edit}` })],
      ["glob", 1, () => call(globTool(deps), { pattern: "**/*.ts" })],
      ["grep", 1, () => call(grepTool(deps), { pattern: "TODO 1\\d" })],
      ["preview link", Infinity, () => sandbox.previewUrl(8000)],
      [
        "sync (one changed file)",
        2,
        () => service.sync("ses_bench"),
        (i) => sandbox.writeFile(`sync${i + 1}.txt`, `${i}\n`),
      ],
    ];
    for (const [name, max, run, prepare] of calls) {
      ctx.progress(name);
      const counts: number[] = [];
      const pair = await interleavedSteps(
        runs,
        { run: floor },
        {
          setup: async (i) => {
            await prepare?.(i);
            standin.resetRequests();
          },
          run,
          after: () => void counts.push(standin.requests.length),
        },
      );
      const measured = counts.slice(-runs);
      reqTable.compare(name, measured, undefined, { unit: COUNT, ...(Number.isFinite(max) ? { target: { kind: "atMost" as const, max } } : {}) });
      timeTable.compare(name, pair.subject, { label: "one round trip", samples: pair.baseline });
    }
    s.note(
      `Each request costs at least the added ${LATENCY_MS} ms, so a call's time is about its request count times the round trip plus the work in the sandbox; ` +
        "the ratio column says how many round trips' worth a call takes.",
    );
  } finally {
    for (const service of services) await service.dispose().catch(() => {});
    for (const provider of providers) await provider.dispose().catch(() => {});
    await standin.close();
    await rm(work, { recursive: true, force: true });
  }
  return s.done();
}
