/**
 * Quotas of the local sandbox, attacked from inside a real sandbox and checked from
 * the host: the workspace and HOME live on a size- and inode-capped disk image (root),
 * /tmp, /dev/shm, /run and /dev are sized tmpfs, the CPU is a cgroup quota (its
 * throttling counters are read, never the wall clock), and slirp4netns runs inside
 * the sandbox's cgroups with a small fd limit and capped socket buffers.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { chmod, chown, mkdtemp, rm } from "node:fs/promises";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Diagnosis, Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import type { LimitsReport, LocalProviderOptions } from "../../.opencode/plugin/sandbox/providers/local/index.js";
import { SLIRP_MAX_OPEN_FILES } from "../../.opencode/plugin/sandbox/providers/local/network.js";
import { Store } from "../../.opencode/plugin/sandbox/providers/local/store.js";
import { isMounted, unmountVolume } from "../../.opencode/plugin/sandbox/providers/local/volume.js";
import { harness, memoryLogger, type Harness } from "../support/local-harness.js";
import { lacks, missingBwrap, missingCommand, missingRoot } from "../support/prereq.js";
import { until } from "../support/until.js";

const MiB = 1024 * 1024;
const QUOTAS = { diskMiB: 64, inodes: 4096, tmpMiB: 16, cpus: 0.5 };
/** Per-test bound for a hang on a loaded machine (each starts or stops sandboxes), never a speed claim. */
const BOUND = 180_000;

interface OwnerRecord {
  cgroups: string[];
  bwrap: { pid: number };
  slirp?: { pid: number };
}
const ownerOf = (h: Harness, id: string) => JSON.parse(readFileSync(join(h.root, id, "owner.json"), "utf8")) as OwnerRecord;
const group = (h: Harness, id: string, controller: string) => ownerOf(h, id).cgroups.find((d) => d.includes(`/${controller}/`));
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
  }, BOUND);

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
  }, BOUND);

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
  }, BOUND);

  it("the run directory bound from the host takes no writes once the agent is up", async () => {
    const r = await sb.exec("touch /run/opencode/x 2>&1; echo rc=$?");
    expect(r.output).toMatch(/Permission denied/);
    expect(statSync(join(h.root, sb.id, "run")).uid).toBe(0);
  }, BOUND);

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
  }, BOUND);

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
  }, BOUND);

  it("a disk whose sandbox was removed without delete is unmounted when a provider starts", async () => {
    const c = await h.provider.create({ labels: { test: "quotas-orphan" } });
    await h.provider.stop(c.id);
    const dir = join(h.root, c.id);
    await rm(join(dir, "meta.json"));
    expect(isMounted(join(dir, "disk"))).toBe(true);
    const log = memoryLogger();
    // Its first operation runs the start-up clean-up.
    await h.make({ log, ...QUOTAS }).create({ labels: { test: "quotas-after-orphan" } });
    expect(isMounted(join(dir, "disk"))).toBe(false);
    expect(log.lines.join("\n")).toMatch(/its sandbox is gone/);
  }, BOUND);

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
  }, BOUND);
});

describe("local sandbox CPU quota (root)", () => {
  if (lacks(missingRoot(), missingBwrap())) return;
  let h: Harness;
  afterAll(async () => {
    await h?.cleanup();
  });

  it("busy loops are throttled by the sandbox's cpu cgroup", async () => {
    // Half a core and eight loops: they want more than that even on a machine busy with other work.
    h = await harness({ network: "none", cpus: 0.5 });
    const sb = await h.provider.create({ labels: { test: "cpu" } });
    // cgroup v1: its own cpu hierarchy; v2: the one group holds every controller.
    const dir = group(h, sb.id, "cpu") ?? ownerOf(h, sb.id).cgroups[0]!;
    const v1 = existsSync(join(dir, "cpu.cfs_quota_us"));
    if (v1) expect(Number(readFileSync(join(dir, "cpu.cfs_quota_us"), "utf8"))).toBe(0.5 * Number(readFileSync(join(dir, "cpu.cfs_period_us"), "utf8")));
    else expect(readFileSync(join(dir, "cpu.max"), "utf8").trim()).toBe("50000 100000");
    const throttledTime = v1 ? "throttled_time" : "throttled_usec";
    const before = stat(dir, "cpu.stat");
    await sb.exec("for i in 1 2 3 4 5 6 7 8; do (while :; do :; done) & done");
    await until(() => {
      const now = stat(dir, "cpu.stat");
      return now.nr_throttled! > before.nr_throttled! + 3 && now[throttledTime]! > before[throttledTime]!;
    }, "the cpu cgroup to throttle the busy loops", 120_000);
    await sb.exec("pkill -f 'while' ; true");
  }, 240_000);
});

/** This machine's own non-loopback IPv4 address: the test's listener, never another machine. */
function ownAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) if (a.family === "IPv4" && !a.internal) return a.address;
  return undefined;
}

describe("slirp4netns inside the sandbox's limits (root)", () => {
  const address = ownAddress();
  if (lacks(missingRoot(), missingBwrap(), missingCommand("slirp4netns"), address ? undefined : "no non-loopback IPv4 address on this machine")) return;
  let h: Harness;
  let listener: ChildProcess | undefined;
  afterAll(async () => {
    listener?.kill("SIGKILL");
    await h?.cleanup();
  });

  it("a flood of connections that are never read: slirp4netns holds at most its fd limit, its memory counts against the sandbox", async () => {
    // A listener on this machine that never accepts nor reads, with small receive buffers (bounded for the host too).
    listener = spawn("python3", ["-c", `import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384); s.bind((${JSON.stringify(address)}, 0)); s.listen(4096)
print(s.getsockname()[1], flush=True); time.sleep(3600)`], { stdio: ["ignore", "pipe", "inherit"] });
    const port = await new Promise<number>((resolve) => listener!.stdout!.once("data", (d: Buffer) => resolve(Number(String(d).trim()))));
    const memoryMb = 128;
    // allowCidrs: the egress policy may keep this machine's addresses out of reach otherwise.
    h = await harness({ network: "isolated", memoryMb, allowCidrs: [`${address}/32`] } as Partial<LocalProviderOptions>);
    const sb = await h.provider.create({ labels: { test: "slirp" } });
    const owner = ownerOf(h, sb.id);
    const slirp = owner.slirp!.pid;
    for (const dir of owner.cgroups) expect(readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n"), dir).toContain(String(slirp));
    expect(readFileSync(`/proc/${slirp}/limits`, "utf8")).toMatch(new RegExp(`^Max open files\\s+${SLIRP_MAX_OPEN_FILES}\\s+${SLIRP_MAX_OPEN_FILES}\\s`, "m"));
    const memory = group(h, sb.id, "memory") ?? owner.cgroups[0]!;
    const v1 = existsSync(join(memory, "memory.kmem.tcp.limit_in_bytes"));
    if (v1) expect(Number(readFileSync(join(memory, "memory.kmem.tcp.limit_in_bytes"), "utf8"))).toBe((memoryMb / 4) * MiB);

    // Phase 1 opens more connections than slirp4netns may hold; phase 2 (on /tmp/go) sends on all of them.
    const flood = `import os, socket, time
cs = []
for i in range(${SLIRP_MAX_OPEN_FILES + 300}):
    try:
        c = socket.create_connection((${JSON.stringify(address)}, ${port}), timeout=3); c.setblocking(False); cs.append(c)
    except Exception:
        pass
    print(len(cs), flush=True)
print("done", flush=True)
while not os.path.exists("/tmp/go"):
    time.sleep(0.1)
data = b"x" * 65536
while True:
    for c in cs:
        try: c.send(data)
        except Exception: pass
    time.sleep(0.01)
`;
    await sb.writeFile("/tmp/flood.py", flood);
    await sb.exec("python3 /tmp/flood.py > /tmp/flood.out 2>&1 &");
    await until(async () => Number((await sb.exec("head -1 /tmp/flood.out")).output.trim()) > 0, "the first connection through slirp4netns to this machine");
    await until(async () => (await sb.exec("tail -1 /tmp/flood.out")).output.includes("done"), "the flood to try all its connections", 240_000);
    const alive = () => existsSync(`/proc/${slirp}`);
    expect(alive()).toBe(true);
    expect(readdirSync(`/proc/${slirp}/fd`).length).toBeLessThanOrEqual(SLIRP_MAX_OPEN_FILES);
    // Connections that reached this machine: never more than slirp4netns's descriptors.
    const established = execFileSync("ss", ["-Htn", "state", "established", `( dport = :${port} )`]).toString().trim().split("\n").filter(Boolean).length;
    expect(established).toBeGreaterThan(0);
    expect(established).toBeLessThanOrEqual(SLIRP_MAX_OPEN_FILES);

    // Phase 2: what slirp4netns buffers for never-read connections is the sandbox's memory.
    await sb.exec("touch /tmp/go");
    const rssKiB = () => Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${slirp}/status`, "utf8"))?.[1] ?? 0);
    await until(() => !alive() || rssKiB() > 16 * 1024, "slirp4netns to buffer the flood (or be stopped by the sandbox's memory limit)", 180_000);
    const limit = Number(readFileSync(join(memory, v1 ? "memory.limit_in_bytes" : "memory.max"), "utf8"));
    expect(limit).toBe(memoryMb * MiB);
    expect(Number(readFileSync(join(memory, v1 ? "memory.max_usage_in_bytes" : "memory.peak"), "utf8"))).toBeLessThanOrEqual(limit);
    if (v1) {
      // cgroup v1 counts socket buffers apart. Past its cap the kernel still lets each socket queue one
      // buffer (a forced charge), so the bound is the cap plus one buffer per socket — slirp4netns's
      // (at most its fd limit) and the sandbox's own.
      const peak = Number(readFileSync(join(memory, "memory.kmem.tcp.max_usage_in_bytes"), "utf8"));
      expect(peak).toBeLessThanOrEqual((memoryMb / 4) * MiB + 2 * SLIRP_MAX_OPEN_FILES * 128 * 1024);
    }
  }, 420_000);
});

describe("quotas as an ordinary user", () => {
  if (lacks(missingRoot(), missingCommand("setpriv"))) return;
  let base: string | undefined;
  afterAll(async () => {
    if (base) await rm(base, { recursive: true, force: true });
  });

  it("doctor says plainly that disk and inodes are not enforced", async () => {
    const user = 65534;
    base = await mkdtemp("/tmp/ocsb-quota-user-");
    await chmod(base, 0o755);
    await chown(base, user, user);
    const opencode = join(process.cwd(), "node_modules/opencode-linux-x64/bin/opencode");
    const out = execFileSync("setpriv", [`--reuid=${user}`, `--regid=${user}`, "--clear-groups", "--", opencode, "test/support/diagnose-child.ts"], {
      env: { PATH: process.env.PATH, HOME: base, BUN_BE_BUN: "1", OCSB_CHILD: JSON.stringify({ root: join(base, "sandboxes") }) },
      timeout: 60_000,
    }).toString();
    const { diagnosis, limits } = JSON.parse(out.trim().split("\n").at(-1)!) as { diagnosis: Diagnosis; limits: LimitsReport };
    for (const name of ["disk limit", "inode limit"]) {
      const check = diagnosis.checks.find((c) => c.name === name);
      expect(check, name).toMatchObject({ ok: false, warning: true });
      expect(check!.detail).toMatch(/NOT enforced — mounting a size-capped filesystem needs root/);
      expect(check!.fix).toMatch(/root/);
    }
    expect(limits.diskMiB.enforced).toBe(false);
    expect(limits.warnings.join("\n")).toMatch(/disk and inode limits not enforced/);
    // A warning, not a failure: sandboxes still work.
    expect(diagnosis.available).toBe(true);
  }, 90_000);
});
