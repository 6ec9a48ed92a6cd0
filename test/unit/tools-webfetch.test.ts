import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { shq } from "../../.opencode/plugin/sandbox/tools/shared.js";
import { htmlToMarkdown, htmlToText, webfetchTool } from "../../.opencode/plugin/sandbox/tools/webfetch.js";
import { fakeCtx, makeEnv, pathWithout, run, type Env } from "./tools-sandbox-harness.js";
import { lacks, missingBwrap } from "../support/prereq.js";

const HTML =
  "<html><head><title>T</title><style>x{}</style></head><body><h1>Hi</h1><p>Some <b>bold</b> text</p><ul><li>a</li><li>b</li></ul><script>var x=1</script></body></html>";
const PNG = Buffer.from("89504e470d0a1a0a0000000d4948445200000001000000010806000000", "hex");
const SECRET = "host-loopback-secret-7f3a";

let server: Server;
let base: string;
let env: Env;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === "/page") return res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(HTML);
    if (req.url === "/plain") return res.writeHead(200, { "content-type": "text/plain" }).end("just text\n");
    if (req.url === "/img") return res.writeHead(200, { "content-type": "image/png" }).end(PNG);
    if (req.url === "/secret") return res.writeHead(200, { "content-type": "text/plain" }).end(SECRET);
    if (req.url === "/redirect") return res.writeHead(302, { location: "/plain" }).end();
    if (req.url === "/ua") return res.writeHead(200, { "content-type": "text/plain" }).end(`${req.headers["user-agent"]}|${req.headers.accept}`);
    res.writeHead(404).end("nope");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  env = await makeEnv();
});
afterAll(async () => {
  server.close();
  await env.cleanup();
});

describe("webfetch through the sandbox", () => {
  it.each([
    { format: "markdown", path: "/page", output: "T\n\n# Hi\n\nSome **bold** text\n\n-   a\n-   b" },
    { format: "text", path: "/page", output: "THiSome bold textab" },
    { format: "html", path: "/page", output: HTML },
    { format: "markdown", path: "/plain", output: "just text\n" },
    { format: "markdown", path: "/redirect", output: "just text\n" },
  ])("$format of $path", async ({ format, path, output }) => {
    const { ctx, asks } = fakeCtx();
    const res = await run(webfetchTool(env.deps), { url: base + path, format }, ctx);
    expect(res.output).toBe(output);
    expect(asks).toEqual([
      { permission: "webfetch", patterns: [base + path], always: ["*"], metadata: { url: base + path, format, timeout: undefined } },
    ]);
  });

  it("titles with the url and content type", async () => {
    const res = await run(webfetchTool(env.deps), { url: `${base}/page` }, fakeCtx().ctx);
    expect(res.title).toBe(`${base}/page (text/html; charset=utf-8)`);
  });

  it("sends the built-in's headers", async () => {
    const res = await run(webfetchTool(env.deps), { url: `${base}/ua`, format: "text" }, fakeCtx().ctx);
    expect(res.output).toBe(
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/143.0.0.0 Safari/537.36|text/plain;q=1.0, text/markdown;q=0.9, text/html;q=0.8, */*;q=0.1",
    );
  });

  it("returns images as attachments, bytes intact", async () => {
    const res = await run(webfetchTool(env.deps), { url: `${base}/img` }, fakeCtx().ctx);
    expect(res.output).toBe("Image fetched successfully");
    expect(res.attachments).toEqual([{ type: "file", mime: "image/png", url: `data:image/png;base64,${PNG.toString("base64")}` }]);
  });

  it.each([
    { url: "ftp://example.com/x", error: "URL must start with http:// or https://" },
    { url: "/missing", error: "StatusCode: non 2xx status code (404 GET {base}/missing)" },
    { url: "http://127.0.0.1:1/", error: "Transport error (GET http://127.0.0.1:1/)" },
  ])("fails like the built-in: $url", async ({ url, error }) => {
    const full = url.startsWith("/") ? base + url : url;
    await expect(run(webfetchTool(env.deps), { url: full }, fakeCtx().ctx)).rejects.toThrow(error.replace("{base}", base));
  });

  it("refuses clearly when the sandbox has no curl or wget (never fetches from the host)", async () => {
    const bare = await makeEnv({ env: { PATH: pathWithout(["curl", "wget"]) } });
    try {
      await expect(run(webfetchTool(bare.deps), { url: `${base}/secret` }, fakeCtx().ctx)).rejects.toThrow(/the sandbox has neither curl nor wget/);
    } finally {
      await bare.cleanup();
    }
  });

  it("converts like the built-in's turndown/htmlparser2 settings", () => {
    expect(htmlToMarkdown("<p><em>x</em></p><hr><pre><code>a</code></pre>")).toBe("*x*\n\n---\n\n```\na\n```");
    expect(htmlToText("<p>a<noscript>n</noscript><iframe>i</iframe>b</p>")).toBe("ab");
  });
});

/** The sandbox's own network namespace (as the local provider gives): the host's loopback is not there. */
function netIsolated(s: Sandbox): Sandbox {
  return {
    id: s.id,
    provider: s.provider,
    projectDir: s.projectDir,
    exec: (command, options) => s.exec(`exec bwrap --dev-bind / / --unshare-net sh -c ${shq(command)}`, options),
    readFile: (p) => s.readFile(p),
    writeFile: (p, d, o) => s.writeFile(p, d, o),
    stat: (p) => s.stat(p),
    readDir: (p) => s.readDir(p),
    remove: (p) => s.remove(p),
    startProcess: (c, o) => s.startProcess(c, o),
    readProcess: (id, o) => s.readProcess(id, o),
    stopProcess: (id) => s.stopProcess(id),
    previewUrl: (p) => s.previewUrl(p),
  };
}

describe("webfetch cannot reach the host's loopback", () => {
  if (lacks(missingBwrap())) return;
  it("a host-loopback URL fails inside the sandbox and its content never comes back", async () => {
    const isolated = await makeEnv({ wrap: netIsolated });
    try {
      const direct = await fetch(`${base}/secret`).then((r) => r.text());
      expect(direct).toBe(SECRET); // the server is really there on the host
      const attempt = run(webfetchTool(isolated.deps), { url: `${base}/secret` }, fakeCtx().ctx);
      await expect(attempt).rejects.toThrow(`Transport error (GET ${base}/secret)`);
    } finally {
      await isolated.cleanup();
    }
  });
});
