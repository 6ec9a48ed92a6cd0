/** Order statistics of a sample. p95 only from at least 20 runs: fewer cannot carry it. */
export interface Summary {
  n: number;
  median: number;
  p95?: number;
  min: number;
  max: number;
}

export const P95_MIN_RUNS = 20;

function quantile(sorted: number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

export function summarize(samples: number[]): Summary {
  if (samples.length === 0) throw new Error("no samples to summarize");
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    median: quantile(sorted, 0.5),
    ...(sorted.length >= P95_MIN_RUNS ? { p95: quantile(sorted, 0.95) } : {}),
    min: sorted[0]!,
    max: sorted[sorted.length - 1]!,
  };
}
