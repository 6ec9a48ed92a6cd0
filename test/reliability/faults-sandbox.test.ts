/**
 * A session's sandbox deleted or stopped behind the plugin's back, while real `opencode
 * serve` runs — on both providers (local: another provider on the same root deletes it,
 * or its processes are killed from the host; Daytona: the stand-in's platform deletes or
 * stops it). The next tool call works: a deleted sandbox is re-created from the
 * session's branch (its synced work is there) and the session keeps its branch; a
 * stopped one is started again, its workspace as it was.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "vitest";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { LocalProvider } from "../../.opencode/plugin/sandbox/providers/local/index.js";
import { waitFor } from "../e2e/support/opencode.js";
import { LIMITS } from "../support/local-harness.js";
import { processesOfUid } from "../support/processes.js";
import { lacks, missingBwrap, missingCommand, missingRoot } from "../support/prereq.js";
import { bash, branchFile, mountsUnder, type ProviderName, type Rig, rigForTest, SERVE_BOUND_MS } from "./faults-support.js";

/** What happens to the sandbox, behind the plugin's back. */
async function behindItsBack(r: Rig, provider: ProviderName, what: "deleted" | "stopped", id: string) {
  if (provider === "daytona") return what === "deleted" ? r.standin!.platform.vanish(id) : r.standin!.platform.stop(id);
  if (what === "deleted") {
    const other = new LocalProvider({ root: r.bench.sandboxesDir(), network: "none", ...LIMITS, log: silentLogger });
    await other.delete(id);
    return other.dispose();
  }
  // Stopped: every process of the sandbox's user killed from the host.
  const uid = JSON.parse(readFileSync(join(r.bench.sandboxesDir(), id, "meta.json"), "utf8")).uid as number;
  for (const pid of processesOfUid(uid)) process.kill(pid, "SIGKILL");
  await waitFor(() => processesOfUid(uid).length === 0, 60_000);
}

const CASES = (["local", "daytona"] as const).flatMap((provider) => (["deleted", "stopped"] as const).map((what) => [`${provider}, ${what}`, provider, what] as const));

describe("a sandbox deleted or stopped behind the plugin's back", () => {
  if (lacks(missingRoot(), missingBwrap(), missingCommand("python3"), missingCommand("curl"))) return;

  // Two at a time (the project's maxConcurrency): each case is its own project, OpenCode and stand-in.
  it.concurrent.for(CASES)("%s: the next tool call works, with the session's work", { timeout: 1_200_000 }, async ([, provider, what], t) => {
    const { expect } = t;
    const r = await rigForTest(t, provider);
    const { bench } = r;
    const served = await bench.serve({ timeoutMs: SERVE_BOUND_MS });
    const id = await served.createSession("behind");
    bench.model.set([bash("echo kept > kept.txt && git add kept.txt && git commit -qm kept && echo scratch > scratch.txt"), { text: "ok" }]);
    await served.prompt(id, "work", 300_000);
    expect(await waitFor(() => branchFile(bench, "opencode/1", "kept.txt") === "kept", 120_000)).toBe(true);
    const before = bench.state().sessions[id];

    await behindItsBack(r, provider, what, before.sandboxId);

    bench.model.set([bash("cat kept.txt; git log --format=%s -1; cat scratch.txt 2>/dev/null || echo no-scratch"), { text: "ok" }]);
    await served.prompt(id, "still there?", 300_000);
    const after = bench.state().sessions[id];
    expect(after.branch).toBe("opencode/1");
    if (what === "deleted") {
      // Re-created from the branch: the synced work is there (the snapshot sync also brought scratch.txt).
      expect(after.sandboxId).not.toBe(before.sandboxId);
      expect(bench.model.lastToolResult()).toMatch(/^kept\n/);
      expect(bench.pluginLog()).toMatch(/is gone; creating a new one/);
    } else {
      expect(after.sandboxId).toBe(before.sandboxId);
      // The last commit is the agent's or the sync's snapshot of scratch.txt; the uncommitted file is there either way.
      expect(bench.model.lastToolResult()).toMatch(/^kept\n[^\n]*\nscratch\n/);
    }
    expect(bench.git("for-each-ref", "--format=%(refname:short)", "refs/heads/opencode/")).toBe("opencode/1");

    await served.client.session.delete({ path: { id } });
    expect(await waitFor(() => !bench.state().sessions[id], 60_000)).toBe(true);
    await served.stop();
    if (r.standin) await r.standin.close();
    expect(mountsUnder(r.roots)).toEqual([]);
  });
});
