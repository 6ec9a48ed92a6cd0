/**
 * Load: N sessions at once inside ONE `opencode serve`. Each session follows its own
 * scripted conversation (routed by a marker in its first message): its first tool call
 * makes its sandbox, then 20 tool calls in all — several in parallel — across
 * write/edit/read/bash/glob/grep, then it goes idle (the plugin syncs it to its branch).
 * Returns what happened to each session and how long it took; judging is the caller's
 * (the reliability tests, the benchmark).
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { scriptMarker, type Step } from "./model-server.js";
import type { Served, Workbench } from "./opencode.js";

/** One session's script and the files it leaves, relative to the project root. */
export interface LoadScript {
  steps: Step[];
  files: Record<string, string>;
}

export interface ToolOutcome {
  tool: string;
  status: string;
  error?: string;
}

export interface SessionOutcome {
  index: number;
  /** The routing key of its script. */
  key: string;
  sessionID?: string;
  /** Every tool part completed and the script was answered in full. */
  ok: boolean;
  /** Why not (a failed request, a timeout, a tool error, steps left unanswered). */
  error?: string;
  tools: ToolOutcome[];
  /** What its script wrote: relative path → final content. */
  files: Record<string, string>;
  /** From the prompt being sent to the session being idle again. */
  ms: number;
}

export interface LoadRun {
  outcomes: SessionOutcome[];
  /** From the first session created to the last one idle. */
  ms: number;
  /** Tool calls the scripts made in all. */
  toolCalls: number;
}

export interface LoadOptions {
  sessions: number;
  /** The script of session `index` (default: loadScript). */
  script?: (index: number, project: string) => LoadScript;
  /** Bound for a hang: the whole run. */
  timeoutMs?: number;
  /** How often the sessions' status is polled. */
  pollMs?: number;
}

/** Tool calls in a step (a parallel step counts each). */
export const toolCallsOf = (steps: Step[]): number => steps.reduce((n, s) => n + ("tools" in s ? s.tools.length : "tool" in s ? 1 : 0), 0);

/**
 * The default script: 20 tool calls in 9 turns (6 of them parallel) over
 * write/edit/read/bash/glob/grep, leaving five files under `load/s<index>/`.
 */
export function loadScript(index: number, project: string): LoadScript {
  const dir = `load/s${index}`;
  const abs = (f: string) => join(project, dir, f);
  const bash = (command: string) => ({ tool: "bash", args: { command, description: "load step" } });
  const write = (f: string, content: string) => ({ tool: "write", args: { filePath: abs(f), content } });
  const read = (f: string) => ({ tool: "read", args: { filePath: abs(f) } });
  const edit = (f: string, oldString: string, newString: string) => ({ tool: "edit", args: { filePath: abs(f), oldString, newString } });
  const line = (f: string) => `session ${index} file ${f}\n`;
  const steps: Step[] = [
    bash(`mkdir -p ${dir} && echo ready ${index}`),
    { tools: [write("a.txt", line("a") + "todo a\n"), write("b.txt", line("b") + "todo b\n"), write("c.txt", line("c") + "todo c\n")] },
    { tools: [read("a.txt"), read("b.txt"), { tool: "glob", args: { pattern: `${dir}/*.txt` } }] },
    { tools: [edit("a.txt", "todo a", `done a ${index}`), edit("b.txt", "todo b", `done b ${index}`)] },
    { tools: [{ tool: "grep", args: { pattern: `done . ${index}$`, path: join(project, dir) } }, bash(`wc -l ${dir}/a.txt`), bash(`cat ${dir}/b.txt`)] },
    { tools: [write("d.txt", line("d") + "todo d\n"), bash(`printf 'made by bash in session ${index}\\n' > ${dir}/e.txt`)] },
    { tools: [read("c.txt"), read("d.txt")] },
    { tools: [edit("c.txt", "todo c", `done c ${index}`), edit("d.txt", "todo d", `done d ${index}`)] },
    { tools: [{ tool: "glob", args: { pattern: `load/s${index}/**` } }, { tool: "grep", args: { pattern: "made by bash", include: "e.txt" } }] },
    { text: `session ${index} done` },
  ];
  const files: Record<string, string> = {};
  for (const f of ["a", "b", "c", "d"]) files[`${dir}/${f}.txt`] = line(f) + `done ${f} ${index}\n`;
  files[`${dir}/e.txt`] = `made by bash in session ${index}\n`;
  return { steps, files };
}

/** Every file on a branch of the host repository, with its content ({} when the branch does not exist). */
export function branchFiles(project: string, branch: string): Record<string, string> {
  const git = (...args: string[]) => execFileSync("git", args, { cwd: project, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  try {
    git("rev-parse", "--verify", "-q", `refs/heads/${branch}`);
  } catch {
    return {};
  }
  const out: Record<string, string> = {};
  for (const path of git("ls-tree", "-r", "--name-only", branch).split("\n").filter(Boolean)) out[path] = git("show", `${branch}:${path}`);
  return out;
}

/** A session's branch as the user sees it: its files, the first commit's README aside ({} before it has one). */
export function sessionBranch(bench: Pick<Workbench, "project" | "state">, sessionID: string): Record<string, string> {
  const n = bench.state().sessions[sessionID]?.branchNumber;
  if (n === undefined) return {};
  const { "README.md": _readme, ...files } = branchFiles(bench.project, `opencode/${n}`);
  return files;
}

/** The same files with the same contents. */
export const sameFiles = (a: Record<string, string>, b: Record<string, string>) => JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `sessions` sessions at once in `served`; resolves once every one is idle, failed or the bound hit. */
export async function runLoad(served: Served, options: LoadOptions): Promise<LoadRun> {
  const { sessions, script = loadScript, timeoutMs = 900_000, pollMs = 500 } = options;
  const model = served.bench.model;
  const client = served.client;
  const scripts = Array.from({ length: sessions }, (_, i) => script(i + 1, served.bench.project));
  const outcomes: SessionOutcome[] = scripts.map((s, i) => ({ index: i + 1, key: `load-${i + 1}`, ok: false, tools: [], files: s.files, ms: 0 }));
  const started = Date.now();
  const deadline = started + timeoutMs;

  // Create every session and send every prompt at once; the prompts return at once.
  const sentAt = new Map<SessionOutcome, number>();
  await Promise.all(
    outcomes.map(async (o, i) => {
      try {
        model.route(o.key, scripts[i]!.steps);
        const created = await client.session.create({ body: { title: `load ${o.index}` } });
        if (!created.data) throw new Error(`session.create: ${JSON.stringify(created.error)}`);
        o.sessionID = created.data.id;
        sentAt.set(o, Date.now());
        const sent = await client.session.promptAsync({
          path: { id: o.sessionID },
          body: { parts: [{ type: "text", text: `${scriptMarker(o.key)} do the load script` }] },
        });
        if (sent.error) throw new Error(`prompt: ${JSON.stringify(sent.error)}`);
      } catch (e) {
        o.error = String(e);
      }
    }),
  );

  // Done = its script answered in full and the session no longer busy.
  const waiting = new Set(outcomes.filter((o) => o.error === undefined));
  while (waiting.size > 0 && Date.now() < deadline) {
    await sleep(pollMs);
    const status = (await client.session.status().catch(() => ({ data: undefined }))).data as Record<string, { type: string }> | undefined;
    if (!status) continue;
    for (const o of [...waiting]) {
      const busy = status[o.sessionID!] !== undefined && status[o.sessionID!]!.type !== "idle";
      if (model.pendingFor(o.key) === 0 && !busy) {
        o.ms = Date.now() - sentAt.get(o)!;
        waiting.delete(o);
      }
    }
  }
  for (const o of waiting) o.error = `not idle within ${timeoutMs} ms (${model.pendingFor(o.key)} steps unanswered)`;
  const ms = Date.now() - started;

  await Promise.all(
    outcomes.map(async (o) => {
      if (!o.sessionID) return;
      const parts = await served.toolParts(o.sessionID).catch(() => []);
      o.tools = parts.map((p) => ({ tool: p.tool, status: p.state.status, ...(p.state.error ? { error: String(p.state.error) } : {}) }));
      if (o.error !== undefined) return;
      const expected = toolCallsOf(scripts[o.index - 1]!.steps);
      const failed = o.tools.filter((t) => t.status !== "completed");
      if (failed.length > 0) o.error = `tool calls not completed: ${JSON.stringify(failed)}`;
      else if (o.tools.length !== expected) o.error = `${o.tools.length} tool calls, expected ${expected}`;
      else o.ok = true;
    }),
  );
  return { outcomes, ms, toolCalls: scripts.reduce((n, s) => n + toolCallsOf(s.steps), 0) };
}
