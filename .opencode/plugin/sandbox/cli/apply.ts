/**
 * `apply [session]`: writes a session's work into a folder without git, on purpose —
 * a three-way merge with what the folder holds now (git/apply-files.ts). Syncs first
 * when the sandbox can be reached. All or nothing: conflicts, refused paths or files
 * changed meanwhile leave the folder as it was (exit 1).
 */
import { Command } from "commander";
import type { FilesApplyOutcome } from "../git/apply-files.js";
import { applySession } from "../git/apply-session.js";
import { isGitSyncError } from "../git/errors.js";
import { withContext, type CliContext } from "./context.js";
import { filesRepoOf } from "./files-repo.js";
import { CliError, EXIT, err, json, out, renderNotices, short } from "./output.js";
import { chooseSession, type ChosenSession } from "./sessions.js";
import { syncChosen } from "./sync.js";

interface ApplyOptions {
  sync: boolean;
  dryRun?: boolean;
  allowAutoRun?: boolean;
  allowEscapingSymlinks?: boolean;
  json?: boolean;
}

export function applyCommand(): Command {
  return new Command("apply")
    .description("write a session's work into this folder (a project without git): a three-way merge with the folder as it is now")
    .argument("[session]", "session id, a unique prefix of it, or its branch (opencode/N)")
    .option("--no-sync", "apply the work as last synced, without reaching the sandbox")
    .option("--dry-run", "say what would change; write nothing")
    .option("--allow-auto-run", "also write files that configure or run tools by themselves (.opencode/, opencode.json, .envrc, .vscode/ …)")
    .option("--allow-escaping-symlinks", "also write symlinks that point outside the folder")
    .option("--json", "print the outcome as JSON")
    .action(withContext((ctx, wanted: string | undefined, opts: ApplyOptions) => apply(ctx, wanted, opts)));
}

async function apply(ctx: CliContext, wanted: string | undefined, opts: ApplyOptions): Promise<number> {
  let chosen = await chooseSession(ctx.store, wanted);
  const files = await filesRepoOf(ctx);
  if (!files) {
    const branch = chosen.record.sideBranch ?? chosen.record.branch ?? "opencode/<N>";
    throw new CliError(`${ctx.project.directory} is a git repository: session ${chosen.id}'s work is on the branch ${branch}. Merge it: git merge ${branch}`);
  }
  if (opts.sync) chosen = await syncFirst(ctx, chosen);
  const { branch, outcome } = await applySession({
    files,
    sessionID: chosen.id,
    store: ctx.store,
    config: ctx.config,
    allow: { autoRun: opts.allowAutoRun, escapingSymlinks: opts.allowEscapingSymlinks },
    dryRun: opts.dryRun,
  }).catch((error: Error) => {
    throw isGitSyncError(error, "no_repository") ? new CliError(`Session ${chosen.id} has no synced work yet.`) : error;
  });
  if (opts.json) json({ session: chosen.id, branch, dryRun: !!opts.dryRun, ...outcome });
  else render(outcome, { id: chosen.id, branch, directory: ctx.project.directory, dryRun: !!opts.dryRun });
  return outcome.kind === "applied" || outcome.kind === "up_to_date" ? EXIT.ok : EXIT.failed;
}

/** Like diff: a sandbox that cannot be reached still leaves its synced work to apply. */
async function syncFirst(ctx: CliContext, chosen: ChosenSession): Promise<ChosenSession> {
  await syncChosen(ctx, chosen).catch((error: Error) => {
    renderNotices(ctx.notices, err);
    if (error.message) err(`! Not synced (${error.message.split("\n")[0]}); applying the work as last synced.`);
  });
  renderNotices(ctx.notices, err);
  return { ...chosen, record: (await ctx.store.get(chosen.id)) ?? chosen.record };
}

const LETTER = { added: "A", modified: "M", deleted: "D" } as const;

function render(o: FilesApplyOutcome, s: { id: string; branch: string; directory: string; dryRun: boolean }): void {
  const nothing = "nothing was written";
  switch (o.kind) {
    case "applied":
      for (const c of o.changes) out(`${LETTER[c.change]} ${c.path}`);
      out(
        s.dryRun
          ? `· Would apply ${o.changes.length} change(s) of session ${s.id} (${s.branch} at ${short(o.commit)}) to ${s.directory}.`
          : `✔ Applied ${o.changes.length} change(s) of session ${s.id} (${s.branch} at ${short(o.commit)}) to ${s.directory}.`,
      );
      return;
    case "up_to_date":
      out(`✔ ${s.directory} already holds session ${s.id}'s work (${s.branch} at ${short(o.commit)}).`);
      return;
    case "conflict":
      err(`✘ Session ${s.id}'s work conflicts with changes in ${s.directory} in ${o.conflicts.length} file(s); ${nothing}:`);
      for (const c of o.conflicts) err(`  ${c.path}: ${c.why}`);
      err(`  See the session's work: opencode-sandboxed diff ${s.branch}`);
      return;
    case "refused":
      err(`✘ Session ${s.id}'s work touches ${o.refused.length} path(s) that are not applied without your leave; ${nothing}:`);
      for (const r of o.refused) err(`  ${r.path}: ${r.why}`);
      return;
    case "changed":
      err(
        `✘ ${o.paths.length} path(s) in ${s.directory} are not as the apply found them — changed meanwhile, or an ignored file is in the way ` +
          `(${o.paths.join(", ")}); ${nothing}. Move what is in the way, or run it again.`,
      );
      return;
  }
}
