/** The plugin's per-project service (state store, session manager, git sync) on real local sandboxes. */
import type { Logger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { LocalProvider } from "../../.opencode/plugin/sandbox/providers/local/index.js";
import { ProjectService } from "../../.opencode/plugin/sandbox/service/project.js";
import type { PhaseHook } from "../../.opencode/plugin/sandbox/util/phases.js";
import { LIMITS } from "../support/local-harness.js";
import { testConfig } from "./git-support.js";

export function sessionKit(o: { repo: string; base: string; stateDir: string; log: Logger; phases?: PhaseHook }) {
  const provider = new LocalProvider({ root: o.base, network: "none", ...LIMITS, log: o.log });
  const { manager, gitSync, store } = new ProjectService({
    projectId: "p",
    worktree: o.repo,
    directory: o.repo,
    config: testConfig(),
    log: o.log,
    notify: () => {},
    provider: async () => provider,
    stateDir: o.stateDir,
    phases: o.phases,
  });
  return { manager, gitSync, store, provider };
}
