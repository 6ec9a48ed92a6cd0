/**
 * Memory, process and CPU limits through cgroups. Measured here: cgroup v1 `memory`,
 * `pids` and `cpu` controllers, writable by root. A per-sandbox group is made below the
 * cgroup this process already sits in (so whatever limits the host put on OpenCode
 * still hold), the launcher writes itself into it before exec'ing bubblewrap, and
 * everything in the sandbox inherits it — every command, not only the first.
 * cgroup v2 is used when this process may create groups in the unified hierarchy
 * with the controllers enabled (root, or a delegated subtree). Anything else:
 * not enforced, and `limits()` / the log say so.
 */
import { access, mkdir, readFile, rmdir, stat, writeFile } from "node:fs/promises";
import { constants } from "node:fs";
import { basename, dirname, join } from "node:path";
import { sleep } from "./proc.js";

const CG = "/sys/fs/cgroup";
const GROUP = "opencode-sandboxed";
const CONTROLLERS = ["memory", "pids", "cpu"] as const;
/** The CPU quota's accounting period (the kernel's default). */
const CPU_PERIOD_US = 100_000;

export interface CgroupSupport {
  /** Base directories under which per-sandbox groups are made, by controller. */
  memory?: { base: string; v: 1 | 2 };
  pids?: { base: string; v: 1 | 2 };
  cpu?: { base: string; v: 1 | 2 };
  /** Why a controller is unavailable, for the limits report. */
  problems: string[];
}

async function writable(path: string) {
  return access(path, constants.W_OK).then(() => true, () => false);
}

async function ownCgroups(): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  const text = await readFile("/proc/self/cgroup", "utf8").catch(() => "");
  for (const line of text.split("\n")) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (path === undefined) continue;
    for (const c of controllers!.split(",")) map.set(c, path);
  }
  return map;
}

export async function detectCgroups(): Promise<CgroupSupport> {
  const support: CgroupSupport = { problems: [] };
  const own = await ownCgroups();
  for (const controller of CONTROLLERS) {
    const mount = join(CG, controller);
    const v1 = await stat(join(mount, "cgroup.procs")).then(() => true, () => false);
    if (v1 && own.has(controller)) {
      const parent = join(mount, own.get(controller)!);
      const base = join(parent, GROUP);
      if ((await writable(base)) || (await writable(parent))) {
        support[controller] = { base, v: 1 };
        continue;
      }
      support.problems.push(`${controller}: cgroup v1 ${parent} is not writable by uid ${process.getuid?.()}`);
      continue;
    }
    // cgroup v2: the unified hierarchy is /sys/fs/cgroup itself (or /sys/fs/cgroup/unified in hybrid mode).
    const unified = (await stat(join(CG, "cgroup.controllers")).then(() => true, () => false)) ? CG : join(CG, "unified");
    const controllers = await readFile(join(unified, "cgroup.controllers"), "utf8").catch(() => "");
    if (!controllers.split(/\s+/).includes(controller)) {
      support.problems.push(`${controller}: no cgroup v1 ${controller} hierarchy and the controller is not available in cgroup v2`);
      continue;
    }
    // Root: a top-level group (v2 forbids processes in inner nodes, so not below our own).
    if (process.getuid?.() === 0 && (await writable(unified))) {
      support[controller] = { base: join(unified, GROUP), v: 2 };
      continue;
    }
    support.problems.push(
      `${controller}: cgroup v2 needs delegation for uid ${process.getuid?.()} (e.g. run OpenCode under systemd-run --user --scope -p Delegate=yes)`,
    );
  }
  return support;
}

export interface SandboxCgroups {
  /** Group directories made for this sandbox (removed at stop/clean-up). */
  dirs: string[];
  /** `cgroup.procs` files the launcher writes its pid into before exec. */
  procs: string[];
  memory: boolean;
  pids: boolean;
  cpu: boolean;
  problems: string[];
}

export interface CgroupLimits {
  memoryBytes: number;
  maxProcesses: number;
  /** CPU time in cores (cpu.max / cfs quota). */
  cpus: number;
  /** cgroup v1 only: TCP buffer memory of the sandbox's sockets and its slirp4netns (v2 counts it in memory.max). */
  tcpBytes: number;
}

async function enableV2(base: string, controller: string) {
  const parent = join(base, "..");
  const enabled = await readFile(join(parent, "cgroup.subtree_control"), "utf8").catch(() => "");
  if (!enabled.split(/\s+/).includes(controller)) await writeFile(join(parent, "cgroup.subtree_control"), `+${controller}`);
  await mkdir(base, { recursive: true });
  const inner = await readFile(join(base, "cgroup.subtree_control"), "utf8").catch(() => "");
  if (!inner.split(/\s+/).includes(controller)) await writeFile(join(base, "cgroup.subtree_control"), `+${controller}`);
}

export async function createCgroups(support: CgroupSupport, id: string, limits: CgroupLimits): Promise<SandboxCgroups> {
  const { memoryBytes, maxProcesses } = limits;
  const out: SandboxCgroups = { dirs: [], procs: [], memory: false, pids: false, cpu: false, problems: [...support.problems] };
  const made = new Set<string>();
  for (const controller of CONTROLLERS) {
    const where = support[controller];
    if (!where) continue;
    const dir = join(where.base, id);
    try {
      if (where.v === 2) await enableV2(where.base, controller);
      await mkdir(dir, { recursive: true });
      if (controller === "memory") {
        if (where.v === 1) {
          await writeFile(join(dir, "memory.limit_in_bytes"), String(memoryBytes));
          // Without swap accounting this file is absent; with it, swap must not be a way around.
          await writeFile(join(dir, "memory.memsw.limit_in_bytes"), String(memoryBytes)).catch(() => {});
          // v1 charges socket buffers only to a group with a TCP limit (slirp4netns's included: it joins this group).
          await writeFile(join(dir, "memory.kmem.tcp.limit_in_bytes"), String(limits.tcpBytes)).catch((e: Error) =>
            out.problems.push(`tcp: socket buffers are not capped (memory.kmem.tcp.limit_in_bytes: ${e.message})`),
          );
        } else {
          await writeFile(join(dir, "memory.max"), String(memoryBytes));
          await writeFile(join(dir, "memory.swap.max"), "0").catch(() => {});
        }
      } else if (controller === "pids") {
        await writeFile(join(dir, "pids.max"), String(maxProcesses));
      } else {
        const quota = Math.max(1000, Math.round(limits.cpus * CPU_PERIOD_US));
        if (where.v === 1) {
          await writeFile(join(dir, "cpu.cfs_period_us"), String(CPU_PERIOD_US));
          await writeFile(join(dir, "cpu.cfs_quota_us"), String(quota));
        } else await writeFile(join(dir, "cpu.max"), `${quota} ${CPU_PERIOD_US}`);
      }
      out[controller] = true;
      if (!made.has(dir)) {
        made.add(dir);
        out.dirs.push(dir);
        out.procs.push(join(dir, "cgroup.procs"));
      }
    } catch (e) {
      out.problems.push(`${controller}: could not set up ${dir}: ${(e as Error).message}`);
      await rmdir(dir).catch(() => {});
    }
  }
  return out;
}

/** Kills what is left in the groups (a crash's leftovers) and removes them. */
export async function removeCgroups(dirs: string[]) {
  for (const dir of dirs) {
    for (let attempt = 0; attempt < 40; attempt++) {
      const procs = await readFile(join(dir, "cgroup.procs"), "utf8").catch(() => null);
      if (procs === null) break; // gone
      for (const pid of procs.split("\n").filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {}
      }
      const removed = await rmdir(dir).then(() => true, (e: NodeJS.ErrnoException) => e.code === "ENOENT");
      if (removed) break;
      await sleep(25); // exiting processes leave the group a moment after SIGKILL
    }
    // Leave no empty base behind either: it would keep the cgroup we were born in
    // from being removed by whoever made it. Fails harmlessly while other groups remain.
    const base = dirname(dir);
    if (basename(base) === GROUP) await rmdir(base).catch(() => {});
  }
}

/**
 * Removes empty per-sandbox groups left by a crash. Never kills: a group with
 * processes may belong to another OpenCode process's sandbox (the bases are shared
 * by every provider in this cgroup); a young one may be about to receive its launcher.
 */
export async function pruneEmptyCgroups(support: CgroupSupport, minAgeMs = 60_000) {
  const { readdir } = await import("node:fs/promises");
  for (const where of [support.memory, support.pids, support.cpu]) {
    if (!where) continue;
    const entries = await readdir(where.base, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      const dir = join(where.base, e.name);
      const age = await stat(dir).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age >= minAgeMs) await rmdir(dir).catch(() => {});
    }
    await rmdir(where.base).catch(() => {});
  }
}
