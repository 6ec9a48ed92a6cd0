/** Small /proc helpers: process identity survives pid reuse by pairing pid with start time. */
import { readdirSync, readFileSync } from "node:fs";

/** Start time in clock ticks since boot (field 22 of /proc/PID/stat), or null when gone. */
export function startTime(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const state = fields[0];
    if (state === "Z" || state === "X") return null;
    return Number(fields[19]);
  } catch {
    return null;
  }
}

export interface ProcessRef {
  pid: number;
  start: number;
}

export function ref(pid: number): ProcessRef | null {
  const start = startTime(pid);
  return start === null ? null : { pid, start };
}

export function alive(p: ProcessRef | undefined | null): boolean {
  return !!p && startTime(p.pid) === p.start;
}

export function killRef(p: ProcessRef | undefined | null, signal: NodeJS.Signals = "SIGKILL") {
  if (!alive(p)) return;
  try {
    process.kill(p!.pid, signal);
  } catch {}
}

/** Pids of every process whose real uid is `uid` (used for uids owned by one sandbox only). */
export function pidsOfUid(uid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = readFileSync(`/proc/${name}/status`, "utf8");
      const m = /^Uid:\s+(\d+)/m.exec(status);
      if (m && Number(m[1]) === uid) out.push(Number(name));
    } catch {}
  }
  return out;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
