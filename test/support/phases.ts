/**
 * The phase hook kill tests give their child processes: at `pauseAt` it prints
 * `PAUSED <phase>` and waits to be killed; with `trace`, every phase passed is printed
 * as `PHASE <phase>` first.
 */
import type { PhaseHook } from "../../.opencode/plugin/sandbox/util/phases.js";

export function pauseAt(phase: string | undefined, options: { trace?: boolean } = {}): PhaseHook {
  return async (reached) => {
    if (options.trace) console.log(`PHASE ${reached}`);
    if (reached !== phase) return;
    console.log(`PAUSED ${reached}`);
    setInterval(() => {}, 60_000); // a pending promise alone would let the process exit
    await new Promise(() => {});
  };
}
