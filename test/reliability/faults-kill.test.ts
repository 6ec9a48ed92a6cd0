/**
 * `kill -9` of real OpenCode (`opencode serve`, scripted model) at a named point of the
 * plugin's work — during a tool call, sandbox creation, seeding, a sync, a state write —
 * on both providers (local; Daytona through the stand-in). The plugin's test pause hook
 * (util/test-pause.ts) holds OpenCode exactly there until the kill, however slow the
 * machine. Then OpenCode is started again on the same data and the session goes on:
 * the state file reads, the agent's committed work reaches its branch (exactly once),
 * the branch was at its old or its new tip, `git fsck` is clean, a sandbox the killed
 * process made but never recorded is reported as an orphan, and no mount is left.
 */
import { appendFileSync } from "node:fs";
import { describe, it } from "vitest";
import { StateFileSchema } from "../../.opencode/plugin/sandbox/core/state-store.js";
import { lacks, missingBwrap, missingCommand, missingRoot } from "../support/prereq.js";
import { waitFor } from "../e2e/support/opencode.js";
import { bash, branchFile, fsck, kill9, mountsUnder, subjects, tipOf, waitPaused, type ProviderName, rigForTest, SERVE_BOUND_MS } from "./faults-support.js";

const COMMIT = "echo work > work.txt && git add work.txt && git commit -qm 'agent work' && echo committed";
/** The second turn commits only when the first never got to (the sandbox's history says). */
const RESUME = "if git log --format=%s | grep -qx 'agent work'; then echo 'found agent work'; else " + COMMIT + "; fi";

const PHASES = [
  // The second tool call, after the first committed: the commit lives only in the sandbox.
  { during: "a tool call", pause: "tool:running#2", committedBefore: true, orphan: false },
  // The provider made the sandbox; the state file does not name it yet.
  { during: "sandbox creation", pause: "create:made", committedBefore: false, orphan: true },
  // The seed bundle is on the host; the sandbox has not received it.
  { during: "seeding", pause: "seed:bundled", committedBefore: false, orphan: false },
  // The commits are in the host's object store under a private ref; the branch has not moved.
  { during: "a sync", pause: "sync:fetched", committedBefore: true, orphan: false },
  // The first state write (the new sandbox's record) is flushed under a temporary name, not renamed.
  { during: "a state write", pause: "state:written", committedBefore: false, orphan: true },
] as const;
/** Bounds for a hang only: a serve took over 60 s to answer on a 2-core machine at load 40. */
const CASE_BOUND_MS = 1_200_000;
const PROVIDERS: ProviderName[] = ["local", "daytona"];
const CASES = PROVIDERS.flatMap((provider) => PHASES.map((p) => [`${provider}, during ${p.during} (${p.pause})`, { provider, ...p }] as const));

describe("kill -9 of OpenCode at each phase, then a restart", () => {
  if (lacks(missingRoot(), missingBwrap(), missingCommand("git"), missingCommand("python3"), missingCommand("curl"))) return;

  // Two cases at a time (the project's maxConcurrency): each case is its own project, OpenCode and
  // stand-in, and a case alone leaves a third of 2 cores idle (OpenCode's starts are one thread each).
  it.concurrent.for(CASES)("%s: state readable, no lost commit, branch at old or new tip, fsck clean, orphans reported", { timeout: CASE_BOUND_MS }, async ([, { provider, pause, committedBefore, orphan }], t) => {
    const { expect } = t;
    const t0 = Date.now();
    const mark = (what: string) => process.env.FAULTS_TRACE && appendFileSync(process.env.FAULTS_TRACE, `${provider} ${pause} ${((Date.now() - t0) / 1000).toFixed(1)}s ${what}\n`);
    const r = await rigForTest(t, provider);
    const { bench } = r;
    const base = bench.git("rev-parse", "HEAD");

    // Turn 1, held at the phase, then killed.
    r.pauseAt(pause);
    let served = await bench.serve({ timeoutMs: SERVE_BOUND_MS });
    const id = await served.createSession("fault");
    bench.model.set([bash(COMMIT), bash("echo second"), { text: "ok" }]);
    const prompted = served.prompt(id, "commit some work", 600_000);
    expect(await waitPaused(r, served, prompted)).toBe(pause.split("#")[0]);
    mark('paused');
    await kill9(served);
    await prompted.catch(() => {});

    // Right after the kill: the state file reads, the branch is absent or at the old tip or the new one.
    // No file at all is readable too: the kill came before the first write.
    const raw = bench.state();
    const stateAfterKill = "version" in raw ? StateFileSchema.parse(raw) : { sessions: {} as Record<string, { sandboxId: string }> };
    const tipAfterKill = tipOf(bench, "opencode/1");
    if (tipAfterKill !== undefined) expect([base, "agent work"]).toContain(tipAfterKill === base ? base : subjects(bench, "opencode/1")[0]);
    expect(fsck(bench.project)).toEqual({ code: 0, problems: [] });
    const recordedBefore = stateAfterKill.sessions[id]?.sandboxId;

    // Turn 2 in a new OpenCode on the same data: the session goes on.
    r.pauseAt(undefined);
    mark('checked after kill');
    served = await bench.serve({ timeoutMs: SERVE_BOUND_MS });
    mark('served again');
    bench.model.set([bash(RESUME), { text: "ok" }]);
    await served.prompt(id, "go on", 300_000);
    mark('turn 2 done');
    const said = bench.model.lastToolResult();
    expect(said).toContain(committedBefore ? "found agent work" : "committed");
    // The next sync brings the commit to the branch, exactly once.
    expect(await waitFor(() => branchFile(bench, "opencode/1", "work.txt") === "work", 120_000)).toBe(true);
    expect(subjects(bench, "opencode/1").filter((s) => s === "agent work")).toHaveLength(1);
    mark('synced');
    const finalTip = tipOf(bench, "opencode/1")!;
    if (tipAfterKill) expect(bench.git("merge-base", "--is-ancestor", tipAfterKill, finalTip)).toBe("");
    expect(bench.git("for-each-ref", "--format=%(refname:short)", "refs/heads/opencode/")).toBe("opencode/1");
    expect(fsck(bench.project)).toEqual({ code: 0, problems: [] });
    const state = StateFileSchema.parse(bench.state());
    expect(state.sessions[id]).toMatchObject({ branch: "opencode/1", branchNumber: 1 });
    if (recordedBefore && !orphan) expect(state.sessions[id]!.sandboxId).toBe(recordedBefore);
    // A sandbox the killed process made but never recorded is reported, not deleted.
    if (orphan) expect(await waitFor(() => /used by no session \(kept\): \S+/.test(bench.pluginLog()), 60_000)).toBe(true);
    else expect(bench.pluginLog()).not.toMatch(/used by no session/);

    // Deleting the session removes every sandbox made for it, recorded or not: nothing stays mounted.
    mark('checked');
    await served.client.session.delete({ path: { id } });
    expect(await waitFor(() => !bench.state().sessions[id], 60_000)).toBe(true);
    mark('deleted');
    await served.stop();
    mark('stopped');
    if (r.standin) await r.standin.close();
    expect(mountsUnder(r.roots)).toEqual([]);
  });
});
