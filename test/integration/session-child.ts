/**
 * Child process for the session kill tests (run with `node --import tsx`):
 *   <json { repo, base, stateDir, sessionID, pauseAt? }>
 * Builds what the plugin builds for a project (state store, session manager, git sync
 * seeding) on the local provider, asks for the session's sandbox and prints
 * `RESULT <sandbox id>`; with `pauseAt`, prints `PAUSED <phase>` there and waits to be killed.
 */
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import type { Phase } from "../../.opencode/plugin/sandbox/util/phases.js";
import { sessionKit } from "./session-kit.js";

const { repo, base, stateDir, sessionID, pauseAt } = JSON.parse(process.argv[2]) as Record<string, string>;
const phases = async (phase: Phase) => {
  if (phase !== pauseAt) return;
  console.log(`PAUSED ${phase}`);
  setInterval(() => {}, 60_000); // a pending promise alone would let the process exit
  await new Promise(() => {});
};
const { manager } = sessionKit({ repo, base, stateDir, log: silentLogger, phases });
const sandbox = await manager.sandboxFor(sessionID);
console.log(`RESULT ${sandbox.id}`);
await manager.dispose();
