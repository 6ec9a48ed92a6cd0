/**
 * Bringing one sandbox up: its cgroups, bubblewrap with the agent, and (network
 * "isolated") slirp4netns — retried a few times, and undone completely when it fails.
 */
import { SandboxError, type ProviderLog } from "../provider.js";
import { createCgroups, removeCgroups, type CgroupSupport } from "./cgroups.js";
import { launch, type Launched, type LaunchSpec } from "./launch.js";
import { clampLimits, tcpBufferBytes, type LimitsRequest } from "./limits.js";
import { startSlirp, type Slirp } from "./network.js";
import { startEgress, type Egress, type EgressInput } from "./egress.js";
import type { Tools } from "./preflight.js";
import { sleep } from "./proc.js";

/** How often a sandbox start is tried before its error is reported. */
const START_ATTEMPTS = 3;
const MiB = 1024 * 1024;

export interface Up {
  launched: Launched;
  slirp?: Slirp;
  egress?: Egress;
  cgroups: string[];
  /** Why a limit could not be applied (each is NOT enforced). */
  problems: string[];
}

export interface StartInput {
  spec: Omit<LaunchSpec, "runtime" | "bwrap" | "network" | "cgroupProcs" | "maxOpenFiles" | "onInit" | "tmpfsBytes">;
  /** Name of the sandbox's own cgroups. */
  cgroupName: string;
  tools: Tools;
  network: LaunchSpec["network"];
  /** What the sandbox may reach (egress.ts). */
  egress: EgressInput;
  limits: LimitsRequest;
  support: CgroupSupport;
  log: ProviderLog;
}

export async function bringUp({ spec, cgroupName, tools, network, egress: egressInput, limits: requested, support, log }: StartInput): Promise<Up> {
  const limits = clampLimits(requested);
  const cg = await createCgroups(support, cgroupName, {
    memoryBytes: limits.memoryMb * MiB,
    maxProcesses: limits.maxProcesses,
    cpus: limits.cpus,
    tcpBytes: tcpBufferBytes(limits),
  });
  let launched: Launched | undefined;
  let slirpStarting: Promise<Slirp> | undefined;
  let egressStarting: Promise<Egress> | undefined;
  const full: LaunchSpec = {
    ...spec,
    runtime: tools.runtime,
    bwrap: tools.bwrap,
    network,
    cgroupProcs: cg.procs,
    maxOpenFiles: limits.maxOpenFiles,
    tmpfsBytes: tools.tmpfsSize ? limits.tmpMiB * MiB : undefined,
    // slirp4netns comes up while the agent starts (they are independent).
    onInit: (initPid) => {
      // The filter or proxy is in place before this returns, so before the first command.
      egressStarting = startEgress({ ...egressInput, initPid, id: spec.id, dir: spec.dir, root: spec.dropPrivileges, log });
      egressStarting.catch(() => {});
      if (network !== "isolated") return;
      // In the sandbox's cgroups: its socket buffers, memory and CPU count against the sandbox's limits.
      slirpStarting = startSlirp({ slirp4netns: tools.slirp4netns!, initPid, id: spec.id, cgroupProcs: cg.procs });
      slirpStarting.catch(() => {});
    },
  };
  const stopSlirp = async () => {
    (await slirpStarting?.catch(() => undefined))?.stop();
    await (await egressStarting?.catch(() => undefined))?.close();
  };
  try {
    // Seen under load: bwrap's loopback set-up in a fresh network namespace fails
    // now and then ("Failed RTM_NEWADDR"), once even twice in a row. Retry with a
    // short back-off; a real misconfiguration fails every time. A start that hit its
    // deadline is not tried again: it was a hang, or a machine too loaded to start one.
    for (let attempt = 1; ; attempt++) {
      try {
        launched = await launch(full);
        break;
      } catch (error) {
        if (attempt === START_ATTEMPTS || (error instanceof SandboxError && error.timedOut))
          throw error instanceof SandboxError
            ? new SandboxError(error.kind, attempt > 1 ? `${error.message} (tried ${attempt} times)` : error.message, { cause: error, timedOut: error.timedOut })
            : error;
        log.warn(`local sandbox ${spec.id}: start failed (attempt ${attempt}), retrying: ${(error as Error).message}`);
        await stopSlirp();
        slirpStarting = undefined;
        egressStarting = undefined;
        await sleep(100 * attempt);
      }
    }
    const slirp = slirpStarting ? await slirpStarting : undefined;
    const egress = egressStarting ? await egressStarting : undefined;
    return { launched, slirp, egress, cgroups: cg.dirs, problems: [...cg.problems, ...(egress?.problems ?? [])] };
  } catch (error) {
    await stopSlirp();
    if (launched) {
      launched.child.kill("SIGKILL");
      await launched.exited;
    }
    await removeCgroups(cg.dirs);
    throw error;
  }
}
