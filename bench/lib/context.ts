/** What a benchmark is given: whether this is the smoke run, and how many runs to make. */
export interface BenchContext {
  /** A short run that only proves the benchmark still works (CI): few runs, small inputs. */
  smoke: boolean;
  /** `full` runs normally, `smoke` (default 2) in the smoke run. */
  runs(full: number, smoke?: number): number;
  /** A progress line on stderr (the report is built from the returned section). */
  progress(message: string): void;
}

export function benchContext(smoke: boolean, name: string): BenchContext {
  return {
    smoke,
    runs: (full, smokeRuns = 2) => (smoke ? smokeRuns : full),
    progress: (message) => process.stderr.write(`[${name}] ${message}\n`),
  };
}
