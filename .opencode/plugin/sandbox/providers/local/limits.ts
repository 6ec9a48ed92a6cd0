/**
 * Resource limits: the configured values clamped to what this machine allows, and a
 * report of what is actually enforced (for the log and a `doctor` command) — a limit
 * that cannot be applied is reported, never silently skipped.
 */
import { readFileSync } from "node:fs";
import { totalmem } from "node:os";

export interface LimitsRequest {
  memoryMb: number;
  maxProcesses: number;
  maxOpenFiles: number;
}

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

export function clampLimits(req: LimitsRequest): LimitsRequest {
  // Leave the host a tenth of its memory (and the sandbox at least 64 MiB).
  const memCap = Math.max(64, Math.floor((totalmem() / 1024 / 1024) * 0.9));
  const threadsMax = readNumber("/proc/sys/kernel/threads-max") ?? 32768;
  return {
    memoryMb: Math.min(Math.max(64, Math.floor(req.memoryMb)), memCap),
    maxProcesses: Math.min(Math.max(16, Math.floor(req.maxProcesses)), Math.max(16, Math.floor(threadsMax / 2))),
    maxOpenFiles: Math.min(Math.max(64, Math.floor(req.maxOpenFiles)), hardOpenFiles()),
  };
}
