/**
 * What a session costs on Daytona, in HTTP requests (prints, never asserts): each tool
 * call, a sync and a preview link, counted on the wire by the Daytona stand-in (the real
 * SDK's own retries and socket.io attempts included), with the sandbox already running.
 * Run: npm run bench -- daytona   (needs root + bubblewrap: the stand-in runs local sandboxes)
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
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
import { startDaytonaStandin } from "../test/standin/daytona/index.js";

const CALLS = Number(process.env.BENCH_CALLS ?? 5);
type AnyTool = { args: z.ZodRawShape; execute(args: any, ctx: ToolContext): Promise<unknown> };

async function main() {
  const standin = await startDaytonaStandin({ daemon: "shell" });
  const repo = mkdtempSync(join(tmpdir(), "bench-dt-"));
  const git = (...a: string[]) => execFileSync("git", a, { cwd: repo, encoding: "utf8", env: { ...process.env, GIT_AUTHOR_NAME: "b", GIT_AUTHOR_EMAIL: "b@x", GIT_COMMITTER_NAME: "b", GIT_COMMITTER_EMAIL: "b@x" } });
  git("init", "-q", "-b", "main");
  for (let i = 0; i < 20; i++) writeFileSync(join(repo, `file${i}.ts`), `export const v${i} = ${i}; // TODO ${i}\n`);
  git("add", "-A");
  git("commit", "-qm", "initial");
  const config = ConfigSchema.parse({ provider: "daytona", sync: { debounceMs: 0 } });
  const { apiKey: _, ...daytona } = config.daytona;
  const provider = new DaytonaProvider({ ...daytona, apiKey: standin.apiKey, apiUrl: standin.apiUrl, target: "us", installationId: "bench00000000000", log: silentLogger });
  const service = new ProjectService({ projectId: "bench", worktree: repo, directory: repo, config, log: silentLogger, notify: () => {}, stateDir: join(repo, ".state"), provider: async () => provider });
  const deps: ToolDeps = { directory: repo, config, log: silentLogger, locks: new KeyedQueue(), seen: new SeenFiles(), sandboxFor: (id) => service.sandboxFor(id) };
  const ctx = { sessionID: "ses_bench", messageID: "m", agent: "build", directory: repo, worktree: repo, abort: new AbortController().signal, metadata() {}, async ask() {} } as unknown as ToolContext;
  const run = (tool: AnyTool, args: Record<string, unknown>) => tool.execute(z.object(tool.args).parse(args), ctx);
  const cost = async (fn: () => Promise<unknown>) => {
    standin.resetRequests();
    await fn();
    return standin.requests.length;
  };
  try {
    const first = await cost(() => service.sandboxFor("ses_bench"));
    const rows: [string, number[]][] = [];
    const measure = async (name: string, fn: (i: number) => Promise<unknown>) => {
      const counts: number[] = [];
      for (let i = 0; i < CALLS; i++) counts.push(await cost(() => fn(i)));
      rows.push([name, counts]);
    };
    await measure("read", () => run(readTool(deps), { filePath: join(repo, "file1.ts") }));
    await measure("write (small)", (i) => run(writeTool(deps), { filePath: join(repo, `out${i}.txt`), content: `call ${i}\n` }));
    await measure("write (after a read)", async (i) => {
      await run(readTool(deps), { filePath: join(repo, "file3.ts") });
      standin.resetRequests();
      await run(writeTool(deps), { filePath: join(repo, "file3.ts"), content: `export const v3 = ${i};\n` });
    });
    await measure("edit", (i) => run(editTool(deps), { filePath: join(repo, "file2.ts"), oldString: `v2 = ${i + 2}`, newString: `v2 = ${i + 3}` }));
    await measure("glob", () => run(globTool(deps), { pattern: "**/*.ts" }));
    await measure("grep", () => run(grepTool(deps), { pattern: "TODO 1\\d" }));
    await measure("bash", () => run(bashTool(deps), { command: "ls | wc -l", description: "count" }));
    await measure("sync (one changed file)", async (i) => {
      await (await service.sandboxFor("ses_bench")).writeFile(`sync${i}.txt`, `${i}\n`);
      standin.resetRequests();
      await service.sync("ses_bench");
    });
    const sandbox = await service.sandboxFor("ses_bench");
    await measure("preview link", () => sandbox.previewUrl(8000));

    console.log(`requests on the wire per call, sandbox running (${CALLS} calls each; the stand-in counts every request)`);
    console.log("what                       median  min  max");
    for (const [name, counts] of rows) {
      const sorted = [...counts].sort((a, b) => a - b);
      console.log(`${name.padEnd(26)} ${String(sorted[Math.floor(sorted.length / 2)]).padStart(6)} ${String(sorted[0]).padStart(4)} ${String(sorted.at(-1)).padStart(4)}`);
    }
    console.log(`first tool call of a session (create, start, seed): ${first} requests`);
  } finally {
    await service.dispose();
    await provider.dispose();
    await standin.close();
    rmSync(repo, { recursive: true, force: true });
  }
}

await main();
