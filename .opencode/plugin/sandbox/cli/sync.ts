/** `sync [session]`: brings the session's work to its branch now, through the project's service. */
import { Command } from "commander";
import { isSandboxError } from "../providers/provider.js";
import type { SyncResult } from "../git/service.js";
import { withContext, type CliContext } from "./context.js";
import { CliError, EXIT, json, out, renderNotices, short } from "./output.js";
import { chooseSession, type ChosenSession } from "./sessions.js";

/**
 * Syncs through the service (which asks the sandbox for a bundle; no git runs in the
 * sandbox's repository from here). Refuses what would make the service create a
 * sandbox: a session on another provider, or one whose sandbox is gone.
 */
export async function syncChosen(ctx: CliContext, { id, record }: ChosenSession): Promise<SyncResult> {
  const provider = await ctx.providerNow();
  if (record.provider !== provider.name)
    throw new CliError(`Session ${id} runs on ${record.provider}, but ${provider.name} is configured here: set OPENCODE_SANDBOX_PROVIDER=${record.provider}.`);
  await provider.get(record.sandboxId).catch((error: unknown) => {
    if (!isSandboxError(error, "sandbox_not_found")) throw error;
    const where = record.sideBranch ?? record.branch;
    throw new CliError(`Session ${id}'s sandbox ${record.sandboxId} is gone${where ? `; its last synced work is on ${where}` : ""}.`);
  });
  try {
    return await ctx.serviceNow().sync(id, "manual");
  } catch (error) {
    // The service told what went wrong (sync_failed, branch_blocked) when it could.
    if (renderNotices(ctx.notices) === "error") throw new CliError("", EXIT.failed);
    throw error;
  }
}

export function syncCommand(): Command {
  return new Command("sync")
    .description("bring a session's work to its branch now (default: the session used last)")
    .argument("[session]", "session id, a unique prefix of it, or its branch (opencode/N)")
    .option("--json", "print the outcome as JSON")
    .action(
      withContext(async (ctx, wanted: string | undefined, opts: { json?: boolean }) => {
        const chosen = await chooseSession(ctx.store, wanted);
        const result = await syncChosen(ctx, chosen);
        if (opts.json) {
          json({ session: chosen.id, ...result });
          return result.kind === "synced" ? EXIT.ok : EXIT.failed;
        }
        renderNotices(ctx.notices);
        if (result.kind === "skipped") throw new CliError(`Session ${chosen.id}: not synced — ${result.why}.`);
        if (result.outcome.kind === "up_to_date") out(`✔ Session ${chosen.id}: nothing new; ${result.outcome.branch} is at ${short(result.commit)}.`);
      }),
    );
}
