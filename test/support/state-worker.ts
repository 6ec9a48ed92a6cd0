// Child process for the cross-process state test: N concurrent updates, each adding one session.
import { StateStore } from "../../.opencode/plugin/sandbox/core/state-store.js";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";

const [dir, prefix, count] = process.argv.slice(2);
const store = new StateStore({ projectId: "p", worktree: "/w", log: silentLogger, dir });
const now = new Date().toISOString();
await Promise.all(
  Array.from({ length: Number(count) }, (_, i) =>
    store.set(`${prefix}-${i}`, { provider: "dir", sandboxId: `${prefix}-${i}`, createdAt: now, lastUsedAt: now }),
  ),
);
