/** Host-side views of processes, for tests that judge a sandbox from outside. */
import type { ChildProcess } from "node:child_process";
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

/** A child's report: the last line it prints, as JSON; its whole output in the error when there is none. */
export function lastJsonLine<T>(child: ChildProcess, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stdout!.on("data", (c) => (out += c));
    child.stderr!.on("data", (c) => (err += c));
    child.on("error", reject);
    child.on("close", () => {
      const line = out.trim().split("\n").pop() ?? "";
      try {
        resolve(JSON.parse(line) as T);
      } catch {
        reject(new Error(`${what} said: ${out}\n${err}`));
      }
    });
  });
}
