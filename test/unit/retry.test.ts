import { describe, expect, it } from "vitest";
import { backoffMs, withRetry, type Verdict } from "../../.opencode/plugin/sandbox/providers/retry.js";

const policy = { attempts: 4, baseMs: 100, maxMs: 1000 };

describe("withRetry", () => {
  it("retries what the classifier calls transient, up to the attempts, waiting with back-off", async () => {
    const waits: number[] = [];
    let calls = 0;
    const error = new Error("503");
    await expect(
      withRetry(async () => {
        calls++;
        throw error;
      }, { policy, classify: () => ({ retry: true }), random: () => 0.999, sleep: async (ms) => void waits.push(ms) }),
    ).rejects.toBe(error);
    expect(calls).toBe(4);
    expect(waits).toEqual([99, 199, 399]);
  });

  it("returns the first success; never retries what is not transient", async () => {
    let calls = 0;
    expect(await withRetry(async (n) => (++calls < 3 ? Promise.reject(new Error("x")) : n), { policy, classify: () => ({ retry: true }), sleep: async () => {} })).toBe(3);
    calls = 0;
    const fatal = new Error("401");
    await expect(withRetry(async () => (calls++, Promise.reject(fatal)), { policy, classify: () => ({ retry: false }), sleep: async () => {} })).rejects.toBe(fatal);
    expect(calls).toBe(1);
  });

  it("honours Retry-After up to the cap, and stops once aborted", async () => {
    const waits: number[] = [];
    const classify = (): Verdict => ({ retry: true, afterMs: 5000 });
    const abort = new AbortController();
    let calls = 0;
    await expect(
      withRetry(async () => {
        if (++calls === 2) abort.abort();
        throw new Error("429");
      }, { policy, classify, signal: abort.signal, random: () => 0, sleep: async (ms) => void waits.push(ms) }),
    ).rejects.toThrow("429");
    expect(waits).toEqual([1000]);
    expect(calls).toBe(2);
  });

  it.each([
    [1, 0.5, undefined, 50],
    [3, 0.5, undefined, 200],
    [10, 0.999, undefined, 999],
    [1, 0, 300, 300],
  ])("backoff(attempt %i, random %f, after %s) = %i", (attempt, random, after, expected) => {
    expect(backoffMs(attempt, policy, () => random, after)).toBe(expected);
  });
});
