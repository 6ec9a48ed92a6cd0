/**
 * Timing helpers. A subject is always measured beside its baseline in the same run,
 * interleaved and alternating which goes first, so drift in machine load hits both.
 */
export async function timed(fn: () => unknown | Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

export async function repeat(runs: number, fn: (i: number) => unknown | Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) out.push(await timed(() => fn(i)));
  return out;
}

export interface Pair {
  baseline: number[];
  subject: number[];
}

export async function interleaved(
  runs: number,
  baseline: (i: number) => unknown | Promise<unknown>,
  subject: (i: number) => unknown | Promise<unknown>,
  { warmup = 1 } = {},
): Promise<Pair> {
  for (let i = 0; i < warmup; i++) {
    await baseline(-1 - i);
    await subject(-1 - i);
  }
  const pair: Pair = { baseline: [], subject: [] };
  for (let i = 0; i < runs; i++) {
    const b = async () => pair.baseline.push(await timed(() => baseline(i)));
    const s = async () => pair.subject.push(await timed(() => subject(i)));
    if (i % 2) await s().then(b);
    else await b().then(s);
  }
  return pair;
}
