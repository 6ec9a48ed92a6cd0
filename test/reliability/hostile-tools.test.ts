/**
 * The hostile-input corpus against the tools (hostile/corpus-tools.ts): every call goes
 * through the tools as the plugin builds them (createSandboxPlugin, arguments validated
 * as OpenCode validates them) into one real local bubblewrap sandbox shared by the
 * cases. Each case: a clear error or the expected result, no host canary in what came
 * back, and the host untouched (repository, .git, home, the folder beside the project).
 * The last case syncs the sandbox the corpus left behind (FIFOs, links out, odd names,
 * 2 million lines, 64 MiB lines …) through the real sync path: only opencode/1 appears.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { ToolContext } from "@opencode-ai/plugin";
import { lacks, missingBwrap, missingCommand } from "../support/prereq.js";
import { CANARIES, makeWorld, type World } from "./hostile/world.js";
import { hostChanges } from "./support/host-hash.js";
import { TOOL_ARENA, TOOL_CASES, type ToolCase } from "./hostile/corpus-tools.js";

const world: World = await makeWorld("hostile-tools");
// After makeWorld: the plugin's paths come from HOME/XDG_DATA_HOME when its modules load.
const { createSandboxPlugin } = await import("../../.opencode/plugin/sandbox/opencode/plugin.js");

type Hooks = Awaited<ReturnType<typeof createSandboxPlugin>>;
type AnyTool = { args: z.ZodRawShape; execute(args: any, ctx: ToolContext): Promise<any> };

const SESSION = "ses_hostile_tools";
let hooks: Hooks;
const toasts: string[] = [];
let background = "";

function ctx(): ToolContext {
  return {
    sessionID: SESSION,
    messageID: "msg_hostile",
    agent: "build",
    directory: world.repo,
    worktree: world.repo,
    abort: new AbortController().signal,
    metadata() {},
    async ask() {},
  };
}

/** A tool call as OpenCode makes it: the guard, the arguments parsed by the tool's schema, execute. */
async function call(id: string, args: Record<string, unknown>): Promise<string> {
  await hooks["tool.execute.before"]!({ tool: id, sessionID: SESSION, callID: "c" }, { args });
  const tool = (hooks.tool as Record<string, AnyTool>)[id];
  const parsed = z.object(tool.args).safeParse(args);
  if (!parsed.success) throw new Error(`The ${id} tool was called with invalid arguments: ${z.prettifyError(parsed.error)}`);
  const result = await tool.execute(parsed.data, ctx());
  if (id === "bash" && args.background) background = result.metadata.id;
  return typeof result === "string" ? result : result.output;
}

async function sh(command: string): Promise<string> {
  const out = await call("bash", { command: `${command}\necho "@@rc=$?"`, timeout: 280_000 });
  if (!out.includes("@@rc=0")) throw new Error(`setup failed: ${command}\n${out.slice(-2000)}`);
  return out;
}

describe("hostile input to the tools, on a real local sandbox", () => {
  if (lacks(missingBwrap(), missingCommand("git"))) return;

  beforeAll(async () => {
    const client = {
      tui: { showToast: async (x: { body: { message: string } }) => void toasts.push(x.body.message) },
      session: { get: async () => ({ data: { title: "hostile" } }) },
    };
    hooks = await createSandboxPlugin({ client, project: { id: "hostile-tools" }, directory: world.repo, worktree: world.repo } as never, {
      local: { network: "isolated" },
    });
    await sh(world.fill(TOOL_ARENA));
  }, 300_000);

  afterAll(async () => {
    // The corpus's big files go first: the session's last sync would bring them back.
    await sh("rm -rf heavy").catch(() => {});
    await hooks?.event!({ event: { type: "session.deleted", properties: { info: { id: SESSION } } } as never });
    await hooks?.dispose?.();
    await world.close();
  }, 300_000);

  it.each(TOOL_CASES.map((c) => [`[${c.class}] ${c.name}`, c] as const))("%s", async (_name, c: ToolCase) => {
    if (c.setup) await sh(world.fill(c.setup));
    const before = world.print();
    const args = world.fill(c.args, { "@BG": background });
    const outcome = await call(c.tool, args).then(
      (text) => ({ ok: true, text }),
      (error: Error) => ({ ok: false, text: String(error?.message ?? error) }),
    );
    const shown = outcome.text.length > 600 ? `${outcome.text.slice(0, 300)} … ${outcome.text.slice(-300)}` : outcome.text;
    if (process.env.HOSTILE_TRACE) console.log(`${c.name} => ${outcome.ok ? "ok" : "error"}: ${shown.slice(0, 400)}`);
    if ("ok" in c.expect) {
      expect(outcome.ok, `expected a result, got the error: ${shown}`).toBe(true);
      expect(outcome.text).toMatch(c.expect.ok);
    } else {
      expect(outcome.ok, `expected an error, got: ${shown}`).toBe(false);
      expect(outcome.text).toMatch(c.expect.error);
      // A clear error: words, not a stack or an object dump.
      expect(outcome.text).not.toMatch(/^\s*at |\[object Object\]|undefined$/m);
    }
    // What the model sees stays bounded (OpenCode's own caps are 2,000 lines or 50 KB).
    expect(Buffer.byteLength(outcome.text)).toBeLessThan(64 * 1024);
    expect(world.leaked(outcome.text)).toEqual([]);
    expect(world.changes(before)).toEqual([]);
  }, 90_000);

  it("[sync] the tree the corpus left (FIFO, links out, odd names, huge files) syncs to opencode/1 and nothing else", async () => {
    const before = world.print();
    // Files the sync budget (100 MB) would refuse are the agent's to clean; the rest goes.
    await sh("rm -rf heavy");
    // The branch exists since the seed: the sync is done when it moved and its scratch files
    // (a bundle under .git/opencode-sandboxed/tmp) are gone again (the bound only catches a hang).
    const start = before.refs.get("refs/heads/opencode/1");
    const expected = ["refs/heads/opencode/1", "refs/opencode-sandboxed/sessions/ses_hostile_tools"];
    await hooks.event!({ event: { type: "session.idle", properties: { sessionID: SESSION } } as never });
    const deadline = Date.now() + 240_000;
    const done = () => {
      const now = world.print();
      return now.refs.get("refs/heads/opencode/1") !== start && hostChanges(before, now, expected).length === 0;
    };
    while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    expect(world.print().refs.get("refs/heads/opencode/1")).not.toBe(start);
    expect(world.changes(before, expected)).toEqual([]);
    const { execFileSync } = await import("node:child_process");
    const files = execFileSync("git", ["-C", world.repo, "ls-tree", "-r", "--name-only", "-z", "opencode/1"], { encoding: "utf8" }).split("\0");
    expect(files).toContain("link-home-key");
    expect(files).not.toContain("fifo");
    const all = execFileSync("git", ["-C", world.repo, "log", "-p", "opencode/1"], { encoding: "latin1", maxBuffer: 512 * 1024 * 1024 });
    expect(world.leaked(all)).toEqual([]);
    expect(toasts.join("\n")).not.toContain(CANARIES.env);
  }, 300_000);
});
