/**
 * `prune [--yes]`: sandboxes of this installation and project that no session maps
 * (the orphans), listed; deleted only with --yes. A sandbox a session maps is never
 * deleted: the map is read again right before each deletion.
 */
import { Command, InvalidArgumentError } from "commander";
import { findOrphanInfos } from "../core/orphans.js";
import type { SandboxInfo } from "../providers/provider.js";
import { withContext } from "./context.js";
import { EXIT, err, out } from "./output.js";

/** A sandbox's creation time, when its provider tells it. */
function createdAt(info: SandboxInfo): number | undefined {
  const ms = info.createdAt ? new Date(info.createdAt).getTime() : NaN;
  return Number.isFinite(ms) ? ms : undefined;
}

const describe = (info: SandboxInfo) => `${info.id} (${info.state}${info.labels.session ? `, made for session ${info.labels.session}` : ""})`;

export function pruneCommand(): Command {
  return new Command("prune")
    .description("list sandboxes of this project that no session uses; --yes deletes them")
    .option("-y, --yes", "delete them (default: only list them)")
    .option("--grace <minutes>", "spare sandboxes younger than this: another OpenCode may be creating one", (v) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError("a whole number of minutes");
      return Number(v);
    }, 10)
    .action(
      withContext(async (ctx, opts: { yes?: boolean; grace: number }) => {
        const provider = await ctx.providerNow();
        const orphans = await findOrphanInfos(provider, ctx.store, ctx.labels);
        if (!orphans.length) return out(`No ${provider.name} sandbox of this project is left without a session.`);
        const cutoff = Date.now() - opts.grace * 60_000;
        const aged = orphans.filter((o) => createdAt(o) !== undefined);
        const young = aged.filter((o) => createdAt(o)! > cutoff);
        const candidates = orphans.filter((o) => !young.includes(o));
        out(`${orphans.length} ${provider.name} sandbox(es) of this project are used by no session:`);
        for (const o of candidates) out(`  ${describe(o)}`);
        for (const o of young) out(`  ${describe(o)} — spared: younger than ${opts.grace} min`);
        if (aged.length < orphans.length)
          out(`! ${provider.name} does not tell a sandbox's age: none is spared as too young (one another OpenCode is creating right now would be listed).`);
        if (!opts.yes) {
          if (candidates.length) out(`Dry run: nothing deleted. To delete ${candidates.length}: opencode-sandboxed prune --yes`);
          return;
        }
        let failed = 0;
        for (const o of candidates) {
          // Recorded since the listing (a session that just started): it is in use.
          const mapped = Object.values((await ctx.store.read()).sessions).some((s) => s.sandboxId === o.id);
          if (mapped) {
            out(`  ${o.id}: kept, a session uses it now`);
            continue;
          }
          try {
            await provider.delete(o.id);
            ctx.log.info(`prune: deleted sandbox ${o.id}, used by no session`);
            out(`✔ deleted ${o.id}`);
          } catch (error) {
            failed++;
            err(`✘ ${o.id}: ${(error as Error).message}`);
          }
        }
        return failed ? EXIT.failed : EXIT.ok;
      }),
    );
}
