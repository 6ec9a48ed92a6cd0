/**
 * `prune [--yes] [--grace M] [--older-than AGE] [--force]`: sandboxes of this
 * installation and project that no session maps, and (with --older-than) sessions'
 * sandboxes unused for longer than AGE. A dry run lists them; --yes deletes them —
 * a session's work is synced to its branch first (kept when that fails), an unmapped
 * sandbox holding commits no branch has is kept unless --force.
 */
import { Command, InvalidArgumentError } from "commander";
import { Pruner, type PruneCandidate, type PruneOutcome } from "../service/prune.js";
import { withContext } from "./context.js";
import { pruneAll } from "./prune-all.js";
import { EXIT, err, json, out, renderNotices } from "./output.js";

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "7d", "12h", "30m"; a bare number is days. */
export function parseAge(v: string): number {
  const m = /^(\d+(?:\.\d+)?)([mhd]?)$/.exec(v.trim());
  if (!m) throw new InvalidArgumentError("an age such as 7d, 12h or 30m (a bare number is days)");
  return Number(m[1]) * UNIT_MS[m[2] || "d"]!;
}

const describe = (c: PruneCandidate) =>
  c.reason === "unmapped"
    ? `${c.sandbox.id} (${c.sandbox.state}${c.session ? `, made for session ${c.session}` : ""})`
    : `${c.sandbox.id} (${c.sandbox.state}, session ${c.session}, last used ${c.lastUsedAt}${c.branch ? `; work goes to ${c.branch}` : ""})`;

function render(o: PruneOutcome): void {
  const id = o.candidate.sandbox.id;
  if (o.kind === "deleted") out(`✔ deleted ${id}${o.branch ? ` — its work is on ${o.branch}` : ""}`);
  else if (o.kind === "kept") out(`! kept ${id}: ${o.why}`);
  else err(`✘ ${id}: ${o.why}`);
}

interface PruneOpts {
  yes?: boolean;
  grace: number;
  olderThan?: number;
  force?: boolean;
  json?: boolean;
  all?: boolean;
}

export function pruneCommand(): Command {
  return new Command("prune")
    .description("list sandboxes of this project that no session uses (and, with --older-than, ones unused that long); --yes deletes them")
    .option("-y, --yes", "delete them (default: only list them)")
    .option("--grace <minutes>", "spare unmapped sandboxes younger than this: another OpenCode may be creating one", (v) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError("a whole number of minutes");
      return Number(v);
    }, 10)
    .option("--older-than <age>", "also sessions' sandboxes unused for longer than this (7d, 12h, 30m): their work is synced first", parseAge)
    .option("--force", "delete also what holds work no branch has, or could not be synced")
    .option("--json", "print the plan (and outcomes) as JSON")
    .option("--all", "every sandbox of this installation, then everything else the plugin made on this machine (branches stay)")
    .action(
      withContext(async (ctx, opts: PruneOpts) => {
        if (opts.all) return pruneAll(ctx, opts);
        const provider = await ctx.providerNow();
        const pruner = new Pruner({ service: ctx.serviceNow(), provider, labels: ctx.labels });
        const policy = { graceMs: opts.grace * 60_000, unusedForMs: opts.olderThan, force: opts.force };
        const plan = await pruner.plan(policy);
        const go = plan.filter((c) => !c.spared);
        if (!opts.json) {
          if (!plan.length) return out(`No ${provider.name} sandbox of this project is left without a session${opts.olderThan !== undefined ? " or unused for that long" : ""}.`);
          out(`${plan.length} ${provider.name} sandbox(es) of this project no session uses${opts.olderThan !== undefined ? " or unused that long" : ""}:`);
          for (const c of plan) out(`  ${describe(c)}${c.spared ? ` — spared: ${c.spared}` : ""}`);
          if (plan.some((c) => !c.sandbox.createdAt))
            out(`! ${provider.name} does not tell a sandbox's age: none is spared as too young (one another OpenCode is creating right now would be listed).`);
        }
        if (!opts.yes) {
          // The dry run already says which unmapped ones would be kept for their work (started ones only: looking starts a stopped one).
          const checks = await Promise.all(
            go.map(async (c) => (c.reason === "unmapped" && c.sandbox.state === "started" ? pruner.unsyncedWork(c.sandbox).catch(() => undefined) : undefined)),
          );
          if (opts.json) return json({ dryRun: true, candidates: plan.map((c) => ({ ...c, unsynced: checks[go.indexOf(c)]?.lost })) });
          go.forEach((c, i) => {
            const lost = checks[i]?.lost;
            if (lost?.length) out(`  ${c.sandbox.id} holds work no branch has: ${lost.join(", ")} — kept unless --force`);
          });
          if (go.length) out(`Dry run: nothing deleted. To delete ${go.length}: opencode-sandboxed prune --yes${opts.olderThan !== undefined ? " --older-than …" : ""}`);
          return;
        }
        const outcomes: PruneOutcome[] = [];
        for (const c of go) {
          const o = await pruner.prune(c, policy);
          if (o.kind === "deleted") ctx.log.info(`prune: deleted sandbox ${o.candidate.sandbox.id} (${c.reason})${o.branch ? `; work on ${o.branch}` : ""}`);
          else ctx.log.warn(`prune: ${o.kind} sandbox ${o.candidate.sandbox.id}: ${o.why}`);
          outcomes.push(o);
          if (!opts.json) {
            // A sync before the delete says where the work went.
            renderNotices(ctx.notices);
            render(o);
          }
        }
        if (opts.json) json({ dryRun: false, candidates: plan, outcomes: outcomes.map((o) => ({ sandbox: o.candidate.sandbox.id, kind: o.kind, ...("why" in o ? { why: o.why } : {}), ...("branch" in o ? { branch: o.branch } : {}) })) });
        return outcomes.some((o) => o.kind !== "deleted") ? EXIT.failed : EXIT.ok;
      }),
    );
}

export function uninstallCommand(): Command {
  return new Command("uninstall")
    .description("prune --all: remove every sandbox of this installation and what the plugin made on this machine (branches stay); --yes to do it")
    .option("-y, --yes", "remove them (default: only list them)")
    .option("--force", "delete also sandboxes holding work no branch has, or that could not be synced")
    .action(withContext((ctx, opts: { yes?: boolean; force?: boolean }) => pruneAll(ctx, opts)));
}
