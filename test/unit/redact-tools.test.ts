import type { ToolContext, ToolDefinition } from "@opencode-ai/plugin";
import { describe, expect, it } from "vitest";
import { redactTools, secretValues } from "../../.opencode/plugin/sandbox/opencode/redact-tools.js";

const TOKEN = "tok-1234567890";
const LONGER = `${TOKEN}-and-more`;

function context() {
  const streamed: unknown[] = [];
  const asked: unknown[] = [];
  const ctx = {
    sessionID: "s",
    messageID: "m",
    agent: "build",
    directory: "/p",
    worktree: "/p",
    abort: new AbortController().signal,
    metadata: (input: unknown) => void streamed.push(input),
    ask: async (input: unknown) => void asked.push(input),
  } as unknown as ToolContext;
  return { ctx, streamed, asked };
}

const toolOf = (execute: ToolDefinition["execute"]): ToolDefinition => ({ description: "d", args: {}, execute });

describe("secretEnv values never come out of a tool", () => {
  it.each([
    ["a string result", async () => `token=${TOKEN}\n`, `token=[REDACTED]\n`],
    [
      "output, title and nested metadata",
      async () => ({ title: `echo ${TOKEN}`, output: `${TOKEN} ${TOKEN}`, metadata: { output: [TOKEN], exit: 0, deep: { a: `x${TOKEN}y` } } }),
      { title: "echo [REDACTED]", output: "[REDACTED] [REDACTED]", metadata: { output: ["[REDACTED]"], exit: 0, deep: { a: "x[REDACTED]y" } } },
    ],
    ["a value holding another, longest first", async () => `${LONGER} ${TOKEN}`, "[REDACTED] [REDACTED]"],
    ["nothing to redact", async () => "plain output", "plain output"],
  ])("%s", async (_what, execute, expected) => {
    const tools = redactTools({ t: toolOf(execute as ToolDefinition["execute"]) }, secretValues({ sandboxEnv: { A: TOKEN, B: LONGER, C: "short" }, secretEnv: ["A", "B", "C"] }));
    expect(await tools.t.execute({}, context().ctx)).toEqual(expected);
  });

  it("what a tool streams while it runs and shows in a permission prompt is redacted too", async () => {
    const tools = redactTools(
      {
        t: toolOf(async (_args, ctx) => {
          ctx.metadata({ metadata: { output: `so far ${TOKEN}` } });
          await ctx.ask({ permission: "edit", patterns: ["f"], always: ["f"], metadata: { diff: `+${TOKEN}` } });
          return "ok";
        }),
      },
      [TOKEN],
    );
    const { ctx, streamed, asked } = context();
    await tools.t.execute({}, ctx);
    expect(streamed).toEqual([{ metadata: { output: "so far [REDACTED]" } }]);
    expect(asked).toEqual([{ permission: "edit", patterns: ["f"], always: ["f"], metadata: { diff: "+[REDACTED]" } }]);
  });

  it("an error's text is redacted", async () => {
    const tools = redactTools({ t: toolOf(async () => { throw new Error(`failed: ${TOKEN}`); }) }, [TOKEN]);
    await expect(tools.t.execute({}, context().ctx)).rejects.toThrow("failed: [REDACTED]");
  });

  it.each([
    ["values shorter than 6 characters are not redacted (they would mask ordinary words)", { sandboxEnv: { A: "12345" }, secretEnv: ["A"] }, []],
    ["only the entries secretEnv names", { sandboxEnv: { A: TOKEN, PLAIN: "visible-value" }, secretEnv: ["A"] }, [TOKEN]],
    ["a name without a sandboxEnv entry adds nothing", { sandboxEnv: {}, secretEnv: ["MISSING"] }, []],
  ])("secretValues: %s", (_what, config, expected) => {
    expect(secretValues(config)).toEqual(expected);
  });

  it("without secrets the tools are the same objects", () => {
    const tools = { t: toolOf(async () => "x") };
    expect(redactTools(tools, [])).toBe(tools);
  });
});
