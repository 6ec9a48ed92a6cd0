/**
 * What this machine enforces for local sandboxes: the limits report (configured
 * values, what applies, how or why not) and the provider's `diagnose()` checks.
 */
import type { Check, Diagnosis } from "../provider.js";
import type { CgroupSupport } from "./cgroups.js";
import { clampLimits, type LimitsReport, type LimitsRequest, type LimitStatus } from "./limits.js";
import type { Tools } from "./preflight.js";
import type { NetworkMode } from "./egress-policy.js";
import { NOT_ENFORCED_AS_USER, ownerHelper } from "./egress.js";

export interface LimitsContext {
  support: CgroupSupport;
  /** Why sandboxes get no disk of their own here (volume.ts), or undefined when they do. */
  volumeUnsupported?: string;
  /** This bwrap can size a tmpfs (false: too old; undefined: bwrap not found). */
  tmpfsSize?: boolean;
}

export function limitsReport(request: LimitsRequest, { support, volumeUnsupported, tmpfsSize }: LimitsContext): LimitsReport {
  const limits = clampLimits(request);
  const problem = (c: string) => support.problems.find((p) => p.startsWith(`${c}:`)) ?? `${c}: no usable cgroup`;
  const status = (requested: number, applied: number, enforced: boolean, detail: string): LimitStatus => ({ requested, applied, enforced, detail });
  const report: LimitsReport = {
    memoryMb: status(request.memoryMb, limits.memoryMb, !!support.memory,
      support.memory ? `cgroup v${support.memory.v} memory limit (${support.memory.base})` : `NOT enforced — ${problem("memory")}`),
    maxProcesses: status(request.maxProcesses, limits.maxProcesses, !!support.pids,
      support.pids ? `cgroup v${support.pids.v} pids.max (${support.pids.base})` : `NOT enforced — ${problem("pids")}`),
    maxOpenFiles: status(request.maxOpenFiles, limits.maxOpenFiles, true, `RLIMIT_NOFILE (clamped to the hard limit of this process)`),
    cpus: status(request.cpus ?? limits.cpus, limits.cpus, !!support.cpu,
      support.cpu ? `cgroup v${support.cpu.v} CPU quota (${support.cpu.base})` : `NOT enforced — ${problem("cpu")}`),
    diskMiB: status(request.diskMiB ?? limits.diskMiB, limits.diskMiB, !volumeUnsupported,
      volumeUnsupported
        ? `NOT enforced — ${volumeUnsupported}; the workspace and HOME use the host's disk without a cap`
        : "a size-capped ext4 image per sandbox holds the workspace and HOME (sandboxes made before this version have none)"),
    inodes: status(request.inodes ?? limits.inodes, limits.inodes, !volumeUnsupported,
      volumeUnsupported ? `NOT enforced — ${volumeUnsupported}` : "the inode count of the sandbox's ext4 image"),
    tmpMiB: status(request.tmpMiB ?? limits.tmpMiB, limits.tmpMiB, tmpfsSize === true,
      tmpfsSize
        ? `/tmp and /dev/shm are tmpfs of this size each (RAM${support.memory ? ", counted in the memory limit" : ""}); /run 16 MiB, /dev 1 MiB`
        : `NOT enforced — ${tmpfsSize === false ? "this bubblewrap has no --size (0.7 or later has)" : "bubblewrap not found"}`),
    warnings: [],
  };
  if (!support.memory) report.warnings.push(`memory limit not enforced: ${problem("memory")}`);
  if (!support.pids) report.warnings.push(`process limit not enforced: ${problem("pids")}`);
  if (!support.cpu) report.warnings.push(`CPU limit not enforced: ${problem("cpu")}`);
  if (volumeUnsupported) report.warnings.push(`disk and inode limits not enforced: ${volumeUnsupported}`);
  if (tmpfsSize !== true) report.warnings.push(`/tmp size not enforced: ${report.tmpMiB.detail.replace(/^NOT enforced — /, "")}`);
  return report;
}

export interface DiagnoseInput {
  /** The preflight's outcome: the tools found, or its error (whose message names the fix). */
  tools: Tools | Error;
  root: string;
  network: NetworkMode;
  limits: LimitsReport;
}

export function diagnosis({ tools, root, network, limits }: DiagnoseInput): Diagnosis {
    const checks: Check[] = [];
  if (tools instanceof Error) checks.push({ name: "sandbox", ok: false, detail: tools.message });
  else {
    checks.push({ name: "bubblewrap", ok: true, detail: tools.bwrap });
    checks.push({ name: "agent runtime", ok: true, detail: `${tools.runtime.path}${tools.runtime.bun ? " (Bun)" : ""}` });
    const detail = {
      isolated: `isolated (slirp4netns ${tools.slirp4netns}; this machine's addresses and private, link-local ranges filtered by nftables)`,
      allowlist: "allowlist (no route; HTTP(S) through the host's proxy to local.allowDomains only)",
      none: "none (no network inside)",
    }[network];
    checks.push({ name: "network", ok: true, detail });
    if (network === "isolated" && process.getuid?.() !== 0 && !ownerHelper()) checks.push({ name: "egress filter", ok: false, warning: true, detail: NOT_ENFORCED_AS_USER, fix: 'install python3 (/usr/bin/python3), run OpenCode as root, or set local.network to "allowlist" or "none"' });
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
  checks.push(limit("CPU limit", limits.cpus, " CPUs", cgroupFix));
  const diskFix = "run OpenCode as root (a loop-mounted image per sandbox); as an ordinary user no disk quota is possible here";
  checks.push(limit("disk limit", limits.diskMiB, " MiB", diskFix));
  checks.push(limit("inode limit", limits.inodes, " files", diskFix));
  checks.push(limit("/tmp limit", limits.tmpMiB, " MiB", "install bubblewrap 0.7 or later"));
  return { provider: "local", available: checks.every((c) => c.ok || c.warning), checks };
}
