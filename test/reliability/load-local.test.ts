/**
 * Load on the local provider: 50 sessions at once in one real `opencode serve`, each making
 * its bubblewrap sandbox and 20 tool calls (several in parallel), then syncing. Everything
 * is checked from the host: the tool parts OpenCode recorded, the plugin's state file, the
 * sandboxes directory, git branches, processes and mounts. Waits are bounds for a hang.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { runLoad, sameFiles, sessionBranch, type LoadRun } from "../../harness/load.js";
import { Workbench, type Served } from "../../harness/opencode.js";
import { lacks, missingBwrap, missingCommand } from "../support/prereq.js";
import { until } from "../support/until.js";

const SESSIONS = 50;

let bench: Workbench | undefined;
afterAll(async () => {
  await bench?.dispose();
});

const sandboxDirs = (b: Workbench) => (existsSync(b.sandboxesDir()) ? readdirSync(b.sandboxesDir()).filter((d) => d.startsWith("sb-")) : []);
/** Mount points under this test's own directory (a root sandbox's disk image is one). */
const mountsOf = (root: string) => readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.split(" ")[4]?.startsWith(root));
/** Live bwrap processes whose command line names this test's directory. */
function bwrapsOf(root: string): number[] {
  const pids: number[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (argv[0]?.endsWith("bwrap") && argv.some((a) => a.includes(root))) pids.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

describe(`load: ${SESSIONS} concurrent sessions on the local provider`, () => {
  if (lacks(missingBwrap(), missingCommand("git"), missingCommand("rg"))) return;

  let served: Served;
  let run: LoadRun;

  it(`${SESSIONS} sessions × 20 tool calls all complete, each in its own sandbox`, async () => {
    bench = await Workbench.create({ prefix: "ocs-load-local-" });
    served = await bench.serve({ timeoutMs: 120_000 });
    run = await runLoad(served, { sessions: SESSIONS, timeoutMs: 1_200_000 });
    const failed = run.outcomes.filter((o) => !o.ok).map((o) => ({ index: o.index, error: o.error }));
    const slowest = Math.max(...run.outcomes.map((o) => o.ms));
    console.log(`load-local: ${SESSIONS} sessions, ${run.toolCalls} tool calls in ${run.ms} ms (slowest session ${slowest} ms)`);
    expect(failed).toEqual([]);
    expect(run.outcomes.flatMap((o) => o.tools).filter((t) => t.status === "completed")).toHaveLength(SESSIONS * 20);
  }, 1_300_000);

  it(`${SESSIONS} correct branches: opencode/<N> holds exactly its session's files and contents`, async () => {
    const b = bench!;
    // Each session syncs once it went idle: wait (a bound for a hang) for every branch to hold its work.
    await until(() => run.outcomes.every((o) => sameFiles(sessionBranch(b, o.sessionID!), o.files)), "every session's work on its branch", 600_000).catch(() => {});
    for (const o of run.outcomes) expect(sessionBranch(b, o.sessionID!), `session ${o.index}`).toEqual(o.files);
    expect(b.git("for-each-ref", "--format=%(refname:short)", "refs/heads/opencode/").split("\n").filter(Boolean)).toHaveLength(SESSIONS);
    expect(b.git("fsck", "--no-progress", "--strict")).toBe("");
  }, 700_000);

  it("the state file is consistent: one entry per session, distinct sandboxes and branch numbers, the sandboxes directory agrees", () => {
    const b = bench!;
    const ids = run.outcomes.map((o) => o.sessionID!);
    const state = b.state(); // parses, or throws
    expect(Object.keys(state.sessions).sort()).toEqual([...ids].sort());
    const records = ids.map((id) => state.sessions[id]);
    const sandboxes = records.map((r) => r.sandboxId as string);
    const numbers = records.map((r) => r.branchNumber as number);
    expect(new Set(sandboxes).size).toBe(SESSIONS);
    expect([...numbers].sort((x, y) => x - y)).toEqual(Array.from({ length: SESSIONS }, (_, i) => i + 1));
    expect(sandboxDirs(b).sort()).toEqual([...sandboxes].sort());
  });

  it("nothing leaks: deleting the sessions removes every sandbox and mapping; once OpenCode stopped no bwrap process or mount of this test is left", async () => {
    const b = bench!;
    const ids = run.outcomes.map((o) => o.sessionID!);
    await Promise.all(ids.map((id) => served.client.session.delete({ path: { id } })));
    await until(() => Object.keys(b.state().sessions).length === 0, "state empty after deletes", 600_000);
    await until(() => sandboxDirs(b).length === 0, "sandboxes directory empty after deletes", 600_000);
    await served.stop(120_000);
    await until(() => bwrapsOf(b.root).length === 0, "no bwrap of this test left", 60_000);
    expect(mountsOf(b.root)).toEqual([]);
    // The branches stay: the work is the user's.
    expect(b.git("for-each-ref", "--format=%(refname:short)", "refs/heads/opencode/").split("\n").filter(Boolean)).toHaveLength(SESSIONS);
  }, 900_000);
});
