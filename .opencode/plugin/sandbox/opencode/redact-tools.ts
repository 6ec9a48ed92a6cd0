/**
 * `secretEnv` values stay in the sandbox: commands there see them, but whatever a sandboxed
 * tool hands back — its output, title and metadata, what it streams while it runs, what a
 * permission prompt shows, the text of an error it throws — has them replaced with
 * [REDACTED]. So an agent that echoes a token (or reads a file holding it) sends it neither
 * to the model's provider nor into OpenCode's database. A guard against exposure by
 * accident, not against an agent set on smuggling a value out (`base64` of it passes).
 */
import type { ToolContext, ToolDefinition } from "@opencode-ai/plugin";
import type { Config } from "../config.js";

export const REDACTED = "[REDACTED]";
/** Shorter values would mask ordinary words and numbers all over the output (the log's bound too). */
export const MIN_REDACTED_LENGTH = 6;

/** The values of the `sandboxEnv` entries named in `secretEnv`, longest first (one may contain another). */
export function secretValues(config: Pick<Config, "sandboxEnv" | "secretEnv">): string[] {
  const values = config.secretEnv.map((name) => config.sandboxEnv[name]).filter((v): v is string => !!v && v.length >= MIN_REDACTED_LENGTH);
  return [...new Set(values)].sort((a, b) => b.length - a.length);
}

export function redactText(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  return out;
}

/** Strings anywhere in a JSON-like value; anything else as it is. */
export function redactDeep<T>(value: T, secrets: string[]): T {
  if (typeof value === "string") return redactText(value, secrets) as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, secrets)) as T;
  if (value && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactDeep(v, secrets)])) as T;
  return value;
}

function redactContext(ctx: ToolContext, secrets: string[]): ToolContext {
  return {
    ...ctx,
    metadata: (input) => ctx.metadata(redactDeep(input, secrets)),
    ask: (input) => ctx.ask({ ...input, metadata: redactDeep(input.metadata, secrets) }),
  };
}

/** The same tools, each with its results redacted; unchanged when there is nothing to redact. */
export function redactTools<T extends Record<string, ToolDefinition>>(tools: T, secrets: string[]): T {
  if (secrets.length === 0) return tools;
  const out: Record<string, ToolDefinition> = {};
  for (const [id, def] of Object.entries(tools))
    out[id] = {
      ...def,
      async execute(args, ctx) {
        try {
          return redactDeep(await def.execute(args, redactContext(ctx, secrets)), secrets);
        } catch (error) {
          if (error instanceof Error) error.message = redactText(error.message, secrets);
          throw error;
        }
      },
    };
  return out as T;
}
