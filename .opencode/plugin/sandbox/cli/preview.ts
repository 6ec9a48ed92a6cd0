/**
 * `preview`:
 * - `preview <repo> --start CMD --port N [--branch B] [--setup CMD]`: a fresh sandbox with
 *   the repository's branch, its server started, and a link once the port listens.
 * - `preview <session> <port>`: a fresh link to a server still running in a session's sandbox.
 * - `preview --stop <sandbox>`: ends a preview (deletes its sandbox).
 * On Daytona the signed link outlives this command. On the local provider the link is
 * a forwarder in this process: the command stays in the foreground serving it until
 * Ctrl-C (then a repository preview's sandbox is deleted).
 */
import { Command, InvalidArgumentError } from "commander";
import { isSandboxError, type PreviewLink, type SandboxProvider } from "../providers/provider.js";
import { checkPort, linkTo, PREVIEW_LABELS, PreviewError, startPreview } from "../service/preview.js";
import { withContext, type CliContext } from "./context.js";
import { CliError, EXIT, err, json, out } from "./output.js";
import { chooseSession } from "./sessions.js";

interface PreviewOpts {
  start?: string;
  port?: number;
  branch?: string;
  setup?: string;
  wait: number;
  stop?: string;
  json?: boolean;
}

const portArg = (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 65535) throw new InvalidArgumentError("a TCP port (1-65535)");
  return Number(v);
};

function showLink(link: PreviewLink, extra: Record<string, unknown>, asJson: boolean | undefined): void {
  if (asJson) return json({ url: link.url, headers: link.headers, ...extra });
  out(`Preview: ${link.url}`);
  for (const [name, value] of Object.entries(link.headers ?? {})) out(`  send header ${name}: ${value}`);
}

/** Until Ctrl-C, or until the sandbox is gone (`preview --stop` from elsewhere). */
async function serveUntilStopped(provider: SandboxProvider, sandboxId: string): Promise<void> {
  err("The link is served by this process (local provider): keep it running; Ctrl-C ends it.");
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      provider.get(sandboxId).then(
        (info) => info.state !== "started" && done(),
        (error) => isSandboxError(error, "sandbox_not_found") && done(),
      );
    }, 1000);
    const done = () => {
      clearInterval(timer);
      for (const s of ["SIGINT", "SIGTERM"] as const) process.removeListener(s, done);
      resolve();
    };
    for (const s of ["SIGINT", "SIGTERM"] as const) process.once(s, done);
  });
}

async function stop(ctx: CliContext, id: string): Promise<void> {
  const provider = await ctx.providerNow();
  const info = await provider.get(id).catch((error: unknown) => {
    if (isSandboxError(error, "sandbox_not_found", "bad_input")) throw new CliError(`No ${provider.name} sandbox ${id}.`);
    throw error;
  });
  if (info.labels.role !== PREVIEW_LABELS.role || info.labels.plugin !== PREVIEW_LABELS.plugin)
    throw new CliError(`Sandbox ${id} is not a preview (a session's sandbox goes with \`opencode-sandboxed prune\`).`);
  await provider.delete(id);
  out(`✔ Preview ${id} stopped and its sandbox deleted.`);
}

async function sessionLink(ctx: CliContext, wanted: string, port: number, opts: PreviewOpts): Promise<void> {
  const { id, record } = await chooseSession(ctx.store, wanted);
  const provider = await ctx.providerNow();
  if (record.provider !== provider.name)
    throw new CliError(`Session ${id} runs on ${record.provider}, but ${provider.name} is configured here: set OPENCODE_SANDBOX_PROVIDER=${record.provider}.`);
  const sandbox = await provider.connect(record.sandboxId).catch((error: unknown) => {
    if (isSandboxError(error, "sandbox_not_found")) throw new CliError(`Session ${id}'s sandbox ${record.sandboxId} is gone: no server runs there.`);
    if (isSandboxError(error, "not_running"))
      throw new CliError(
        provider.name === "local"
          ? `Session ${id}'s local sandbox ended with the OpenCode that ran it: no server runs there any more. Continue the session in OpenCode to start it again.`
          : `Session ${id}'s sandbox ${record.sandboxId} is stopped: servers it ran are not running. Continue the session in OpenCode to start it again.`,
      );
    throw error;
  });
  showLink(await linkTo(sandbox, port), { session: id, sandbox: sandbox.id, port }, opts.json);
  if (provider.name === "local") await serveUntilStopped(provider, sandbox.id);
}

export function previewCommand(): Command {
  return new Command("preview")
    .description("a link to a server: a repository's branch in a fresh sandbox (--start, --port), or a session's running server (<session> <port>)")
    .argument("[target]", "a repository (URL or local path) with --start; or a session (id, prefix, opencode/N)")
    .argument("[port]", "with a session: the port its server listens on", portArg)
    .option("--start <command>", "start the server (runs in the background in the repository)")
    .option("-p, --port <port>", "the port the server listens on", portArg)
    .option("-b, --branch <branch>", "the branch (default: the local repository's current one, the remote's default)")
    .option("--setup <command>", "run first, e.g. \"npm ci\"")
    .option("--wait <seconds>", "give setup, and then the server, this long at most", (v) => {
      if (!/^\d+$/.test(v) || v === "0") throw new InvalidArgumentError("a whole number of seconds");
      return Number(v);
    }, 600)
    .option("--stop <sandbox>", "end a preview: delete its sandbox")
    .option("--json", "print the link as JSON")
    .action(
      withContext(async (ctx, target: string | undefined, port: number | undefined, opts: PreviewOpts) => {
        try {
          if (opts.stop) return await stop(ctx, opts.stop);
          if (!opts.start) {
            if (!target || port === undefined)
              throw new CliError("Say what to preview: `preview <repo> --start CMD --port N`, or `preview <session> <port>`.", EXIT.usage);
            return await sessionLink(ctx, target, port, opts);
          }
          const servePort = opts.port ?? port;
          if (!target || servePort === undefined) throw new CliError("A repository preview needs the repository and --port.", EXIT.usage);
          const provider = await ctx.providerNow();
          const result = await startPreview(provider, {
            source: target,
            branch: opts.branch,
            setup: opts.setup,
            start: opts.start,
            port: checkPort(servePort),
            waitMs: opts.wait * 1000,
            progress: (line) => err(`· ${line}`),
          });
          ctx.log.info(`preview: sandbox ${result.sandbox.id} serves ${target} (${result.branch}) on port ${servePort}`);
          showLink(result.link, { sandbox: result.sandbox.id, branch: result.branch, port: servePort, provider: provider.name }, opts.json);
          if (provider.name !== "local") {
            if (!opts.json) out(`Sandbox ${result.sandbox.id} runs it; \`opencode-sandboxed preview --stop ${result.sandbox.id}\` ends it.`);
            return;
          }
          await serveUntilStopped(provider, result.sandbox.id);
          await provider.delete(result.sandbox.id).catch(() => {});
          err(`Preview ${result.sandbox.id} ended; its sandbox is deleted.`);
        } catch (error) {
          if (error instanceof PreviewError) throw new CliError(`✘ ${error.message}`);
          throw error;
        }
      }),
    );
}
