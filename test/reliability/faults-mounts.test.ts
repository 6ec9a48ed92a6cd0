/**
 * Leaked sandbox disks (root: each local sandbox loop-mounts its own disk image). A
 * process killed before deleting its sandboxes, then its temporary root removed with
 * `rm -rf`, leaves the disk mounted on a directory nobody will look at again (the mount
 * point cannot be removed; the image is deleted but held by its loop device). The next
 * local provider to start — whatever its root — unmounts every such disk, and leaves
 * alone the disk of a live sandbox (another root, its meta.json in place).
 * Checked from the host's mount table.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { LocalProvider } from "../../.opencode/plugin/sandbox/providers/local/index.js";
import { LIMITS } from "../support/local-harness.js";
import { lacks, missingBwrap, missingRoot } from "../support/prereq.js";
import { mountsUnder, unmountUnder } from "./faults-support.js";

const roots: string[] = [];
const root = (name: string) => {
  const dir = mkdtempSync(join(tmpdir(), `ocs-faults-mounts-${name}-`));
  roots.push(dir);
  return dir;
};
const provider = (dir: string) => new LocalProvider({ root: dir, network: "none", ...LIMITS, log: silentLogger });

afterAll(async () => {
  // Whatever a failure left: unmount our own roots' disks, then remove them.
  unmountUnder(roots);
  for (const dir of roots) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
});

describe("leaked sandbox disks", () => {
  if (lacks(missingRoot(), missingBwrap())) return;

  it("a disk whose sandbox's root was removed without a delete is unmounted by the next provider; a live sandbox's disk is not", async () => {
    // A live sandbox of another provider: must keep its disk throughout.
    const liveRoot = root("live");
    const live = provider(liveRoot);
    const kept = await live.create({ labels: { t: "live" } });

    // A "killed" owner: its sandboxes never deleted, then its temporary root removed.
    const goneRoot = root("gone");
    const gone = provider(goneRoot);
    await gone.create({ labels: { t: "gone" } });
    await gone.create({ labels: { t: "gone" } });
    await gone.dispose();
    // rm goes on past what it cannot remove: the mount points (EBUSY) — the leak this is about.
    spawnSync("rm", ["-rf", goneRoot]);
    expect(mountsUnder([goneRoot])).toHaveLength(2);

    // A sandbox removed by hand under the new provider's own root (its meta.json gone).
    const nextRoot = root("next");
    const before = provider(nextRoot);
    const byHand = await before.create({ labels: { t: "by-hand" } });
    await before.dispose();
    rmSync(join(nextRoot, byHand.id, "meta.json"));
    expect(mountsUnder([join(nextRoot, byHand.id)])).toHaveLength(1);

    // The next provider to start cleans up both kinds.
    const next = provider(nextRoot);
    await next.connect("sb-000000000000").catch(() => {}); // any call starts it
    expect(mountsUnder([goneRoot])).toEqual([]);
    expect(mountsUnder([join(nextRoot, byHand.id)])).toEqual([]);
    expect(mountsUnder([liveRoot])).toHaveLength(1);
    expect((await kept.exec("echo alive > f && cat f")).output).toBe("alive\n");

    await live.delete(kept.id);
    await live.dispose();
    await next.dispose();
    expect(mountsUnder([liveRoot, goneRoot, nextRoot])).toEqual([]);
  });
});
