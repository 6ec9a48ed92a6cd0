/**
 * Transient failures (5xx, 429, timeouts, dropped connections) retried in one place:
 * bounded attempts, exponential back-off with full jitter, a server's Retry-After
 * honoured up to the cap. Only for requests that are safe to send again — a command
 * whose outcome is unknown is resolved by asking, never by re-running it.
 */

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseMs: 200, maxMs: 10_000 };

/** What to do about an error: give up, or retry (after at least `afterMs` when the server said so). */
export type Verdict = { retry: false } | { retry: true; afterMs?: number };

export interface RetryOptions {
  policy?: RetryPolicy;
  classify: (error: unknown) => Verdict;
  /** Told before each wait (for the log). */
  onRetry?: (error: unknown, attempt: number, waitMs: number) => void;
  signal?: AbortSignal;
  /** Tests: a random number in [0, 1). */
  random?: () => number;
  /** Tests: waits. */
  sleep?: (ms: number) => Promise<void>;
}

export function backoffMs(attempt: number, policy: RetryPolicy, random: () => number, afterMs?: number): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
  const jittered = Math.floor(random() * ceiling);
  return Math.min(policy.maxMs, Math.max(jittered, afterMs ?? 0));
}

export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const policy = options.policy ?? DEFAULT_RETRY;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      const verdict = options.classify(error);
      if (!verdict.retry || attempt >= policy.attempts || options.signal?.aborted) throw error;
      const wait = backoffMs(attempt, policy, random, verdict.afterMs);
      options.onRetry?.(error, attempt, wait);
      await sleep(wait);
    }
  }
}
