/**
 * `diff [session]`: what the session's branch changes against the commit its sandbox
 * started from — host-side git in the user's repository (hardened), after a sync when
 * the sandbox can be reached.
 */
import { Command } from "commander";
import { findRepo, HostGit } from "../git/host-git.js";
import { withContext } from "./context.js";
import { filesRepoOf } from "./files-repo.js";
import { CliError, err, renderNotices, short } from "./output.js";
import { chooseSession } from "./sessions.js";
import { syncChosen } from "./sync.js";

export function diffCommand(): Command {
  return new Command("diff")
    .description("show what a session's branch changes since its sandbox started (syncs first)")
    .argument("[session]", "session id, a unique prefix of it, or its branch (opencode/N)")
    .option("--no-sync", "show the branch as last synced, without reaching the sandbox")
    .option("--stat", "a diffstat instead of the patch")
    .action(
      withContext(async (ctx, wanted: string | undefined, opts: { sync: boolean; stat?: boolean }) => {
        let chosen = await chooseSession(ctx.store, wanted);
        if (opts.sync) {
          // A sandbox that cannot be reached still leaves its synced work to show: say so, go on.
          await syncChosen(ctx, chosen).catch((error: Error) => {
            renderNotices(ctx.notices, err);
            if (error.message) err(`! Not synced (${error.message.split("\n")[0]}); showing the branch as last synced.`);
          });
          // stdout is the patch alone (it can be piped to git apply): what sync said goes to stderr.
          renderNotices(ctx.notices, err);
          chosen = { ...chosen, record: (await ctx.store.get(chosen.id)) ?? chosen.record };
        }
        const { record } = chosen;
        const branch = record.sideBranch ?? record.branch;
        if (!record.baseCommit || !branch) throw new CliError(`Session ${chosen.id} has no synced work yet (no branch).`);
        // A folder without git: the session's work is in the project's private repository.
        const files = await filesRepoOf(ctx);
        const repo = files ? undefined : await findRepo(ctx.project.directory);
        const git = files?.git ?? (repo ? new HostGit(repo.top) : undefined);
        if (!git) throw new CliError("Not inside a git repository.");
        err(`diff ${short(record.baseCommit)}..${branch} (session ${chosen.id})${files ? `; apply it: opencode-sandboxed apply ${branch}` : ""}`);
        const args = ["diff", "--no-ext-diff", "--no-textconv", ...(opts.stat ? ["--stat"] : []), `${record.baseCommit}..refs/heads/${branch}`, "--"];
        process.stdout.write((await git.run(args)).stdout);
      }),
    );
}
