/**
 * `prune --all` (and `uninstall`): every sandbox this installation made, on the local
 * provider and on Daytona when a key is configured — each project's sessions synced to
 * their branches first, unmapped ones checked for work no branch has (kept unless
 * --force) — and then, when none was kept, what the plugin made on this machine: local
 * mounts, cgroups, uid reservations, the sandboxes directory, state files and told links.
 * Branches stay (and a folder-without-git project's private repository, which holds
 * its branches), and so does the log.
 */
import { readFile, rm, stat } from "node:fs/promises";
import { resolveProvider } from "../config.js";
import { portsDir, sandboxesDir, stateDir, statePath } from "../core/paths.js";
import { LABEL_PLUGIN } from "../core/session-manager.js";
import { createProvider } from "../providers/factory.js";
import type { SandboxProvider } from "../providers/provider.js";
import { PREVIEW_LABELS } from "../service/preview.js";
import { ProjectService } from "../service/project.js";
import { Pruner, type PruneCandidate, type PruneOutcome } from "../service/prune.js";
import type { CliContext } from "./context.js";
import { EXIT, err, out, renderNotices } from "./output.js";

/** The providers this installation may have sandboxes on: local always, Daytona when it has a key. */
async function providers(ctx: CliContext): Promise<SandboxProvider[]> {
  const configured = await ctx.providerNow();
  const other = resolveProvider(ctx.config) === "local" ? (ctx.config.daytona.apiKey ? "daytona" : undefined) : "local";
  return other ? [configured, await createProvider({ ...ctx.config, provider: other }, ctx.log)] : [configured];
}

/** A project's worktree as its state file tells it ("/": unknown, then nothing counts as synced). */
async function worktreeOf(projectId: string): Promise<string> {
  try {
    const state = JSON.parse(await readFile(statePath(projectId), "utf8")) as { worktree?: unknown };
    return typeof state.worktree === "string" && (await stat(state.worktree).then(() => true, () => false)) ? state.worktree : "/";
  } catch {
    return "/";
  }
}

function serviceFor(ctx: CliContext, provider: SandboxProvider, projectId: string, worktree: string): ProjectService {
  if (projectId === ctx.project.id && provider.name === resolveProvider(ctx.config)) return ctx.serviceNow();
  return new ProjectService({
    projectId,
    worktree,
    directory: worktree,
    config: ctx.config,
    log: ctx.log,
    notify: (notice) => ctx.notices.push(notice),
    provider: async () => provider,
  });
}

const describe = (c: PruneCandidate) =>
  `${c.sandbox.id} (${c.sandbox.state}; ${c.reason === "preview" ? "a preview" : c.reason === "unused" ? `session ${c.session}, work goes to ${c.branch ?? "its branch"}` : `no session${c.session ? `, made for ${c.session}` : ""}`})`;

export async function pruneAll(ctx: CliContext, opts: { yes?: boolean; force?: boolean }): Promise<number> {
  const all = await providers(ctx);
  const extra = all.slice(1);
  try {
    const policy = { graceMs: 0, all: true, force: opts.force };
    const plans: { provider: SandboxProvider; pruner: Pruner; candidates: PruneCandidate[] }[] = [];
    for (const provider of all) {
      const projects = new Set((await provider.list({ plugin: LABEL_PLUGIN })).map((s) => s.labels.project).filter((p): p is string => !!p));
      for (const projectId of projects) {
        const service = serviceFor(ctx, provider, projectId, projectId === ctx.project.id ? ctx.project.worktree : await worktreeOf(projectId));
        const pruner = new Pruner({ service, provider, labels: { plugin: LABEL_PLUGIN, project: projectId } });
        plans.push({ provider, pruner, candidates: await pruner.plan(policy) });
      }
      const pruner = new Pruner({ service: ctx.serviceNow(), provider, labels: { ...PREVIEW_LABELS } });
      plans.push({ provider, pruner, candidates: await pruner.plan(policy) });
    }
    const count = plans.reduce((n, p) => n + p.candidates.length, 0);
    out(`${count} sandbox(es) of this installation (${all.map((p) => p.name).join(" and ")}):`);
    for (const { provider, candidates } of plans) for (const c of candidates) out(`  ${provider.name} ${describe(c)}`);
    const local = sandboxesDir();
    out(`Then, when none is kept: local mounts, cgroups and uid reservations, ${local}, ${stateDir()} (state files), ${portsDir()} (told links). Branches and the log stay.`);
    if (!opts.yes) {
      out(`Dry run: nothing deleted. To remove them: opencode-sandboxed ${"prune --all"} --yes`);
      return EXIT.ok;
    }
    const outcomes: PruneOutcome[] = [];
    for (const { pruner, candidates } of plans)
      for (const c of candidates) {
        const o = await pruner.prune(c, policy);
        renderNotices(ctx.notices);
        if (o.kind === "deleted") out(`✔ deleted ${c.sandbox.id}${o.branch ? ` — its work is on ${o.branch}` : ""}`);
        else if (o.kind === "kept") out(`! kept ${c.sandbox.id}: ${o.why}`);
        else err(`✘ ${c.sandbox.id}: ${o.why}`);
        ctx.log.info(`prune --all: ${o.kind} sandbox ${c.sandbox.id}${"why" in o ? `: ${o.why}` : ""}`);
        outcomes.push(o);
      }
    if (outcomes.some((o) => o.kind !== "deleted")) {
      err("✘ Some sandboxes were kept: the plugin's state on this machine stays (it still finds them). Nothing else was removed.");
      return EXIT.failed;
    }
    let failed = false;
    for (const provider of all) {
      const removed = await provider.uninstall?.().catch((error: Error) => {
        failed = true;
        err(`✘ ${provider.name}: ${error.message}`);
        return [];
      });
      for (const line of removed ?? []) out(`✔ removed ${line}`);
    }
    if (failed) return EXIT.failed;
    for (const [dir, what] of [[stateDir(), "state files"], [portsDir(), "told links"]] as const) {
      if (!(await stat(dir).then(() => true, () => false))) continue;
      await rm(dir, { recursive: true, force: true });
      out(`✔ removed ${what} ${dir}`);
    }
    out("Done: nothing of opencode-sandboxed's sandboxes is left on this machine; your branches stay.");
    return EXIT.ok;
  } finally {
    for (const p of extra) await p.dispose?.().catch(() => {});
  }
}
