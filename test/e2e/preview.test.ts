/**
 * Live preview links inside real OpenCode (`opencode serve`, scripted model): the model
 * starts `python3 -m http.server 8000 &` (a second session: a Node server) as its turn's
 * last tool call, serving a nonce
 * it wrote inside the sandbox → a toast with the link arrives → the link, fetched from
 * this process and loaded by a real headless Chromium, shows the nonce while OpenCode
 * runs → once the session is deleted its link stops answering, and another session's
 * link still answers. On the local provider, and on Daytona through the stand-in (a
 * signed link of its preview proxy).
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startDaytonaStandin, type DaytonaStandin } from "../standin/daytona/index.js";
import { lacks, missingBwrap, missingCommand, missingRoot } from "../support/prereq.js";
import { until } from "../support/until.js";
import type { Step } from "./support/model-server.js";
import { Workbench, type Served } from "./support/opencode.js";

/** Where the screenshots go (kept after the run). */
const OUTPUT_DIR = process.env.TEST_OUTPUT_DIR ?? join(tmpdir(), "opencode-sandboxed-test-output");

let bench: Workbench | undefined;
let standin: DaytonaStandin | undefined;
afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail" && bench) console.error(bench.pluginLog());
  await bench?.dispose();
  bench = undefined;
  await standin?.close();
  standin = undefined;
});

const bash = (command: string): Step => ({ tool: "bash", args: { command, description: command.slice(0, 60) } });

async function body(url: string): Promise<string | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    return res.ok ? (await res.text()).trim() : undefined;
  } catch {
    return undefined;
  }
}

/** Headless Chromium (Debian's package) on the link: the DOM it rendered, and a screenshot. */
function chromium(url: string, ...args: string[]): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), "chromium-profile-"));
  return new Promise<string>((resolve, reject) =>
    execFile(
      "chromium",
      ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", `--user-data-dir=${profile}`, ...args, url],
      { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => (error ? reject(new Error(`chromium failed: ${error.message}\n${stderr}`)) : resolve(stdout)),
    ),
  ).finally(() => rmSync(profile, { recursive: true, force: true }));
}

/** The server a turn starts on port 8000 (serving /tmp/site/index.html): Python's, or a Node one. */
const SERVERS = {
  python: "python3 -m http.server 8000 --directory /tmp/site > /tmp/http.log 2>&1 &",
  node: `node -e 'require("http").createServer((q, s) => s.end(require("fs").readFileSync("/tmp/site/index.html"))).listen(8000)' > /tmp/http.log 2>&1 &`,
};

/** One session's turn: write a nonce page inside the sandbox, then serve it with `&` as the last tool call. */
async function serveNonce(served: Served, b: Workbench, title: string, server: keyof typeof SERVERS): Promise<{ id: string; nonce: string }> {
  const nonce = `nonce-${randomBytes(8).toString("hex")}`;
  const id = await served.createSession(title);
  b.model.set([
    bash(`mkdir -p /tmp/site && echo '<html><body><h1 id="n">${nonce}</h1></body></html>' > /tmp/site/index.html`),
    bash(SERVERS[server]),
    { text: "The server runs." },
  ]);
  await served.prompt(id, "serve a page");
  return { id, nonce };
}

/** Every link a toast carried (for checks after the scenario). */
let linksSeen: string[] = [];

async function scenario(b: Workbench, linkPattern: RegExp, name: string) {
  linksSeen = [];
  const served = await b.serve();
  const events = await served.events();
  const links = () =>
    events.list
      .filter((e) => e.type === "tui.toast.show")
      .map((e) => /Port 8000 is listening in the sandbox: (\S+)/.exec(e.properties.message)?.[1])
      .filter((u): u is string => !!u);
  const newLink = async (known: string[]) => {
    let link: string | undefined;
    await until(() => (link = links().find((l) => !known.includes(l))) !== undefined, "a toast with the server's link");
    linksSeen.push(link!);
    return link!;
  };

  const one = await serveNonce(served, b, "one", "python");
  const link1 = await newLink([]);
  const call = (await served.toolParts(one.id)).at(-1)?.state.time;
  console.log(`${name}: the & call (which sends the toast) took ${call.end - call.start} ms; link ${link1}`);
  expect(link1).toMatch(linkPattern);
  // The model's result said it too: the & call was the turn's last tool call.
  expect(b.model.lastToolResult()).toContain(`The user can open it at ${link1}`);

  // From this process, while OpenCode runs.
  let page: string | undefined;
  await until(async () => (page = await body(link1)) !== undefined, "the link to answer");
  expect(page).toContain(one.nonce);

  // A real browser.
  mkdirSync(OUTPUT_DIR, { recursive: true });
  const screenshot = join(OUTPUT_DIR, `preview-${name}.png`);
  rmSync(screenshot, { force: true });
  expect(await chromium(link1, "--dump-dom")).toContain(`<h1 id="n">${one.nonce}</h1>`);
  await chromium(link1, `--screenshot=${screenshot}`, "--window-size=800,600");
  expect(existsSync(screenshot) && statSync(screenshot).size > 0).toBe(true);
  console.log(`${name}: screenshot ${screenshot}`);

  // A second session, a Node server: its own sandbox, its own link to its own port 8000.
  const two = await serveNonce(served, b, "two", "node");
  const link2 = await newLink([link1]);
  expect(link2).not.toBe(link1);
  await until(async () => (await body(link2)) !== undefined, "the second link to answer");
  expect(await body(link2)).toContain(two.nonce);
  expect(await body(link1)).toContain(one.nonce);

  // Deleting the first session ends its link; OpenCode keeps running and the other link answers.
  await served.client.session.delete({ path: { id: one.id } });
  await until(async () => !(await body(link1))?.includes(one.nonce), "the deleted session's link to stop answering");
  expect(served.child.exitCode).toBeNull();
  expect(await body(link2)).toContain(two.nonce);
  events.stop();
  await served.stop();
}

describe("live preview links in real OpenCode: local provider", () => {
  if (lacks(missingBwrap(), missingCommand("slirp4netns"), missingCommand("python3"), missingCommand("node"), missingCommand("chromium"))) return;

  it("a server started with & as the turn's last call: toast with the link; host fetch and Chromium show the nonce; deleting the session ends its link only", async () => {
    bench = await Workbench.create();
    await scenario(bench, /^http:\/\/127\.0\.0\.1:\d+$/, "local");
  }, 400_000);
});

describe("live preview links in real OpenCode: Daytona through the stand-in", () => {
  if (lacks(missingRoot(), missingBwrap(), missingCommand("python3"), missingCommand("node"), missingCommand("chromium"))) return;

  it("the same with a signed link of the stand-in's preview proxy", async () => {
    standin = await startDaytonaStandin({ daemon: "shell" });
    bench = await Workbench.create({
      options: { provider: "daytona" },
      env: { DAYTONA_API_KEY: standin.apiKey, DAYTONA_API_URL: standin.apiUrl, DAYTONA_TARGET: "us" },
    });
    await scenario(bench, /^http:\/\/127\.0\.0\.1:\d+\/preview\/[^/]+\/8000$/, "daytona");
    // Signed: the link carries a token where the sandbox id would be (a browser sends no header).
    const refs = [...standin.sandboxes.keys()];
    expect(refs.length).toBeGreaterThan(0);
    expect(linksSeen.every((l) => !refs.some((id) => l.includes(`/preview/${id}/`)))).toBe(true);
  }, 400_000);

  it("a stopped sandbox resumed by a new OpenCode process (opencode run --session): the next bash result says the server no longer listens", async () => {
    standin = await startDaytonaStandin({ daemon: "shell" });
    bench = await Workbench.create({
      options: { provider: "daytona" },
      env: { DAYTONA_API_KEY: standin.apiKey, DAYTONA_API_URL: standin.apiUrl, DAYTONA_TARGET: "us" },
    });
    bench.model.set([bash("python3 -m http.server 8000 > /dev/null 2>&1 &"), { text: "ok" }]);
    expect((await bench.run("serve")).code).toBe(0);
    const link = /The user can open it at (\S+)/.exec(bench.model.lastToolResult() ?? "")?.[1];
    expect(link, bench.model.lastToolResult()).toBeDefined();
    const [sessionID, record] = Object.entries(bench.state().sessions).find(([, r]) => !r.parentId)!;
    await standin.platform.stop(record.sandboxId);
    await until(() => standin!.sandbox(record.sandboxId)?.state === "stopped", "the sandbox to stop");

    bench.model.set([bash("echo back"), { text: "ok" }]);
    expect((await bench.run("again", { args: ["--session", sessionID] })).code).toBe(0);
    expect(bench.model.lastToolResult()).toBe(
      `back\n\n\nPort 8000 is no longer listening (its server ended, or the sandbox was started again): ${link} does not answer until a server listens on it again.`,
    );
  }, 400_000);
});
