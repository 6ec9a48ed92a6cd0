/**
 * Waiting for a running sandbox to end without trusting one signal alone. Its end is
 * normally reported by bubblewrap's exit event; when that event is late or never comes
 * (a stop once waited forever on it, under Bun), /proc shows the process gone and the
 * end is run from here — once, whichever comes first.
 */
import { alive, type ProcessRef } from "../../util/process-ref.js";
import { sleep } from "./proc.js";

/** How long the exit event gets once /proc shows the process gone, before the end is run without it. */
const EVENT_GRACE_MS = 1_000;
const POLL_MS = 50;

export interface Ending {
  /** Resolves when the end has run (its clean-up done). */
  readonly ended: Promise<void>;
  /** Runs the end (clean-up, then `ended`); later calls do nothing. Never throws. */
  end(how: string): Promise<void>;
}

/** `cleanup` runs once, for the exit event or for `waitEnded`'s fallback; a failure in it still ends. */
export function ending(cleanup: (how: string) => Promise<void>, onError: (error: Error) => void): Ending {
  let resolve!: () => void;
  const ended = new Promise<void>((r) => (resolve = r));
  let running: Promise<void> | undefined;
  return {
    ended,
    end(how) {
      running ??= cleanup(how)
        .catch((error: Error) => onError(error))
        .finally(resolve);
      return running;
    },
  };
}

/**
 * True once the sandbox has ended, within `ms`. The process `bwrap` gone (or a zombie
 * nobody reaps) for longer than the event's grace counts as ended: the end is run here.
 */
export async function waitEnded(e: Ending, bwrap: ProcessRef | null, ms: number): Promise<boolean> {
  let done = false;
  void e.ended.then(() => (done = true));
  const deadline = Date.now() + ms;
  let goneSince: number | undefined;
  while (!done && Date.now() < deadline) {
    await Promise.race([e.ended, sleep(POLL_MS)]);
    if (done || alive(bwrap)) continue;
    goneSince ??= Date.now();
    if (Date.now() - goneSince < EVENT_GRACE_MS) continue;
    await e.end("ended; its exit was not reported");
    return true;
  }
  return done;
}
