/**
 * Load on the Daytona provider: 20 sessions at once in one real `opencode serve`, the real
 * @daytonaio/sdk talking to the local stand-in of Daytona's API. A fault-free pass first,
 * then the same scripts with 10 % of all requests failing (500, 429 with Retry-After, 504
 * gateway timeouts, dropped connections; seeded, so every run fails the same requests).
 * Every session must still succeed, through retries that end, for at most twice the
 * requests of the fault-free pass. Waits are bounds for a hang.
 */
import { afterAll, describe, expect, it } from "vitest";
import { runLoad, sameFiles, sessionBranch, type LoadRun } from "../../harness/load.js";
import { Workbench } from "../../harness/opencode.js";
import { lacks, missingBwrap, missingCommand, missingRoot } from "../support/prereq.js";
import { until } from "../support/until.js";
import { startDaytonaStandin, type DaytonaStandin, type Fault, type RecordedRequest } from "../standin/daytona/index.js";
import { liveSandboxes } from "../e2e/support/daytona.js";

const SESSIONS = 20;
const FAILING = 0.1;
/** The kinds of failure, equally likely. A client-side timeout is 120 s per request here,
 * so a timeout is the gateway's: 504, as Daytona's proxy answers when the runner does not. */
const KINDS: Fault[] = [{ status: 500 }, { status: 429, retryAfter: 1 }, { status: 504 }, { drop: true }];
/** The plugin's bound (providers/retry.ts, 5 tries) times the SDK's own replays of a dropped idempotent request (3 tries). */
const MAX_TRIES = 5 * 3;

let standin: DaytonaStandin | undefined;
const benches: Workbench[] = [];
afterAll(async () => {
  for (const b of benches) await b.dispose();
  await standin?.close();
});

interface Pass {
  run: LoadRun;
  /** Requests from the first session created to the last session synced. */
  requests: RecordedRequest[];
}


/** The longest run of failed tries of one request: consecutive faulted entries on one method and path. */
function longestFailedRun(requests: RecordedRequest[]): number {
  const run = new Map<string, number>();
  let longest = 0;
  for (const r of requests) {
    const key = `${r.method} ${r.path}`;
    const n = r.fault ? (run.get(key) ?? 0) + 1 : 0;
    run.set(key, n);
    longest = Math.max(longest, n);
  }
  return longest;
}

async function pass(s: DaytonaStandin, label: string, faulty: boolean): Promise<Pass> {
  const bench = await Workbench.create({
    prefix: `ocs-load-daytona-${label}-`,
    options: { provider: "daytona" },
    env: { DAYTONA_API_KEY: s.apiKey, DAYTONA_API_URL: s.apiUrl, DAYTONA_TARGET: "us" },
  });
  benches.push(bench);
  const served = await bench.serve({ timeoutMs: 120_000 });
  s.resetRequests();
  if (faulty) {
    s.faults.seed(16);
    // Rules are tried in order, each with its own draw: chained so that each kind hits 1/4 of FAILING.
    KINDS.forEach((fault, k) => s.faults.add({ times: Infinity, probability: FAILING / KINDS.length / (1 - (k * FAILING) / KINDS.length), fault }));
  }
  const run = await runLoad(served, { sessions: SESSIONS, timeoutMs: 900_000 });
  const ids = run.outcomes.filter((o) => o.sessionID).map((o) => o.sessionID!);
  // Each session syncs once it went idle: wait (a bound for a hang) for every branch to hold its work.
  await until(() => run.outcomes.every((o) => o.sessionID && sameFiles(sessionBranch(bench, o.sessionID), o.files)), `${label}: every session's work on its branch`, 600_000).catch(() => {});
  const requests = [...s.requests];
  s.faults.clear();

  const failed = run.outcomes.filter((o) => !o.ok).map((o) => ({ index: o.index, error: o.error }));
  expect(failed, `${label}: sessions that failed`).toEqual([]);
  const state = bench.state();
  for (const o of run.outcomes) expect(sessionBranch(bench, o.sessionID!), `${label}: session ${o.index}`).toEqual(o.files);
  expect(new Set(ids.map((id) => state.sessions[id].sandboxId)).size).toBe(SESSIONS);

  // Clean up (fault-free) so that the next pass runs beside no leftover sandboxes.
  await Promise.all(ids.map((id) => served.client.session.delete({ path: { id } })));
  await until(() => Object.keys(bench.state().sessions).length === 0, `${label}: state empty after deletes`, 600_000);
  await until(() => liveSandboxes(s).length === 0, `${label}: no sandbox left at the stand-in`, 600_000);
  await served.stop(120_000);
  return { run, requests };
}

describe(`load: ${SESSIONS} concurrent sessions on Daytona (stand-in), ${FAILING * 100} % of requests failing`, () => {
  if (lacks(missingRoot(), missingBwrap(), missingCommand("rg"))) return;

  it("every session succeeds through retries that end, within twice the requests of the fault-free pass", async () => {
    standin = await startDaytonaStandin({ daemon: "shell" });
    const clean = await pass(standin, "fault-free", false);
    const faulty = await pass(standin, "faults", true);

    const faulted = faulty.requests.filter((r) => r.fault);
    const kinds: Record<string, number> = {};
    for (const r of faulted) kinds[r.fault!] = (kinds[r.fault!] ?? 0) + 1;
    const longest = longestFailedRun(faulty.requests);
    console.log(
      `load-daytona: ${SESSIONS} sessions, ${clean.run.toolCalls} tool calls per pass; fault-free ${clean.requests.length} requests in ${clean.run.ms} ms; ` +
        `with faults ${faulty.requests.length} requests (${faulted.length} failed: ${JSON.stringify(kinds)}) in ${faulty.run.ms} ms; longest run of failed tries of one request ${longest}`,
    );
    // The faults happened, of every kind.
    expect(Object.keys(kinds).sort()).toEqual(["before: drop", "before: status 429", "before: status 500", "before: status 504"]);
    expect(faulted.length).toBeGreaterThan(0);
    // Retries end: no request was tried more often than the bound.
    expect(longest).toBeLessThan(MAX_TRIES);
    expect(faulty.requests.length).toBeLessThanOrEqual(2 * clean.requests.length);
  }, 1_800_000);
});
