/**
 * interleaved() for runs that need untimed work around the timed part (making the
 * change a sync then carries, measuring what it carried): the same alternation of
 * which side goes first, only `run` timed.
 */
import type { Pair } from "../lib/measure.js";

export interface Step {
  /** Untimed, before `run`. */
  setup?: (i: number) => unknown | Promise<unknown>;
  run: (i: number) => unknown | Promise<unknown>;
  /** Untimed, after `run`. */
  after?: (i: number) => unknown | Promise<unknown>;
}

async function once(step: Step, i: number): Promise<number> {
  await step.setup?.(i);
  const t0 = performance.now();
  await step.run(i);
  const ms = performance.now() - t0;
  await step.after?.(i);
  return ms;
}

export async function interleavedSteps(runs: number, baseline: Step, subject: Step, { warmup = 1 } = {}): Promise<Pair> {
  for (let i = 0; i < warmup; i++) {
    await once(baseline, -1 - i);
    await once(subject, -1 - i);
  }
  const pair: Pair = { baseline: [], subject: [] };
  for (let i = 0; i < runs; i++) {
    const b = async () => pair.baseline.push(await once(baseline, i));
    const s = async () => pair.subject.push(await once(subject, i));
    if (i % 2) await s().then(b);
    else await b().then(s);
  }
  return pair;
}
