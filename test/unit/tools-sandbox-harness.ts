/** Shared fixtures for the bash/glob/grep/webfetch/guard unit tests (not a test file itself). */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ToolContext } from "@opencode-ai/plugin";
import { z } from "zod";
import { ConfigSchema } from "../../.opencode/plugin/sandbox/config.js";
import type { Logger } from "../../.opencode/plugin/sandbox/core/logger.js";
import type { Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import type { ToolDeps } from "../../.opencode/plugin/sandbox/tools/deps.js";
import { DirProvider } from "../support/dir-provider.js";
import { KeyedQueue } from "../../.opencode/plugin/sandbox/util/keyed-queue.js";

/** The host project path the model sees; deliberately NOT where the sandbox keeps the files. */
export const HOST_DIR = "/host/proj";

export const nullLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  addSecret() {},
  async flush() {},
};

export interface Env {
  sandbox: Sandbox;
  deps: ToolDeps;
  /** The sandbox's project directory (a real directory on this machine). */
  root: string;
  cleanup(): Promise<void>;
}

export async function makeEnv(options: { env?: Record<string, string>; wrap?: (s: Sandbox) => Sandbox } = {}): Promise<Env> {
  const base = mkdtempSync(join(tmpdir(), "tools-test-"));
  const provider = new DirProvider(base);
  const raw = await provider.create({ labels: {}, env: options.env });
  const sandbox = options.wrap ? options.wrap(raw) : raw;
  const deps: ToolDeps = {
    directory: HOST_DIR,
    sandboxFor: async () => sandbox,
    config: ConfigSchema.parse({}),
    log: nullLogger,
    locks: new KeyedQueue(),
  };
  return {
    sandbox,
    deps,
    root: sandbox.projectDir,
    async cleanup() {
      rmSync(base, { recursive: true, force: true });
    },
  };
}

export interface AskRequest {
  permission: string;
  patterns: string[];
  always: string[];
  metadata: Record<string, unknown>;
}

/** A minimal ToolContext: records asks and metadata; `deny` makes ask reject like a deny rule. */
export function fakeCtx(options: { deny?: (req: AskRequest) => boolean; directory?: string } = {}) {
  const asks: AskRequest[] = [];
  const metadata: { title?: string; metadata?: Record<string, unknown> }[] = [];
  const controller = new AbortController();
  const ctx: ToolContext = {
    sessionID: "ses_test",
    messageID: "msg_test",
    agent: "build",
    directory: options.directory ?? HOST_DIR,
    worktree: options.directory ?? HOST_DIR,
    abort: controller.signal,
    metadata(input) {
      metadata.push(input);
    },
    async ask(input) {
      asks.push(input);
      if (options.deny?.(input)) throw new Error(`permission denied: ${input.permission} ${input.patterns.join(", ")}`);
    },
  };
  return { ctx, asks, metadata, controller };
}

/** OpenCode's permission wildcard: `*` matches anything (also `git push*` vs `git push origin`). */
export function wildcard(rule: string, value: string): boolean {
  const re = new RegExp(`^${rule.split("*").map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`, "s");
  return re.test(value);
}

type AnyTool = { args: z.ZodRawShape; execute(args: any, ctx: ToolContext): Promise<unknown> };

/** Validate args like OpenCode does (defaults applied), then run the tool. */
export async function run(tool: AnyTool, args: Record<string, unknown>, ctx: ToolContext) {
  const parsed = z.object(tool.args).parse(args);
  const result = await tool.execute(parsed, ctx);
  return result as { title: string; output: string; metadata: Record<string, any>; attachments?: any[] };
}

/** A PATH with the usual tools but without the given commands (e.g. no rg, no curl). */
export function pathWithout(exclude: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), "tools-path-"));
  const wanted = ["sh", "bash", "git", "find", "grep", "head", "xargs", "mktemp", "cat", "rm", "dirname", "mkdir", "printf",
    "echo", "env", "ls", "seq", "sleep", "touch", "pwd", "sort", "tr", "sed", "rg", "curl", "wget", "base64", "uname"];
  for (const name of wanted) {
    if (exclude.includes(name)) continue;
    try {
      const target = execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
      if (target.startsWith("/")) symlinkSync(target, join(dir, name));
    } catch {}
  }
  mkdirSync(join(dir, ".keep"), { recursive: true });
  return dir;
}

export function hasCommand(name: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
