/**
 * Child process for git sync tests (run with `node --import tsx`):
 *   sync <json>      — one sync of a session on a directory sandbox; prints READY first,
 *                      PHASE <name> at each named point it passes, and, when `pauseAt`
 *                      names one, PAUSED <name> there and then waits to be killed
 *   allocate <repo> <count> — allocates branches, prints their numbers as JSON
 */
import { ConfigSchema } from "../../.opencode/plugin/sandbox/config.js";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { HostGit } from "../../.opencode/plugin/sandbox/git/host-git.js";
import { allocateBranch } from "../../.opencode/plugin/sandbox/git/refs.js";
import { GitSync } from "../../.opencode/plugin/sandbox/git/service.js";
import { DirProvider } from "../support/dir-provider.js";
import { StateStore } from "../../.opencode/plugin/sandbox/core/state-store.js";
import { pauseAt } from "../support/phases.js";

const [mode, ...args] = process.argv.slice(2);
if (mode === "sync") {
  const { repo, base, sandboxId, sessionID, stateDir, pauseAt: pause } = JSON.parse(args[0]) as Record<string, string>;
  const sandbox = await new DirProvider(base).create({ labels: {}, id: sandboxId });
  const phases = pauseAt(pause, { trace: true });
  const gitSync = new GitSync({
    directory: repo,
    config: ConfigSchema.parse({}),
    log: silentLogger,
    notify: () => {},
    store: new StateStore({ projectId: "p", worktree: repo, log: silentLogger, dir: stateDir, phases }),
    sandboxFor: async () => sandbox,
    phases,
  });
  console.log("READY");
  const result = await gitSync.sync(sessionID, "manual");
  console.log(`RESULT ${JSON.stringify(result)}`);
} else if (mode === "allocate") {
  const [repo, count] = args;
  const git = new HostGit(repo);
  const head = await git.out(["rev-parse", "HEAD"]);
  const got: number[] = [];
  for (let i = 0; i < Number(count); i++) got.push((await allocateBranch(git, "opencode", head, "test", `ses_child_${process.pid}`)).branchNumber);
  console.log(`RESULT ${JSON.stringify(got)}`);
}
