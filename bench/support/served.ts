/**
 * Driving real OpenCode (`opencode serve`, the scripted model) for the benchmarks: turns
 * with a chosen model, the tool parts of a session with their times as OpenCode recorded
 * them, a session's removal waited for, the process tree's memory, and refs watched on
 * the host. Every wait is bounded (a hang fails the benchmark; it is never a number).
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createOpencodeClient, type OpencodeClient } from "@opencode-ai/sdk";
import type { Step } from "../../harness/model-server.js";
import { waitFor, type Served, type Workbench } from "../../harness/opencode.js";

/** The scripted model OpenCode offers edit/write to. */
export const SCRIPTED = "scripted-model";
/** A `gpt-*` id: OpenCode offers apply_patch (and no edit/write) to it. */
export const GPT = "gpt-5-scripted";

/** opencode.json with both models, so one session can use edit/write and apply_patch in turn. */
export function offerBothModels(bench: Workbench): void {
  const model = { name: "Scripted", tool_call: true, limit: { context: 100000, output: 4096 } };
  bench.writeConfig({
    config: {
      provider: {
        scripted: {
          npm: "@ai-sdk/openai-compatible",
          name: "Scripted",
          options: { baseURL: bench.model.url, apiKey: "unused" },
          models: { [SCRIPTED]: model, [GPT]: model },
        },
      },
    },
  });
}

/** A client of `served` for another project directory (one server serves many). */
export const clientFor = (served: Served, directory: string): OpencodeClient => createOpencodeClient({ baseUrl: served.url, directory });

export interface ToolTime {
  tool: string;
  /** end − start of the tool part, as OpenCode recorded it. */
  ms: number;
}

/** One user turn answered by `steps`; resolves once the assistant is done. Throws on a failed tool call. */
export async function turn(
  served: Served,
  sessionID: string,
  steps: Step[],
  { modelID = SCRIPTED, client = served.client, timeoutMs = 120_000 + 10_000 * steps.length } = {},
): Promise<void> {
  served.bench.model.set(steps);
  const res = await served.bench.bounded(
    client.session.prompt({ path: { id: sessionID }, body: { parts: [{ type: "text", text: "go" }], model: { providerID: "scripted", modelID } } }),
    timeoutMs,
    `a turn of ${steps.length} steps in ${sessionID} did not finish within ${timeoutMs} ms`,
    served.output,
  );
  if (res.error) throw new Error(`prompt failed: ${JSON.stringify(res.error)}`);
}

/** Every tool call of a session in order, with its time; a call that did not complete throws. */
export async function toolTimes(client: OpencodeClient, sessionID: string): Promise<ToolTime[]> {
  const res = await client.session.messages({ path: { id: sessionID } });
  const parts = (res.data ?? []).flatMap((m: any) => m.parts.filter((p: any) => p.type === "tool"));
  return parts.map((p: any) => {
    if (p.state.status !== "completed") throw new Error(`${p.tool} did not complete: ${JSON.stringify(p.state).slice(0, 500)}`);
    return { tool: p.tool as string, ms: p.state.time.end - p.state.time.start };
  });
}

export async function newSession(client: OpencodeClient, title: string): Promise<string> {
  const res = await client.session.create({ body: { title } });
  if (!res.data) throw new Error(`session.create failed: ${JSON.stringify(res.error)}`);
  return res.data.id;
}

const sandboxes = (bench: Workbench): string[] => {
  try {
    return readdirSync(bench.sandboxesDir()).filter((d) => d.startsWith("sb-"));
  } catch {
    return [];
  }
};

/**
 * Deletes a session and, with the plugin, waits until its sandbox is gone (the plugin
 * syncs, then removes it), so no background work of one run overlaps the next.
 */
export async function deleteSession(served: Served, sessionID: string, client = served.client, timeoutMs = 120_000): Promise<void> {
  const before = sandboxes(served.bench).length;
  await client.session.delete({ path: { id: sessionID } });
  if (before === 0) return;
  if (!(await waitFor(() => sandboxes(served.bench).length < before, timeoutMs, 20)))
    throw new Error(`the sandbox of ${sessionID} was not removed within ${timeoutMs} ms\n${served.bench.pluginLog().slice(-4000)}`);
}

/**
 * The commit a branch points at, read from the repository's files (no git process: this
 * is polled every few milliseconds): the loose ref, else packed-refs; undefined if none.
 */
export function readRef(repo: string, branch: string): string | undefined {
  const gitDir = join(repo, ".git");
  try {
    return readFileSync(join(gitDir, "refs/heads", branch), "utf8").trim();
  } catch {}
  try {
    const line = readFileSync(join(gitDir, "packed-refs"), "utf8")
      .split("\n")
      .find((l) => l.endsWith(` refs/heads/${branch}`));
    return line?.split(" ")[0];
  } catch {
    return undefined;
  }
}

/**
 * Every value a branch takes, with the host time (performance.now) it was first seen,
 * polling its ref from the files every `everyMs` until stopped.
 */
export function watchRef(repo: string, branch: string, everyMs = 2): { changes: { commit: string | undefined; at: number }[]; stop: () => void } {
  const changes: { commit: string | undefined; at: number }[] = [{ commit: readRef(repo, branch), at: performance.now() }];
  const timer = setInterval(() => {
    const commit = readRef(repo, branch);
    if (commit !== changes.at(-1)!.commit) changes.push({ commit, at: performance.now() });
  }, everyMs);
  return { changes, stop: () => clearInterval(timer) };
}

/** The process and all its descendants (from /proc/<pid>/task/<tid>/children). */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const stack = [pid];
  while (stack.length) {
    const p = stack.pop()!;
    out.push(p);
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue; // gone meanwhile
    }
    for (const t of tasks) {
      try {
        for (const c of readFileSync(`/proc/${p}/task/${t}/children`, "utf8").trim().split(/\s+/)) if (c) stack.push(Number(c));
      } catch {}
    }
  }
  return out;
}

/** PSS of the process tree in bytes: each shared page counted once in total, split among its users. */
export function treePss(pid: number): number {
  let kib = 0;
  for (const p of processTree(pid)) {
    try {
      const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, "utf8"));
      if (m) kib += Number(m[1]);
    } catch {} // gone meanwhile, or a kernel thread
  }
  return kib * 1024;
}

/** Samples treePss every `everyMs` until stopped; the peak and the number of samples. */
export function samplePss(pid: number, everyMs = 250): { stop: () => { peak: number; samples: number } } {
  let peak = 0;
  let samples = 0;
  const take = () => {
    peak = Math.max(peak, treePss(pid));
    samples++;
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      take();
      return { peak, samples };
    },
  };
}

/** Last resort after a run: unmounts what is left mounted under a directory of ours (a root sandbox's disk), never anyone else's. */
export function unmountUnder(root: string): void {
  const decode = (p: string) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  const points = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => decode(l.split(" ")[4] ?? ""))
    .filter((p) => p.startsWith(root + "/"));
  for (const point of points.reverse()) spawnSync("umount", ["-l", point]);
}
