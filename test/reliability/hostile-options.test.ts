/**
 * The options part of the hostile-input corpus (hostile/corpus-options.ts), through the
 * real configuration parsing (loadConfig: options, environment, the project's .env) and
 * through the plugin itself: it loads with the bad options, says what is wrong in a
 * toast, and a tool that needs the sandbox fails with the same message — no sandbox is
 * made, nothing is written on the host.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { ToolContext } from "@opencode-ai/plugin";
import { makeWorld, type World } from "./hostile/world.js";
import { OPTION_CASES, type OptionCase } from "./hostile/corpus-options.js";

const world: World = await makeWorld("hostile-options");
const { loadConfig, ConfigError } = await import("../../.opencode/plugin/sandbox/config.js");
const { createSandboxPlugin } = await import("../../.opencode/plugin/sandbox/opencode/plugin.js");

afterAll(() => world.close());

describe("invalid plugin options", () => {
  it.each(OPTION_CASES.map((c) => [`[${c.class}] ${c.name}`, c] as const))("%s", async (_name, c: OptionCase) => {
    const dotenv = join(world.repo, ".env");
    if (c.dotenv) writeFileSync(dotenv, c.dotenv);
    const saved = { ...process.env };
    Object.assign(process.env, c.env ?? {});
    try {
      const before = world.print();
      const options = JSON.parse(c.options) as Record<string, unknown>;
      let thrown: unknown;
      try {
        loadConfig({ options, directory: world.repo });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      expect((thrown as Error).message).toMatch(/^opencode-sandboxed: invalid configuration — /);
      expect((thrown as Error).message).toMatch(c.expect);

      // The plugin as OpenCode loads it: no throw, a toast, and the tools say why.
      const toasts: string[] = [];
      const client = { tui: { showToast: async (x: { body: { message: string } }) => void toasts.push(x.body.message) }, session: { get: async () => ({ data: {} }) } };
      const hooks = await createSandboxPlugin({ client, project: { id: "hostile-options" }, directory: world.repo, worktree: world.repo } as never, options);
      const read = (hooks.tool as Record<string, { args: z.ZodRawShape; execute(a: unknown, ctx: ToolContext): Promise<unknown> }>).read;
      const ctx = { sessionID: "ses_opt", directory: world.repo, worktree: world.repo, abort: new AbortController().signal, metadata() {}, async ask() {} } as unknown as ToolContext;
      await expect(read.execute(z.object(read.args).parse({ filePath: join(world.repo, "a.txt") }), ctx)).rejects.toThrow(c.expect);
      await hooks.dispose?.();
      expect(toasts.join("\n")).toMatch(c.expect);
      expect(world.changes(before)).toEqual([]);
    } finally {
      rmSync(dotenv, { force: true });
      writeFileSync(dotenv, "SECRET=HOSTILE-DOTENV-CANARY-77b0\n");
      for (const k of Object.keys(c.env ?? {})) if (saved[k] === undefined) delete process.env[k];
      Object.assign(process.env, saved);
    }
  }, 60_000);
});
