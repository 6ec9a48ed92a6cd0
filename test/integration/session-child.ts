/**
 * Child process for the session kill tests (run with `node --import tsx`):
 *   <json { repo, base, stateDir, sessionID, pauseAt? }>
 * Builds what the plugin builds for a project (state store, session manager, git sync
 * seeding) on the local provider, asks for the session's sandbox and prints
 * `RESULT <sandbox id>`; with `pauseAt`, prints `PAUSED <phase>` there and waits to be killed.
 */
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { pauseAt } from "../support/phases.js";
import { sessionKit } from "./session-kit.js";

const { repo, base, stateDir, sessionID, pauseAt: pause } = JSON.parse(process.argv[2]) as Record<string, string>;
const { manager } = sessionKit({ repo, base, stateDir, log: silentLogger, phases: pauseAt(pause) });
const sandbox = await manager.sandboxFor(sessionID);
console.log(`RESULT ${sandbox.id}`);
await manager.dispose();
