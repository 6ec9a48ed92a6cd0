/**
 * Real OpenCode (the pinned `opencode-ai` binary), isolated per run: its own HOME,
 * XDG dirs and TMPDIR, a config dir pre-seeded so it installs nothing, the scripted
 * model, and a throw-away git repository as the project. Every wait is bounded; a
 * hung OpenCode fails with its logs attached. Shared by the e2e tests and
 * `npm run demo` (so nothing here depends on vitest).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { createOpencodeClient, type OpencodeClient } from "@opencode-ai/sdk";
import { ModelServer } from "./model-server.js";

export const REPO = resolve(import.meta.dirname, "..");
export const OPENCODE = join(REPO, "node_modules/.bin/opencode");
/** The plugin as OpenCode loads it from a path: the TypeScript entry itself. */
export const PLUGIN_TS = pathToFileURL(join(REPO, ".opencode/plugin/index.ts")).href;
/** The build `npm test` makes first. */
export const PLUGIN_DIST = pathToFileURL(join(REPO, "dist/plugin/index.js")).href;

export interface WorkbenchOptions {
  /** Plugin spec for opencode.json, or false to run OpenCode without it (the built-ins). */
  plugin?: string | false;
  /** Plugin options (the second element of the plugin tuple). */
  options?: Record<string, unknown>;
  /** Model id; one starting with `gpt-` makes OpenCode offer apply_patch instead of edit/write. */
  modelId?: string;
  /** Extra opencode.json keys (merged over the defaults). */
  config?: Record<string, unknown>;
  /** Files of the project's first commit. */
  files?: Record<string, string>;
  /** Extra environment for OpenCode (e.g. PATH without bwrap). */
  env?: Record<string, string | undefined>;
  /** Start OpenCode in this subdirectory of the repository (a monorepo package, say). */
  subdir?: string;
  /** Prefix of the temporary directory holding everything of this run. */
  prefix?: string;
}

export interface RunResult {
  code: number | null;
  events: { type: string; part?: any; [k: string]: unknown }[];
  stdout: string;
  stderr: string;
}

export const git = (cwd: string, ...args: string[]) => execFileSync("git", args, { cwd, encoding: "utf8" }).trim();

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** What the user sees of their repository: must be identical before and after a session. */
export function userView(b: Workbench) {
  return {
    branch: b.git("rev-parse", "--abbrev-ref", "HEAD"),
    head: b.git("rev-parse", "HEAD"),
    status: b.git("status", "--porcelain=v1", "-uall"),
    staged: b.git("diff", "--cached"),
    unstaged: b.git("diff"),
    stash: b.git("stash", "list", "--format=%H %s"),
  };
}

export class Workbench {
  readonly root: string;
  readonly project: string;
  readonly dataHome: string;
  readonly configFile: string;
  readonly env: NodeJS.ProcessEnv;
  readonly children = new Set<ChildProcess>();

  private constructor(
    readonly model: ModelServer,
    private readonly opts: WorkbenchOptions,
  ) {
    this.root = mkdtempSync(join(tmpdir(), opts.prefix ?? "ocs-e2e-"));
    this.project = join(this.root, "project");
    this.dataHome = join(this.root, "data");
    this.configFile = join(this.root, "opencode.json");
    const home = join(this.root, "home");
    const configHome = join(this.root, "config");
    for (const dir of [this.project, this.dataHome, home, configHome, join(this.root, "state"), join(this.root, "cache"), join(this.root, "tmp")])
      mkdirSync(dir, { recursive: true });

    // Pre-seeded: OpenCode sees its plugin package "installed" and runs no npm install.
    const ocConfig = join(configHome, "opencode");
    mkdirSync(join(ocConfig, "node_modules"), { recursive: true });
    const deps = { "@opencode-ai/plugin": "1.18.33" };
    writeFileSync(join(ocConfig, "package.json"), JSON.stringify({ dependencies: deps }));
    writeFileSync(join(ocConfig, "package-lock.json"), JSON.stringify({ lockfileVersion: 3, packages: { "": { dependencies: deps } } }));

    const base: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env))
      if (!/^(OPENCODE|DAYTONA|XDG|VITEST|npm_)/i.test(k) && k !== "NODE_OPTIONS") base[k] = v;
    this.env = {
      ...base,
      HOME: home,
      // OpenCode takes its directory from PWD, not from the process's cwd.
      PWD: this.cwd,
      XDG_DATA_HOME: this.dataHome,
      XDG_CONFIG_HOME: configHome,
      XDG_STATE_HOME: join(this.root, "state"),
      XDG_CACHE_HOME: join(this.root, "cache"),
      TMPDIR: join(this.root, "tmp"),
      OPENCODE_CONFIG: this.configFile,
      OPENCODE_DISABLE_MODELS_FETCH: "1",
      OPENCODE_DISABLE_AUTOUPDATE: "1",
      OPENCODE_DISABLE_SHARE: "1",
      OPENCODE_DISABLE_LSP_DOWNLOAD: "1",
      OPENCODE_DISABLE_DEFAULT_PLUGINS: "1",
      GIT_AUTHOR_NAME: "User",
      GIT_AUTHOR_EMAIL: "user@example.com",
      GIT_COMMITTER_NAME: "User",
      GIT_COMMITTER_EMAIL: "user@example.com",
      ...opts.env,
    };
    this.writeConfig();

    git(this.project, "init", "-q", "-b", "main");
    for (const [name, content] of Object.entries(opts.files ?? { "README.md": "# demo\n" })) {
      mkdirSync(join(this.project, name, ".."), { recursive: true });
      writeFileSync(join(this.project, name), content);
    }
    execFileSync("git", ["add", "-A"], { cwd: this.project, env: this.env });
    execFileSync("git", ["commit", "-qm", "initial"], { cwd: this.project, env: this.env });
  }

  static async create(opts: WorkbenchOptions = {}): Promise<Workbench> {
    return new Workbench(await ModelServer.start(), opts);
  }

  /** Where OpenCode starts: the repository, or the subdirectory asked for. */
  get cwd(): string {
    return join(this.project, this.opts.subdir ?? "");
  }

  get modelId(): string {
    return this.opts.modelId ?? "scripted-model";
  }

  /** (Re)write opencode.json — e.g. to switch the plugin off for a differential run. */
  writeConfig(change: Partial<WorkbenchOptions> = {}): void {
    Object.assign(this.opts, change);
    const { plugin = PLUGIN_TS, options = { provider: "local" } } = this.opts;
    const config = {
      $schema: "https://opencode.ai/config.json",
      provider: {
        scripted: {
          npm: "@ai-sdk/openai-compatible",
          name: "Scripted",
          options: { baseURL: this.model.url, apiKey: "unused" },
          models: { [this.modelId]: { name: "Scripted", tool_call: true, limit: { context: 100000, output: 4096 } } },
        },
      },
      model: `scripted/${this.modelId}`,
      small_model: `scripted/${this.modelId}`,
      autoupdate: false,
      share: "disabled",
      permission: { edit: "allow", bash: "allow", webfetch: "allow", external_directory: "allow", doom_loop: "allow" },
      ...(plugin ? { plugin: [[plugin, options]] } : {}),
      ...this.opts.config,
    };
    writeFileSync(this.configFile, JSON.stringify(config, null, 2));
  }

  /**
   * One turn with `opencode run --format json`; the process exits after the session goes
   * idle. The bound only catches a hang: it grows with the scripted steps (a 31-step run
   * took over 180 s with two suites at once on 2 cores).
   */
  async run(prompt: string, { timeoutMs = 120_000 + 30_000 * this.model.pending, args = [] as string[] } = {}): Promise<RunResult> {
    const child = this.spawn([...args, "run", "--format", "json", prompt]);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    const code = await this.bounded(
      new Promise<number | null>((r) => child.on("exit", (c) => r(c))),
      timeoutMs,
      `opencode run did not finish within ${timeoutMs} ms`,
      () => `stdout:\n${stdout}\nstderr:\n${stderr}`,
    ).finally(() => child.kill("SIGKILL"));
    const events = stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l));
    return { code, events, stdout, stderr };
  }

  /** `opencode serve` on a free loopback port, with an SDK client for this project. */
  async serve({ timeoutMs = 60_000 } = {}): Promise<Served> {
    const port = await freePort();
    const child = this.spawn(["serve", "--port", String(port), "--hostname", "127.0.0.1"]);
    let output = "";
    child.stdout!.on("data", (d) => (output += d));
    child.stderr!.on("data", (d) => (output += d));
    const url = `http://127.0.0.1:${port}`;
    const client = createOpencodeClient({ baseUrl: url, directory: this.cwd });
    const ready = (async () => {
      for (;;) {
        if (child.exitCode !== null) throw new Error(`opencode serve exited (${child.exitCode}):\n${output}`);
        try {
          const res = await fetch(`${url}/path?directory=${encodeURIComponent(this.cwd)}`, { signal: AbortSignal.timeout(2000) });
          if (res.ok) return;
        } catch {}
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await this.bounded(ready, timeoutMs, `opencode serve not ready within ${timeoutMs} ms`, () => output);
    return new Served(this, child, client, url, () => output);
  }

  /** Every log line this run produced: OpenCode's own logs and the plugin's daytona.log. */
  logs(): string {
    const dir = join(this.dataHome, "opencode/log");
    if (!existsSync(dir)) return "";
    return readdirSync(dir)
      .sort()
      .map((f) => `--- ${f}\n${readFileSync(join(dir, f), "utf8")}`)
      .join("\n");
  }

  pluginLog(): string {
    const file = join(this.dataHome, "opencode/log/daytona.log");
    return existsSync(file) ? readFileSync(file, "utf8") : "";
  }

  /** The plugin's state file (one per project). */
  state(): { sessions: Record<string, any> } {
    const dir = join(this.dataHome, "opencode/storage/daytona");
    const [file] = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")) : [];
    return file ? JSON.parse(readFileSync(join(dir, file), "utf8")) : { sessions: {} };
  }

  /** Sandbox workspace roots of the local provider. */
  sandboxesDir(): string {
    return join(this.dataHome, "opencode/sandboxes");
  }

  git(...args: string[]): string {
    return git(this.project, ...args);
  }

  async bounded<T>(p: Promise<T>, ms: number, what: string, detail: () => string = () => ""): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}\n${detail()}\n${this.logs().slice(-20000)}`)), ms);
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  spawn(args: string[]): ChildProcess {
    const child = spawn(OPENCODE, args, { cwd: this.cwd, env: this.env, stdio: ["ignore", "pipe", "pipe"] });
    this.children.add(child);
    child.on("exit", () => this.children.delete(child));
    return child;
  }

  /** SIGTERM to every OpenCode process of this bench (SIGKILL after 5 s); resolves once they exited. */
  async stopChildren(): Promise<void> {
    await Promise.all(
      [...this.children].map(
        (c) =>
          new Promise<void>((r) => {
            if (c.exitCode !== null || c.signalCode !== null) return r();
            c.on("exit", () => r());
            c.kill("SIGTERM");
            setTimeout(() => c.kill("SIGKILL"), 5000).unref();
          }),
      ),
    );
  }

  /** Stops OpenCode and the model; removes every file of the run unless `keep`. */
  async dispose({ keep = false } = {}): Promise<void> {
    await this.stopChildren();
    await this.model.stop();
    if (keep) return;
    unmountUnder(this.root);
    // Sandbox processes die with their owner; give them a moment, then remove everything.
    for (let i = 0; i < 20; i++) {
      try {
        rmSync(this.root, { recursive: true, force: true });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
}

/**
 * As root each local sandbox's disk is loop-mounted under the run's directory; one
 * OpenCode did not delete (killed, or a failed test) would stay mounted for good (rm
 * cannot remove a mount point). Lazily: a dying sandbox process may still hold it.
 */
function unmountUnder(root: string): void {
  if (process.getuid?.() !== 0) return;
  const points = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => (line.split(" ")[4] ?? "").replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((point) => point.startsWith(`${root}/`));
  for (const point of points.reverse()) spawnSync("umount", ["-l", point]);
}

export class Served {
  constructor(
    readonly bench: Workbench,
    readonly child: ChildProcess,
    readonly client: OpencodeClient,
    readonly url: string,
    readonly output: () => string,
  ) {}

  async createSession(title = "e2e session", parentID?: string): Promise<string> {
    const res = await this.client.session.create({ body: { title, ...(parentID ? { parentID } : {}) } });
    if (!res.data) throw new Error(`session.create failed: ${JSON.stringify(res.error)}`);
    return res.data.id;
  }

  /** One user turn; resolves when the assistant is done. */
  async prompt(sessionID: string, text: string, timeoutMs = 120_000): Promise<void> {
    const res = await this.bench.bounded(
      this.client.session.prompt({ path: { id: sessionID }, body: { parts: [{ type: "text", text }] } }),
      timeoutMs,
      `prompt in ${sessionID} did not finish within ${timeoutMs} ms`,
      this.output,
    );
    if (res.error) throw new Error(`prompt failed: ${JSON.stringify(res.error)}`);
  }

  /** Tool parts of a session, in order. */
  async toolParts(sessionID: string): Promise<any[]> {
    const res = await this.client.session.messages({ path: { id: sessionID } });
    return (res.data ?? []).flatMap((m: any) => m.parts.filter((p: any) => p.type === "tool"));
  }

  /** Collect every event the server publishes until stop() is called; `on` sees each as it arrives. */
  async events(on?: (event: { type: string; properties: any }) => void): Promise<{ list: { type: string; properties: any }[]; stop: () => void }> {
    const list: { type: string; properties: any }[] = [];
    const controller = new AbortController();
    const sub = await this.client.event.subscribe({ signal: controller.signal } as never);
    (async () => {
      try {
        for await (const e of sub.stream as AsyncIterable<any>) {
          list.push(e);
          on?.(e);
        }
      } catch {}
    })();
    return { list, stop: () => controller.abort() };
  }

  /** SIGTERM and wait (dispose hooks run; git sync finishes). */
  async stop(timeoutMs = 60_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.on("exit", () => r()));
    this.child.kill("SIGTERM");
    await this.bench.bounded(exited, timeoutMs, "opencode serve did not stop", this.output).catch((e) => {
      this.child.kill("SIGKILL");
      throw e;
    });
  }
}

/** Poll until `check` holds or the time is up; returns whether it held. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms = 60_000, every = 100): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, every));
  }
}
