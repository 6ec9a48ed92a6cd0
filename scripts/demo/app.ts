/**
 * The scripted session of the demo: the model writes a small web app (a page and a
 * Node server for it), starts the server with bash's background mode, and says where
 * it runs. Offline: every answer comes from this script.
 */
import { join } from "node:path";
import type { Step } from "../../harness/model-server.js";

export const PORT = 3000;

/** The page's first line is what the demo prints when the link answers. */
export const INDEX_HTML = `<!doctype html><title>Hello from the sandbox</title>
<meta charset="utf-8">
<style>body { font: 18px system-ui, sans-serif; margin: 3em; }</style>
<h1>Hello from the sandbox</h1>
<p>This page was written by an OpenCode agent inside a local bubblewrap sandbox, and is served from there.</p>
<p>Server time: <span id="time">…</span></p>
<script>fetch("/api/time").then((r) => r.json()).then((t) => (document.getElementById("time").textContent = t.now));</script>
`;

export const SERVER_JS = `// A tiny web app: the page, and the server's time as JSON.
const http = require("node:http");
const fs = require("node:fs");
const path = require("node:path");

const page = fs.readFileSync(path.join(__dirname, "index.html"));
const port = Number(process.env.PORT) || ${PORT};

http
  .createServer((req, res) => {
    if (req.url === "/api/time") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ now: new Date().toISOString() }));
      return;
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(page);
  })
  .listen(port, () => console.log(\`listening on \${port}\`));
`;

export const PROMPT = "Write a small web app (a page and a Node server for it) and start it.";

/** The files the agent writes, by their path in the project. */
export const APP_FILES: Record<string, string> = { "index.html": INDEX_HTML, "server.js": SERVER_JS };

/** `project` is the repository as OpenCode sees it (the plugin maps it into the sandbox). */
export function script(project: string): Step[] {
  return [
    ...Object.entries(APP_FILES).map(([name, content]): Step => ({ tool: "write", args: { filePath: join(project, name), content } })),
    { tool: "bash", args: { command: "node server.js", description: "Start the web app", background: true } },
    { text: `The app runs on port ${PORT}: the link above opens it.` },
  ];
}
