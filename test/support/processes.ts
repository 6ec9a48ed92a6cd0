/** Host-side views of processes, for tests that judge a sandbox from outside. */
import { readdirSync, readFileSync } from "node:fs";

/** The host uid a process runs as, or null when it is gone. */
export function hostUid(pid: number | string): number | null {
  try {
    return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
  } catch {
    return null;
  }
}

/** Pids of the host processes running as `uid`. */
export function processesOfUid(uid: number): number[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p) && hostUid(p) === uid)
    .map(Number);
}
