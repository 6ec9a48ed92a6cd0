/**
 * A scripted model: an OpenAI-compatible chat-completions server on 127.0.0.1 that
 * answers each agent request with the script's next step and records every request,
 * so a test can assert on the tool results and system prompt the model received.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type Step =
  /** Call one or several tools (several = parallel calls in one response). */
  | { tool: string; args: Record<string, unknown> }
  | { tools: { tool: string; args: Record<string, unknown> }[] }
  | { text: string };

/** A step, or a function of the request (e.g. to branch on the last tool result). */
export type ScriptItem = Step | ((request: ChatRequest) => Step);

export interface ChatMessage {
  role: string;
  content?: unknown;
  tool_calls?: { id: string; function: { name: string; arguments: string } }[];
  tool_call_id?: string;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  tools?: { function: { name: string } }[];
  stream?: boolean;
}

const text = (content: unknown): string =>
  typeof content === "string"
    ? content
    : Array.isArray(content)
      ? content.map((p) => (typeof p === "string" ? p : (p?.text ?? ""))).join("")
      : "";

/**
 * A marker for a session's first user message: requests of that conversation are answered
 * from the script routed to `key` (see ModelServer.route), so many sessions can run at once.
 */
export const scriptMarker = (key: string): string => `[script:${key}]`;
const MARKER = /\[script:([\w.-]+)\]/;

/** The routing key of a request: the marker in its first user message, if any. */
function routeKey(request: ChatRequest): string | undefined {
  const first = request.messages.find((m) => m.role === "user");
  return first ? MARKER.exec(text(first.content))?.[1] : undefined;
}

export class ModelServer {
  /** Every chat request, in order (title requests included). */
  readonly requests: ChatRequest[] = [];
  private script: ScriptItem[] = [];
  /** Per-conversation scripts, by the key of the marker in their first user message. */
  private readonly routes = new Map<string, ScriptItem[]>();
  private server!: Server;
  private calls = 0;
  url = "";

  static async start(): Promise<ModelServer> {
    const model = new ModelServer();
    model.server = createServer((req, res) => model.handle(req, res).catch((e) => {
      res.writeHead(500).end(String(e));
    }));
    await new Promise<void>((r) => model.server.listen(0, "127.0.0.1", r));
    model.url = `http://127.0.0.1:${(model.server.address() as AddressInfo).port}/v1`;
    return model;
  }

  /** Steps of the script not answered yet. */
  get pending(): number {
    return this.script.length;
  }

  /** Replace what the model answers to the next agent requests (those without a routed marker). */
  set(script: ScriptItem[]): void {
    this.script = [...script];
  }

  /** Answer the conversation whose first user message holds scriptMarker(key) from this script. */
  route(key: string, script: ScriptItem[]): void {
    this.routes.set(key, [...script]);
  }

  /** Steps of a routed script not answered yet (0 for an unknown key). */
  pendingFor(key: string): number {
    return this.routes.get(key)?.length ?? 0;
  }

  /** Requests that offered tools (agent turns, not title generation). */
  get agentRequests(): ChatRequest[] {
    return this.requests.filter((r) => r.tools?.length);
  }

  /** The tool results the model received, in order, as text. */
  toolResults(): string[] {
    const seen = new Set<string>();
    const out: string[] = [];
    for (const r of this.requests)
      for (const m of r.messages)
        if (m.role === "tool" && m.tool_call_id && !seen.has(m.tool_call_id)) {
          seen.add(m.tool_call_id);
          out.push(text(m.content));
        }
    return out;
  }

  /** The latest tool result the model received. */
  lastToolResult(): string {
    return this.toolResults().at(-1) ?? "";
  }

  /** The system prompt of the latest agent request. */
  systemPrompt(): string {
    const r = this.agentRequests.at(-1);
    return r ? r.messages.filter((m) => m.role === "system").map((m) => text(m.content)).join("\n") : "";
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private async handle(req: IncomingMessage, res: import("node:http").ServerResponse) {
    if (req.method === "GET" && req.url?.endsWith("/models")) {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ object: "list", data: [] }));
      return;
    }
    let body = "";
    for await (const chunk of req) body += chunk;
    const request = JSON.parse(body) as ChatRequest;
    this.requests.push(request);
    const step: Step = !request.tools?.length
      ? { text: "Scripted session" } // title generation
      : this.next(request);
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    for (const chunk of this.chunks(request.model, step)) res.write(`data: ${JSON.stringify(chunk)}\n\n`);
    res.end("data: [DONE]\n\n");
  }

  private next(request: ChatRequest): Step {
    const key = routeKey(request);
    const script = (key !== undefined && this.routes.get(key)) || this.script;
    const item = script.shift();
    if (!item) return { text: "Done." }; // an unscripted turn ends quietly
    return typeof item === "function" ? item(request) : item;
  }

  private *chunks(model: string, step: Step) {
    const base = { id: `chatcmpl-${++this.calls}`, object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model };
    const usage = { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 };
    if ("text" in step) {
      yield { ...base, choices: [{ index: 0, delta: { role: "assistant", content: step.text }, finish_reason: null }] };
      yield { ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] };
    } else {
      const calls = "tools" in step ? step.tools : [step];
      for (const [index, call] of calls.entries()) {
        const id = `call_${this.calls}_${index}`;
        yield { ...base, choices: [{ index: 0, delta: { role: "assistant", tool_calls: [{ index, id, type: "function", function: { name: call.tool, arguments: "" } }] }, finish_reason: null }] };
        yield { ...base, choices: [{ index: 0, delta: { tool_calls: [{ index, function: { arguments: JSON.stringify(call.args) } }] }, finish_reason: null }] };
      }
      yield { ...base, choices: [{ index: 0, delta: {}, finish_reason: "tool_calls" }] };
    }
    yield { ...base, choices: [], usage };
  }
}
