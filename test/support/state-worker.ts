// Child process for the cross-process state tests:
//   <dir> <prefix> <count>   — N concurrent updates, each adding one session
//   <dir> <prefix> pause     — one update that stops once its new file is written, before the
//                              rename (prints PAUSED), and waits to be killed
import { StateStore } from "../../.opencode/plugin/sandbox/core/state-store.js";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { pauseAt } from "./phases.js";

const [dir, prefix, count] = process.argv.slice(2);
const pause = count === "pause";
const store = new StateStore({
  projectId: "p",
  worktree: "/w",
  log: silentLogger,
  dir,
  phases: pauseAt(pause ? "state:written" : undefined),
});
const now = new Date().toISOString();
await Promise.all(
  Array.from({ length: pause ? 1 : Number(count) }, (_, i) =>
    store.set(`${prefix}-${i}`, { provider: "dir", sandboxId: `${prefix}-${i}`, createdAt: now, lastUsedAt: now }),
  ),
);
