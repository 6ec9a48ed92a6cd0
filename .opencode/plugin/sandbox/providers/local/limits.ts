/**
 * Resource limits: the configured values clamped to what this machine allows, and a
 * report of what is actually enforced (for the log and a `doctor` command) — a limit
 * that cannot be applied is reported, never silently skipped.
 */
import { readFileSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";

export interface LimitsRequest {
  memoryMb: number;
  maxProcesses: number;
  maxOpenFiles: number;
  /** CPU time as a number of cores (fractions allowed); default: all cores but one. */
  cpus?: number;
  /** Size of the filesystem holding the workspace and HOME (root only). */
  diskMiB?: number;
  /** Files and directories that filesystem can hold. */
  inodes?: number;
  /** Size of each of /tmp and /dev/shm inside (RAM: tmpfs). */
  tmpMiB?: number;
}

export type ResolvedLimits = Required<LimitsRequest>;

/**
 * Defaults for the options callers may leave out. A sparse image costs only what is
 * written; 8 GiB and a million files hold a large monorepo's node_modules. One core is
 * left to the host, so a `make -j` in a sandbox never starves OpenCode and the desktop.
 */
export const DEFAULT_DISK_MIB = 8192;
export const DEFAULT_INODES = 1_000_000;
export const DEFAULT_TMP_MIB = 512;
export const defaultCpus = () => Math.max(1, availableParallelism() - 1);

export interface LimitStatus {
  requested: number;
  applied: number;
  enforced: boolean;
  /** How it is enforced, or why it is not. */
  detail: string;
}

export interface LimitsReport {
  memoryMb: LimitStatus;
  maxProcesses: LimitStatus;
  maxOpenFiles: LimitStatus;
  cpus: LimitStatus;
  diskMiB: LimitStatus;
  inodes: LimitStatus;
  tmpMiB: LimitStatus;
  /** One line per limit that is NOT enforced (empty when everything is). */
  warnings: string[];
}

function readNumber(path: string): number | null {
  try {
    const n = Number(readFileSync(path, "utf8").trim());
    return Number.isFinite(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Hard RLIMIT_NOFILE of this process: a child can never raise past it. */
export function hardOpenFiles(): number {
  try {
    const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
    const hard = line?.trim().split(/\s{2,}/)[2];
    if (hard && hard !== "unlimited") return Number(hard);
  } catch {}
  return 1 << 20;
}

export function clampLimits(req: LimitsRequest): ResolvedLimits {
  // Leave the host a tenth of its memory (and the sandbox at least 64 MiB).
  const memCap = Math.max(64, Math.floor((totalmem() / 1024 / 1024) * 0.9));
  const threadsMax = readNumber("/proc/sys/kernel/threads-max") ?? 32768;
  const memoryMb = Math.min(Math.max(64, Math.floor(req.memoryMb)), memCap);
  return {
    memoryMb,
    maxProcesses: Math.min(Math.max(16, Math.floor(req.maxProcesses)), Math.max(16, Math.floor(threadsMax / 2))),
    maxOpenFiles: Math.min(Math.max(64, Math.floor(req.maxOpenFiles)), hardOpenFiles()),
    // Hundredths of a core: the cgroup quota's resolution that still means something.
    cpus: Math.min(Math.max(0.01, Math.round((req.cpus ?? defaultCpus()) * 100) / 100), availableParallelism()),
    // ext4 needs a few MiB for itself; below 16 MiB a workspace cannot hold a git checkout.
    diskMiB: Math.max(16, Math.floor(req.diskMiB ?? DEFAULT_DISK_MIB)),
    inodes: Math.max(256, Math.floor(req.inodes ?? DEFAULT_INODES)),
    // tmpfs is RAM: never more than the sandbox's memory.
    tmpMiB: Math.min(Math.max(1, Math.floor(req.tmpMiB ?? DEFAULT_TMP_MIB)), memoryMb),
  };
}

/** What the kernel may hold in TCP buffers for one sandbox's sockets and its slirp4netns (cgroup v1 counts them apart from memory). */
export const tcpBufferBytes = (limits: ResolvedLimits) => Math.floor(limits.memoryMb / 4) * 1024 * 1024;
