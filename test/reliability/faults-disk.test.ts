/**
 * A full disk under the plugin's state file: a small tmpfs mounted (as root) on the
 * plugin's state directory (`$XDG_DATA_HOME/opencode/storage/daytona`) of a real
 * `opencode serve`, then filled. The state file stays as it was (writes are temp +
 * rename: a failed write never truncates it), the plugin says what failed (the path,
 * ENOSPC), tool calls in the session keep working, and once there is room again the
 * session's work syncs to its own branch with nothing lost.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { StateFileSchema } from "../../.opencode/plugin/sandbox/core/state-store.js";
import { waitFor } from "../e2e/support/opencode.js";
import { lacks, missingBwrap, missingCommand, missingRoot } from "../support/prereq.js";
import { bash, branchFile, fsck, mountsUnder, rig, subjects, unmountUnder, type Rig } from "./faults-support.js";

const SERVE_BOUND_MS = 300_000;
let current: Rig | undefined;
let tmpfs: string | undefined;
afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail" && current) console.error(current.bench.pluginLog().slice(-8000));
  if (tmpfs) unmountUnder([tmpfs]);
  tmpfs = undefined;
  await current?.dispose();
  current = undefined;
});

/** Commits `<name>.txt` holding `<name>`, with the subject `<name>`. */
const commit = (name: string) => bash(`echo ${name} > ${name}.txt && git add ${name}.txt && git commit -qm '${name}' && echo committed ${name}`);

/** Fills the file system at `dir` (dd stops at ENOSPC); the filler's path. */
function fill(dir: string): string {
  const filler = join(dir, "filler");
  spawnSync("dd", ["if=/dev/zero", `of=${filler}`, "bs=4k"], { stdio: "ignore" });
  return filler;
}

describe("a full disk while writing state", () => {
  if (lacks(missingRoot(), missingBwrap(), missingCommand("mount"), missingCommand("dd"))) return;

  it("local: the old state intact, a clear error naming the file and ENOSPC, the session usable, its work synced once there is room", async () => {
    const r = (current = await rig("local"));
    const { bench } = r;
    const stateDir = join(bench.dataHome, "opencode/storage/daytona");
    mkdirSync(stateDir, { recursive: true });
    expect(spawnSync("mount", ["-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", stateDir]).status).toBe(0);
    tmpfs = stateDir;

    const served = await bench.serve({ timeoutMs: SERVE_BOUND_MS });
    const id = await served.createSession("full disk");
    bench.model.set([commit("one"), { text: "ok" }]);
    await served.prompt(id, "first", 300_000);
    expect(await waitFor(() => branchFile(bench, "opencode/1", "one.txt") === "one", 120_000)).toBe(true);
    const [file] = readdirSync(stateDir).filter((f) => f.endsWith(".json"));
    const statePath = join(stateDir, file!);
    // The sync's record written too (a seed alone records a sync point: the base), before the disk fills.
    const tip = bench.git("rev-parse", "opencode/1");
    expect(await waitFor(() => StateFileSchema.parse(JSON.parse(readFileSync(statePath, "utf8"))).sessions[id]?.lastSyncedCommit === tip, 60_000)).toBe(true);
    const before = readFileSync(statePath, "utf8");

    // The disk fills up. The next turn's tools still run; its sync cannot record itself.
    const filler = fill(stateDir);
    bench.model.set([commit("two"), bash("cat one.txt two.txt"), { text: "ok" }]);
    await served.prompt(id, "second", 300_000);
    expect(bench.model.lastToolResult()).toBe("one\ntwo\n");
    expect(await waitFor(() => /ENOSPC/.test(bench.pluginLog()), 120_000)).toBe(true);
    const said = bench.pluginLog().split("\n").filter((l) => /ENOSPC/.test(l));
    expect(said.join("\n")).toContain(stateDir);
    expect(readFileSync(statePath, "utf8")).toBe(before);
    // No temporary file left behind by the failed write.
    expect(readdirSync(stateDir).filter((f) => f !== file && f !== "filler" && !f.endsWith(".lock"))).toEqual([]);

    // Room again: the next turn syncs everything to the session's own branch.
    rmSync(filler);
    bench.model.set([commit("three"), { text: "ok" }]);
    await served.prompt(id, "third", 300_000);
    expect(await waitFor(() => branchFile(bench, "opencode/1", "three.txt") === "three", 120_000)).toBe(true);
    expect(subjects(bench, "opencode/1").filter((s) => ["one", "two", "three"].includes(s))).toEqual(["three", "two", "one"]);
    expect(bench.git("for-each-ref", "--format=%(refname:short)", "refs/heads/opencode/")).toBe("opencode/1");
    const state = StateFileSchema.parse(JSON.parse(readFileSync(statePath, "utf8")));
    expect(state.sessions[id]?.lastSyncedCommit).toBe(bench.git("rev-parse", "opencode/1"));
    expect(fsck(bench.project)).toEqual({ code: 0, problems: [] });

    await served.client.session.delete({ path: { id } });
    expect(await waitFor(() => existsSync(statePath) && !JSON.parse(readFileSync(statePath, "utf8")).sessions[id], 60_000)).toBe(true);
    await served.stop();
    unmountUnder([stateDir]);
    tmpfs = undefined;
    expect(mountsUnder(r.roots)).toEqual([]);
  }, 1_200_000);
});
