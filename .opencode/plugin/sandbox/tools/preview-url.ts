/** A link the user can open to a server the agent started in the sandbox. */
import { tool } from "@opencode-ai/plugin";
import type { ToolDeps } from "./deps.js";

const DESCRIPTION = `Get a URL the user can open in a browser for a server listening on a port inside the sandbox.
Start the server in the background first (e.g. \`python3 -m http.server 8000 > /tmp/server.log 2>&1 &\`), make sure it listens on 0.0.0.0 or 127.0.0.1 inside the sandbox, then call this tool with its port.`;

export function previewUrlTool(deps: ToolDeps) {
  return tool({
    description: DESCRIPTION,
    args: {
      port: tool.schema.number().int().min(1).max(65535).describe("The port the server listens on inside the sandbox"),
    },
    async execute(args, ctx) {
      const sandbox = await deps.sandboxFor(ctx.sessionID);
      const link = await sandbox.previewUrl(args.port);
      const headers = Object.keys(link.headers ?? {});
      // The title is what the TUI shows for the call: without the link in it, the user sees only the port.
      const title = `Port ${args.port}: ${link.url}`;
      ctx.metadata({ title, metadata: { url: link.url, port: args.port } });
      const output = headers.length
        ? `${link.url}\n(requests need the header${headers.length > 1 ? "s" : ""} ${headers.join(", ")}; the user's browser link is the URL above)`
        : link.url;
      return { title, output, metadata: { url: link.url, port: args.port } };
    },
  });
}
