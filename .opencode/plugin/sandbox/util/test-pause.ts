/**
 * TEST HOOK — inert unless set. Lets a test `kill -9` real OpenCode at an exact point
 * of the plugin's work (util/phases.ts) however fast or slow the machine is:
 *
 *   OPENCODE_SANDBOXED_TEST_PAUSE_AT=<phase>[#<n>]   pause the n-th time <phase> is reached (default 1)
 *   OPENCODE_SANDBOXED_TEST_PAUSED_FILE=<path>       written with "<phase>" once paused
 *
 * Read once, from OpenCode's own environment, when the plugin loads. Nothing inside a
 * sandbox can set it: commands there run with the sandbox's environment in another
 * process tree (another machine, for Daytona), and the plugin never reads the
 * sandbox's environment back. Both variables must be set, or there is no hook.
 */
import { writeFileSync } from "node:fs";
import type { PhaseHook } from "./phases.js";

export const PAUSE_AT = "OPENCODE_SANDBOXED_TEST_PAUSE_AT";
export const PAUSED_FILE = "OPENCODE_SANDBOXED_TEST_PAUSED_FILE";

export function pauseHookFromEnv(env: NodeJS.ProcessEnv): PhaseHook | undefined {
  const spec = env[PAUSE_AT];
  const file = env[PAUSED_FILE];
  if (!spec || !file) return undefined;
  const [phase, nth] = spec.split("#");
  let left = nth ? Number(nth) : 1;
  return async (reached) => {
    if (reached !== phase || --left !== 0) return;
    writeFileSync(file, `${reached}\n`);
    // Held here until killed; the timer keeps a runtime with nothing else to do alive.
    setInterval(() => {}, 60_000);
    await new Promise(() => {});
  };
}
