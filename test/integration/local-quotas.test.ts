/**
 * Quotas of the local sandbox, attacked from inside a real sandbox and checked from
 * the host: the workspace and HOME live on a size- and inode-capped disk image (root),
 * /tmp, /dev/shm, /run and /dev are sized tmpfs, the CPU is a cgroup quota (its
 * throttling counters are read, never the wall clock), and slirp4netns runs inside
 * the sandbox's cgroups with a small fd limit and capped socket buffers.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { Store } from "../../.opencode/plugin/sandbox/providers/local/store.js";
import { isMounted, unmountVolume } from "../../.opencode/plugin/sandbox/providers/local/volume.js";
import { harness, memoryLogger, type Harness } from "../support/local-harness.js";
import { lacks, missingBwrap, missingCommand, missingRoot } from "../support/prereq.js";
import { until } from "../support/until.js";

const MiB = 1024 * 1024;
const QUOTAS = { diskMiB: 64, inodes: 4096, tmpMiB: 16, cpus: 0.5 };

interface OwnerRecord {
  cgroups: string[];
  bwrap: { pid: number };
  slirp?: { pid: number };
}
const ownerOf = (h: Harness, id: string) => JSON.parse(readFileSync(join(h.root, id, "owner.json"), "utf8")) as OwnerRecord;
const group = (h: Harness, id: string, controller: string) => ownerOf(h, id).cgroups.find((d) => d.includes(`/${controller}/`))!;
const stat = (dir: string, file: string) =>
  Object.fromEntries(readFileSync(join(dir, file), "utf8").trim().split("\n").map((l) => l.split(" ") as [string, string]).map(([k, v]) => [k, Number(v)]));
/** The loop device holding a mount point (from the host's mount table). */
const loopOf = (mountPoint: string) =>
  readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")).find((f) => f[4] === mountPoint)?.at(-2);

describe("local sandbox disk, inodes and tmpfs quotas (root)", () => {
  if (lacks(missingRoot(), missingBwrap(), missingCommand("mkfs.ext4"))) return;
  let h: Harness;
  let sb: Sandbox;
  beforeAll(async () => {
    h = await harness({ network: "none", ...QUOTAS });
    sb = await h.provider.create({ labels: { test: "quotas" } });
  }, 120_000);
  afterAll(async () => {
    await h?.cleanup();
  });

  it("reports disk, inodes, /tmp and CPU as enforced", async () => {
    const report = await h.provider.limits();
    for (const key of ["diskMiB", "inodes", "tmpMiB", "cpus"] as const) {
      expect(report[key], key).toMatchObject({ enforced: true, applied: QUOTAS[key] });
      expect(report.warnings.join("\n")).not.toMatch(new RegExp(key === "cpus" ? "CPU" : key === "tmpMiB" ? "/tmp" : "disk"));
    }
  });

  it.each([["/workspace/fill"], ["/home/user/fill"]])("writing %s past the cap gives ENOSPC; the image takes at most its size on the host", async (path) => {
    const r = await sb.exec(`dd if=/dev/urandom of=${path} bs=1M count=${QUOTAS.diskMiB * 2} 2>&1; echo rc=$?`, { timeoutMs: 120_000 });
    expect(r.output).toMatch(/No space left on device/);
    expect(r.output).not.toContain("rc=0");
    const image = statSync(join(h.root, sb.id, "disk.img"));
    expect(image.blocks * 512).toBeLessThanOrEqual(QUOTAS.diskMiB * MiB);
    // Full for one is full for both: workspace and HOME share the cap.
    const other = path.startsWith("/workspace") ? "/home/user/more" : "/workspace/more";
    expect((await sb.exec(`dd if=/dev/zero of=${other} bs=1M count=4 2>&1; echo rc=$?`)).output).toMatch(/No space left on device/);
    await sb.exec(`rm -f ${path} ${other}`);
    expect((await sb.exec("echo fits > /workspace/after && cat /workspace/after")).output).toBe("fits\n");
  });

  it("creating files past the inode cap fails inside", async () => {
    const r = await sb.exec(`mkdir -p many && cd many && i=0; while [ $i -lt ${QUOTAS.inodes * 2} ]; do printf '' > f$i || break; i=$((i+1)); done; echo made=$i`, {
      timeoutMs: 180_000,
    });
    expect(r.output).toMatch(/No space left on device/);
    const made = Number(/made=(\d+)/.exec(r.output)![1]);
    expect(made).toBeLessThan(QUOTAS.inodes);
    await sb.exec("rm -rf many");
    expect((await sb.exec("touch /workspace/again && echo ok")).output).toBe("ok\n");
  }, 240_000);

  it.each([
    ["/tmp", QUOTAS.tmpMiB],
    ["/dev/shm", QUOTAS.tmpMiB],
    ["/run", 16],
    ["/dev", 1],
  ])("%s is a tmpfs capped at %i MiB", async (dir, mib) => {
    const r = await sb.exec(`dd if=/dev/zero of=${dir}/fill bs=64K count=${mib * 32} 2>&1; echo rc=$?; rm -f ${dir}/fill`);
    expect(r.output).toMatch(/No space left on device/);
    const size = (await sb.exec(`df -k --output=size ${dir} | tail -1`)).output.trim();
    expect(Number(size)).toBe(mib * 1024);
  });

  it("the run directory bound from the host takes no writes once the agent is up", async () => {
    const r = await sb.exec("touch /run/opencode/x 2>&1; echo rc=$?");
    expect(r.output).toMatch(/Permission denied/);
    expect(statSync(join(h.root, sb.id, "run")).uid).toBe(0);
  });

  it("the disk survives stop/start, and is mounted again when the host lost its mount (a reboot)", async () => {
    expect((await sb.exec("echo kept > /workspace/kept && echo home > ~/kept && echo written")).output).toBe("written\n");
    await h.provider.stop(sb.id);
    const dir = join(h.root, sb.id);
    expect(isMounted(join(dir, "disk"))).toBe(true);
    expect(readFileSync(join(dir, "project", "kept"), "utf8")).toBe("kept\n");
    await unmountVolume(dir);
    expect(isMounted(join(dir, "disk"))).toBe(false);
    // A second provider, as after a restart of OpenCode.
    const again = h.make({ ...QUOTAS });
    await again.start(sb.id);
    sb = await again.connect(sb.id);
    expect((await sb.exec("cat /workspace/kept ~/kept")).output).toBe("kept\nhome\n");
    expect((await sb.exec(`dd if=/dev/zero of=/workspace/big bs=1M count=${QUOTAS.diskMiB * 2} 2>&1; rm -f /workspace/big`)).output).toMatch(/No space left/);
  });

  it("delete unmounts and removes the image, also while another sandbox started since runs", async () => {
    const a = await h.provider.create({ labels: { test: "quotas-a" } });
    const b = await h.provider.create({ labels: { test: "quotas-b" } });
    const mountA = join(h.root, a.id, "disk");
    const loop = loopOf(mountA)!;
    expect(loop).toMatch(/^\/dev\/loop\d+$/);
    // b's launcher namespace was copied from the host's while a's disk was mounted: no copy kept.
    const bNamespace = readFileSync(`/proc/${ownerOf(h, b.id).bwrap.pid}/mountinfo`, "utf8");
    expect(bNamespace).not.toContain(` ${mountA} `);
    await h.provider.delete(a.id);
    expect(existsSync(join(h.root, a.id))).toBe(false);
    expect(isMounted(mountA)).toBe(false);
    // The loop device is free (or holds some other image by now, never a's).
    const backing = `/sys/block/${loop.slice("/dev/".length)}/loop/backing_file`;
    await until(() => !existsSync(backing) || !readFileSync(backing, "utf8").includes(join(h.root, a.id)), "a's loop device to be released");
    expect((await b.exec("echo b lives")).output).toBe("b lives\n");
    await h.provider.delete(b.id);
  });

  it("a sandbox made before disk images keeps working, uncapped, and the log says so", async () => {
    const log = memoryLogger();
    const p = h.make({ log, ...QUOTAS });
    const store = new Store(h.root);
    const id = "sb-legacy-quota";
    const uid = await store.allocateUid(id);
    await store.layout(id, uid, uid);
    await store.writeMeta({ version: 1, id, labels: { test: "legacy" }, env: {}, uid, gid: uid, createdAt: new Date().toISOString() });
    await p.start(id);
    const legacy = await p.connect(id);
    expect((await legacy.exec("echo hi > /workspace/x && cat /workspace/x")).output).toBe("hi\n");
    expect(existsSync(join(h.root, id, "disk.img"))).toBe(false);
    expect(log.lines.join("\n")).toMatch(new RegExp(`${id} was made before .*NOT capped`));
    await p.delete(id);
  });
});

describe("local sandbox CPU quota (root)", () => {
  if (lacks(missingRoot(), missingBwrap())) return;
  let h: Harness;
  afterAll(async () => {
    await h?.cleanup();
  });

  it("busy loops are throttled by the sandbox's cpu cgroup", async () => {
    h = await harness({ network: "none", cpus: QUOTAS.cpus });
    const sb = await h.provider.create({ labels: { test: "cpu" } });
    const dir = group(h, sb.id, "cpu");
    expect(Number(readFileSync(join(dir, "cpu.cfs_quota_us"), "utf8"))).toBe(QUOTAS.cpus * Number(readFileSync(join(dir, "cpu.cfs_period_us"), "utf8")));
    const before = stat(dir, "cpu.stat");
    await sb.exec("for i in 1 2; do (while :; do :; done) & done");
    await until(() => {
      const now = stat(dir, "cpu.stat");
      return now.nr_throttled! > before.nr_throttled! + 3 && now.throttled_time! > before.throttled_time!;
    }, "the cpu cgroup to throttle the busy loops", 120_000);
    await sb.exec("pkill -f 'while' ; true");
  }, 240_000);
});
