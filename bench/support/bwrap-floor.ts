/**
 * The floor of a local sandbox's start: bubblewrap with the sandbox's own arguments
 * (launch.ts bwrapArgs — namespaces, mounts, environment), running the same runtime
 * on an empty script instead of the agent, then exiting.
 *
 * What the floor leaves out is what the issue counts on the measured side: the seccomp
 * filter (its `--seccomp` pair is taken out; everything else stays as the product
 * builds it), quotas (cgroups, ulimit, the root launcher's private mount namespace and
 * disk image), egress set-up (slirp4netns, the filter), the launcher's descriptor
 * sealing and session keyring. As root the floor runs bwrap as an unprivileged uid
 * through setpriv, as the sandbox does (bwrap run by host root is another program:
 * the uid trap in /work/shared/reference/local-sandbox.md).
 */
import { spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { UID_BASE } from "../../.opencode/plugin/sandbox/providers/local/constants.js";
import { bwrapArgs, disablesUserns, type LaunchSpec } from "../../.opencode/plugin/sandbox/providers/local/launch.js";
import type { NetworkMode } from "../../.opencode/plugin/sandbox/providers/local/egress-policy.js";
import type { Runtime } from "../../.opencode/plugin/sandbox/providers/local/runtime.js";

/** A uid no sandbox gets (they start at UID_BASE); preflight probes with UID_BASE - 1. */
const FLOOR_UID = UID_BASE - 2;

export interface FloorInput {
  /** Where the floor's directory is made (as root: every directory above it must be traversable by others). */
  parent: string;
  bwrap: string;
  runtime: Runtime;
  network: NetworkMode;
  tmpfsBytes?: number;
}

export interface Floor {
  argv: string[];
  run(): Promise<void>;
}

export async function bwrapFloor({ parent, bwrap, runtime, network, tmpfsBytes }: FloorInput): Promise<Floor> {
  const root = process.getuid?.() === 0;
  await mkdir(parent, { recursive: true, mode: 0o755 });
  const dir = await mkdtemp(join(parent, "floor-"));
  // As root the floor runs as FLOOR_UID: it must reach its files (the sandbox reaches its own through a private bind).
  await chmod(dir, 0o755);
  for (const sub of ["etc", "project", "home", "run"]) await mkdir(join(dir, sub), { mode: 0o755 });
  const uid = root ? FLOOR_UID : process.getuid!();
  const gid = root ? FLOOR_UID : process.getgid!();
  const etc: Record<string, string> = {
    passwd: `user:x:${uid}:${gid}:user:/home/user:/bin/sh\n`,
    group: `user:x:${gid}:\n`,
    hosts: "127.0.0.1 localhost sandbox\n",
    hostname: "sandbox\n",
    "resolv.conf": "",
  };
  for (const [name, text] of Object.entries(etc)) await writeFile(join(dir, "etc", name), text, { mode: 0o644 });
  await writeFile(join(dir, "agent.cjs"), "", { mode: 0o644 });

  // The sandbox's own spec, but paths straight to this directory (no private bind at /run).
  const spec: LaunchSpec = {
    id: "floor",
    dir,
    runtime,
    bwrap,
    uid,
    gid,
    dropPrivileges: false,
    network,
    cgroupProcs: [],
    maxOpenFiles: 0,
    tmpfsBytes,
    socket: { bound: join(dir, "run", "agent.sock"), host: join(dir, "agent.sock") },
  };
  const args = bwrapArgs(spec);
  const seccomp = args.indexOf("--seccomp");
  if (seccomp < 0 || args.lastIndexOf("--seccomp") !== seccomp) throw new Error("launch.ts bwrapArgs no longer passes one --seccomp: update bench/support/bwrap-floor.ts");
  args.splice(seccomp, 2);
  // --disable-userns is a namespace flag: as the real sandbox has it (it depends on dropPrivileges, forced off above).
  const wantsDisable = disablesUserns({ dropPrivileges: root, network });
  const hasDisable = args.indexOf("--disable-userns");
  if (wantsDisable && hasDisable < 0) args.splice(args.indexOf("--info-fd"), 0, "--disable-userns");
  if (!wantsDisable && hasDisable >= 0) args.splice(hasDisable, 1);

  const argv = root ? ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--", bwrap, ...args] : [bwrap, ...args];
  const run = () =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(argv[0]!, argv.slice(1), { cwd: "/", env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }, stdio: ["ignore", "ignore", "pipe", "pipe"] });
      let stderr = "";
      child.stderr!.on("data", (c: Buffer) => (stderr += c));
      (child.stdio[3] as NodeJS.ReadableStream).resume();
      child.once("error", reject);
      child.once("close", (code, signal) => (code === 0 ? resolve() : reject(new Error(`the bwrap floor failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`))));
    });
  return { argv, run };
}
