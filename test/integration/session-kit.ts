/** The plugin's per-project parts (state store, session manager, git sync) on real local sandboxes. */
import type { Logger } from "../../.opencode/plugin/sandbox/core/logger.js";
import type { PhaseHook } from "../../.opencode/plugin/sandbox/util/phases.js";
import { SessionManager } from "../../.opencode/plugin/sandbox/core/session-manager.js";
import { StateStore } from "../../.opencode/plugin/sandbox/core/state-store.js";
import { GitSync } from "../../.opencode/plugin/sandbox/git/service.js";
import { LocalProvider } from "../../.opencode/plugin/sandbox/providers/local/index.js";
import { LIMITS } from "../support/local-harness.js";
import { RecordingToaster, testConfig } from "./git-support.js";

export function sessionKit(o: { repo: string; base: string; stateDir: string; log: Logger; phases?: PhaseHook }) {
  const toast = new RecordingToaster();
  const provider = new LocalProvider({ root: o.base, network: "none", ...LIMITS, log: o.log });
  const store = new StateStore({ projectId: "p", worktree: o.repo, log: o.log, dir: o.stateDir, phases: o.phases });
  const gitSync: GitSync = new GitSync({
    directory: o.repo,
    config: testConfig(),
    log: o.log,
    notify: toast.notify,
    store,
    sandboxFor: (id) => manager.sandboxFor(id),
    phases: o.phases,
  });
  const manager: SessionManager = new SessionManager({
    projectId: "p",
    store,
    log: o.log,
    notify: toast.notify,
    provider: async () => provider,
    seed: gitSync.seed,
    phases: o.phases,
  });
  return { manager, gitSync, store, provider };
}
