/** Small /proc helpers. */
import { readdirSync, readFileSync } from "node:fs";
import { alive, type ProcessRef } from "../../util/process-ref.js";

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
