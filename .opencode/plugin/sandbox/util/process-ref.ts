/** A process's identity that survives pid reuse: its pid paired with its start time. */
import { readFileSync } from "node:fs";

export interface ProcessRef {
  pid: number;
  start: number;
}

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

export function ref(pid: number): ProcessRef | null {
  const start = startTime(pid);
  return start === null ? null : { pid, start };
}

export function alive(p: ProcessRef | undefined | null): boolean {
  return !!p && startTime(p.pid) === p.start;
}
