/**
 * What this machine enforces for local sandboxes: the limits report (configured
 * values, what applies, how or why not) and the provider's `diagnose()` checks.
 */
import type { Check, Diagnosis } from "../provider.js";
import type { CgroupSupport } from "./cgroups.js";
import { clampLimits, type LimitsReport, type LimitsRequest, type LimitStatus } from "./limits.js";
import type { Tools } from "./preflight.js";

export function limitsReport(request: LimitsRequest, support: CgroupSupport): LimitsReport {
  const limits = clampLimits(request);
  const problem = (c: string) => support.problems.find((p) => p.startsWith(`${c}:`)) ?? `${c}: no usable cgroup`;
  const status = (requested: number, applied: number, enforced: boolean, detail: string): LimitStatus => ({ requested, applied, enforced, detail });
  const report: LimitsReport = {
    memoryMb: status(request.memoryMb, limits.memoryMb, !!support.memory,
      support.memory ? `cgroup v${support.memory.v} memory limit (${support.memory.base})` : `NOT enforced — ${problem("memory")}`),
    maxProcesses: status(request.maxProcesses, limits.maxProcesses, !!support.pids,
      support.pids ? `cgroup v${support.pids.v} pids.max (${support.pids.base})` : `NOT enforced — ${problem("pids")}`),
    maxOpenFiles: status(request.maxOpenFiles, limits.maxOpenFiles, true, `RLIMIT_NOFILE (clamped to the hard limit of this process)`),
    warnings: [],
  };
  if (!support.memory) report.warnings.push(`memory limit not enforced: ${problem("memory")}`);
  if (!support.pids) report.warnings.push(`process limit not enforced: ${problem("pids")}`);
  return report;
}

export interface DiagnoseInput {
  /** The preflight's outcome: the tools found, or its error (whose message names the fix). */
  tools: Tools | Error;
  root: string;
  network: "isolated" | "none";
  limits: LimitsReport;
}

export function diagnosis({ tools, root, network, limits }: DiagnoseInput): Diagnosis {
    const checks: Check[] = [];
  if (tools instanceof Error) checks.push({ name: "sandbox", ok: false, detail: tools.message });
  else {
    checks.push({ name: "bubblewrap", ok: true, detail: tools.bwrap });
    checks.push({ name: "agent runtime", ok: true, detail: `${tools.runtime.path}${tools.runtime.bun ? " (Bun)" : ""}` });
    checks.push({ name: "network", ok: true, detail: network === "isolated" ? `isolated (slirp4netns ${tools.slirp4netns})` : "none (no network inside)" });
  }
  checks.push({
    name: "privileges",
    ok: true,
    detail: process.getuid?.() === 0
      ? "OpenCode runs as root: each sandbox runs as its own unprivileged host uid"
      : `sandboxes run as uid ${process.getuid?.()} (this user), inside their own user namespace`,
  });
  checks.push({ name: "sandboxes directory", ok: true, detail: root });
  const limit = (name: string, l: LimitStatus, unit: string, fix?: string): Check =>
    l.enforced
      ? { name, ok: true, detail: `${l.applied}${unit}: ${l.detail}` }
      : { name, ok: false, warning: true, detail: `${l.applied}${unit} requested, ${l.detail}`, fix };
  const cgroupFix = "run OpenCode as root, or under systemd-run --user --scope -p Delegate=yes (a delegated cgroup)";
  checks.push(limit("memory limit", limits.memoryMb, " MiB", cgroupFix));
  checks.push(limit("process limit", limits.maxProcesses, " processes", cgroupFix));
  checks.push(limit("open files limit", limits.maxOpenFiles, " files"));
  return { provider: "local", available: checks.every((c) => c.ok || c.warning), checks };
}
