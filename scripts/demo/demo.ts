/**
 * The demo, start to end: the machine can run a local sandbox (installing what it
 * needs when it may), the plugin is built, real OpenCode serves a throw-away
 * repository with an offline scripted model, the agent writes a web app and starts
 * it, the preview link answers, the work lands on opencode/1 and is shown, and
 * everything is cleaned up. Every wait is bounded; a failure names the step, keeps
 * the run's files and says where its logs are.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { preflight } from "../../.opencode/plugin/sandbox/providers/local/preflight.js";
import { OPENCODE, PLUGIN_DIST, REPO, waitFor, Workbench, type Served } from "../../harness/opencode.js";
import { PORT, PROMPT, script } from "./app.js";
import { build, buildState, canBuild } from "./build.js";
import { hostFacts, networkFor, plan, sandboxNode } from "./prerequisites.js";
import { Steps, type Write } from "./steps.js";

export interface DemoOptions {
  /** Keep the run's directory (the repository with opencode/1 in it). */
  keep: boolean;
  /** Colour git's output (a terminal). */
  color: boolean;
  write: Write;
  /** Ctrl-C: OpenCode is stopped, the run cleaned up as usual, and the demo ends with 130. */
  signal?: AbortSignal;
}

/** Upper bounds for a hang, generous for a loaded machine; never expected durations. */
const BOUNDS = { serve: 120_000, turn: 300_000, link: 60_000, sync: 120_000, cleanup: 60_000 };

class DemoFailure extends Error {
  override readonly name = "DemoFailure";
}

function runInherited(command: string[]): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(command[0]!, command.slice(1), { stdio: "inherit" });
    child.on("error", () => resolve(-1));
    child.on("close", (code) => resolve(code));
  });
}

/** Installs or names what is missing; undefined when the demo cannot go on. */
async function prerequisites(steps: Steps, write: Write): Promise<{ network: "isolated" | "none" } | undefined> {
  const facts = hostFacts();
  const p = plan(facts);
  if (p.kind === "unsupported") {
    steps.fail(`this machine cannot run the local sandbox: ${p.message}`);
    return undefined;
  }
  if (p.kind === "tell") {
    steps.fail(`the local sandbox needs ${p.packages.join(", ")}, which ${p.packages.length > 1 ? "are" : "is"} not installed. Run:`);
    write("");
    write(`    ${p.command}`);
    write("");
    write("  then npm run demo again.");
    return undefined;
  }
  if (p.kind === "install") {
    write(`→ installing ${p.packages.join(" ")} (the local sandbox needs them; running as root): ${p.commands.map((c) => c.join(" ")).join(" && ")}`);
    for (const command of p.commands) {
      const code = await runInherited(command);
      if (code !== 0) {
        steps.fail(`${command.join(" ")} failed (exit ${code}); install ${p.packages.join(" ")} and run npm run demo again`);
        return undefined;
      }
    }
    steps.ok(`installed ${p.packages.join(" ")}`);
  }
  if (!sandboxNode(existsSync)) {
    steps.fail("the demo's app runs on Node.js inside the sandbox, which sees the host's /usr only: install Node.js under /usr (e.g. sudo apt-get install nodejs)");
    return undefined;
  }
  const { network, why } = networkFor(facts);
  try {
    const tools = await preflight({ network });
    const who = facts.root ? "as root: each sandbox runs as its own unprivileged uid" : `as uid ${process.getuid?.()}`;
    steps.ok(`the local sandbox can run here (${tools.bwrap}, network ${network}, ${who})`);
    if (why) steps.detail(why);
    return { network };
  } catch (error) {
    steps.fail((error as Error).message);
    return undefined;
  }
}

async function ensureBuilt(steps: Steps): Promise<boolean> {
  const state = buildState(REPO);
  if (state === "fresh") {
    steps.ok("plugin build (dist/) is up to date");
    return true;
  }
  if (!canBuild(REPO)) {
    if (state === "missing") {
      steps.fail(`dist/ is missing and this user cannot write ${REPO}: run npm run build there first`);
      return false;
    }
    steps.warn(`dist/ is older than the sources and this user cannot rebuild it in ${REPO}: using it as it is`);
    return true;
  }
  try {
    await build(REPO);
    steps.ok(`plugin built (npm run build → dist/)`);
    return true;
  } catch (error) {
    steps.fail((error as Error).message);
    return false;
  }
}

const opencodeVersion = () => JSON.parse(readFileSync(join(REPO, "node_modules/opencode-ai/package.json"), "utf8")).version as string;

/** What the session tells through OpenCode's events, as it happens. */
interface Told {
  link?: string;
  branch?: string;
  error?: string;
}

function watch(served: Served, bench: Workbench, steps: Steps, told: Told) {
  const shown = new Set<string>();
  return served.events((e) => {
    const p = e.properties ?? {};
    if (e.type === "tui.toast.show") {
      const message = String(p.message ?? "");
      const link = /Port (\d+) is listening in the sandbox: (\S+)/.exec(message);
      const synced = /work synced to (\S+?)\./.exec(message);
      if (/^Sandbox ready/.test(message)) steps.ok(`sandbox ready (the session's first tool call made it)`);
      else if (link && Number(link[1]) === PORT && !told.link) {
        told.link = link[2];
        steps.ok(`the server listens on port ${PORT} in the sandbox; preview link: ${told.link}`);
      } else if (synced) told.branch = synced[1];
      else if (p.variant === "error") told.error = message;
      else if (p.variant === "warning") steps.warn(message);
    }
    if (e.type === "message.part.updated" && p.part?.type === "tool" && !shown.has(p.part.id)) {
      const { tool, state } = p.part;
      if (state?.status !== "completed" && state?.status !== "error") return;
      shown.add(p.part.id);
      const what = tool === "bash" ? `$ ${state.input?.command}${state.input?.background ? "   (background)" : ""}` : `${tool} ${relative(bench.project, String(state.input?.filePath ?? ""))}`;
      steps.detail(`agent: ${what}${state.status === "error" ? ` — failed: ${state.error}` : ""}`);
    }
  });
}

async function firstAnswer(link: string): Promise<string | undefined> {
  let page: string | undefined;
  await waitFor(async () => {
    try {
      const res = await fetch(link, { signal: AbortSignal.timeout(10_000) });
      if (res.ok) page = await res.text();
    } catch {}
    return page !== undefined;
  }, BOUNDS.link, 250);
  return page;
}

async function session(bench: Workbench, steps: Steps, o: DemoOptions): Promise<void> {
  const served = await bench.serve({ timeoutMs: BOUNDS.serve });
  steps.ok(`OpenCode ${opencodeVersion()} serving on ${served.url} (the plugin from dist/, the local provider, model: scripted on ${bench.model.url})`);

  const told: Told = {};
  const events = await watch(served, bench, steps, told);
  try {
    const id = await served.createSession("demo: a small web app");
    bench.model.set(script(bench.project));
    o.write(`→ prompt: "${PROMPT}"`);
    steps.restart();
    await served.prompt(id, PROMPT, BOUNDS.turn);
    if (!(await waitFor(() => told.link !== undefined, BOUNDS.link)))
      throw new DemoFailure(`no preview link was told for port ${PORT}; the last tool result was:\n${bench.model.lastToolResult()}`);
    steps.ok("the agent's turn is done");

    const page = await firstAnswer(told.link!);
    if (page === undefined) throw new DemoFailure(`the preview link ${told.link} did not answer`);
    steps.ok(`the link answers: ${page.split("\n")[0]}`);

    if (!(await waitFor(() => told.branch !== undefined || told.error !== undefined, BOUNDS.sync)))
      throw new DemoFailure("the session's work was not synced to a branch");
    if (told.error) throw new DemoFailure(told.error);
    steps.ok(`session idle; its work is synced to ${told.branch}`);

    const color = o.color ? "--color=always" : "--no-color";
    steps.heading(`git log --stat main..${told.branch}`);
    o.write(bench.git("log", color, "--stat", `main..${told.branch}`));
    steps.heading(`git diff main...${told.branch}`);
    o.write(bench.git("diff", color, `main...${told.branch}`));
    o.write("");
    steps.restart();

    // Deleting the session is how its sandbox goes away (quitting OpenCode keeps it for later).
    const sandboxId: string | undefined = bench.state().sessions[id]?.sandboxId;
    if (!sandboxId) throw new DemoFailure(`the plugin recorded no sandbox for session ${id}`);
    const workspace = join(bench.sandboxesDir(), sandboxId);
    await bench.bounded(served.client.session.delete({ path: { id } }), BOUNDS.cleanup, "deleting the session did not finish");
    if (!(await waitFor(() => !existsSync(workspace), BOUNDS.cleanup)))
      throw new DemoFailure(`the session's sandbox ${sandboxId} is still there (${workspace}) after the session was deleted`);
    steps.ok(`session deleted: its sandbox ${sandboxId} is gone`);
  } finally {
    events.stop();
  }
  await served.stop(BOUNDS.cleanup);
  steps.ok("OpenCode stopped");
}

/**
 * Sandboxes still there once OpenCode stopped (a failed run, or a start attempt that
 * timed out) are removed the product's way — `prune --all` in the run's own data
 * directory — which also unmounts a root's sandbox disks, so the run's files can go.
 */
async function removeLeftovers(bench: Workbench, steps: Steps): Promise<void> {
  const dir = bench.sandboxesDir();
  const left = existsSync(dir) ? readdirSync(dir).filter((name) => !name.startsWith(".")) : [];
  if (left.length === 0) return;
  const cli = join(REPO, "dist/plugin/sandbox/cli/main.js");
  const outcome = await new Promise<string | undefined>((resolve) =>
    execFile(process.execPath, [cli, "prune", "--all", "--yes", "--force"], { cwd: bench.project, env: bench.env, timeout: BOUNDS.cleanup }, (error, stdout, stderr) =>
      resolve(error ? `${error.message}\n${stdout}${stderr}`.trim() : undefined),
    ),
  );
  if (outcome) steps.warn(`sandboxes left in ${dir} (${left.join(", ")}) could not be removed: ${outcome}`);
  else steps.ok(`removed sandboxes left by the run (${left.join(", ")}) with opencode-sandboxed prune --all`);
}

/** Runs the demo; the exit code. */
export async function runDemo(o: DemoOptions): Promise<number> {
  const steps = new Steps(o.write);
  o.write("opencode-sandboxed demo: real OpenCode, an offline scripted model, a local sandbox, a throw-away git repository");
  const ready = await prerequisites(steps, o.write);
  if (!ready || !(await ensureBuilt(steps))) return o.signal?.aborted ? 130 : 1;
  if (o.signal?.aborted) return 130;
  if (!existsSync(OPENCODE)) {
    steps.fail(`OpenCode (the opencode-ai devDependency) is not installed in ${REPO}: run npm install first`);
    return 1;
  }

  const bench = await Workbench.create({
    plugin: PLUGIN_DIST,
    options: { provider: "local", local: { network: ready.network } },
    prefix: "opencode-sandboxed-demo-",
    files: { "README.md": "# A throw-away repository\n\nMade by `npm run demo` of opencode-sandboxed.\n" },
    // Nothing of the run needs to outlive it; the database in memory starts faster.
    env: { OPENCODE_DB: ":memory:" },
  });
  const interrupt = () => void bench.stopChildren();
  o.signal?.addEventListener("abort", interrupt, { once: true });
  if (o.signal?.aborted) interrupt();
  steps.ok(`throw-away git repository ${bench.project} (branch main, one commit)`);

  let failed = false;
  try {
    await session(bench, steps, o);
  } catch (error) {
    if (o.signal?.aborted) {
      await bench.stopChildren();
      await removeLeftovers(bench, steps);
      await bench.dispose({ keep: o.keep });
      o.write(o.keep ? `  interrupted; kept: ${bench.project}` : "  interrupted; OpenCode stopped, the throw-away repository removed");
      return 130;
    }
    failed = true;
    const message = (error as Error).message;
    steps.fail(message.split("\n").slice(0, error instanceof DemoFailure ? 12 : 1).join("\n"));
    const details = join(bench.root, "demo-failure.log");
    writeFileSync(details, `${(error as Error).stack ?? message}\n\n${bench.logs()}`);
    o.write(`  details and OpenCode's logs: ${details}`);
  }
  await bench.stopChildren();
  await removeLeftovers(bench, steps);
  await bench.dispose({ keep: o.keep || failed });
  if (o.keep || failed) o.write(`  kept: ${bench.project}${failed ? "" : ` (git -C ${bench.project} log --stat opencode/1)`}`);
  else steps.ok("throw-away repository removed (npm run demo -- --keep keeps it)");
  if (!failed) o.write(`\nDone in ${steps.total().toFixed(1)} s.`);
  return failed ? 1 : 0;
}
