/**
 * A network namespace of its own for the directory double: it runs commands on the
 * host, where every other test's listener would show up in /proc/net/tcp. Commands of
 * a wrapped sandbox enter one namespace (held by a sleeping process), so the ports
 * they see are the ones they opened — as in a real sandbox.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readlinkSync } from "node:fs";
import type { Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { shq } from "../../.opencode/plugin/sandbox/util/shell.js";
import { missingCommand } from "./prereq.js";
import { until } from "./until.js";

export const missingPrivateNetwork = () => missingCommand("unshare") ?? missingCommand("nsenter");

export interface PrivateNetwork {
  wrap(sandbox: Sandbox): Sandbox;
  close(): void;
}

export async function privateNetwork(): Promise<PrivateNetwork> {
  const holder: ChildProcess = spawn("unshare", ["--user", "--map-root-user", "--net", "sleep", "infinity"], { stdio: "ignore" });
  const ns = (pid: number | string) => {
    try {
      return readlinkSync(`/proc/${pid}/ns/net`);
    } catch {
      return undefined;
    }
  };
  await until(() => holder.exitCode === null && ns(holder.pid!) !== undefined && ns(holder.pid!) !== ns("self"), "the namespace holder to unshare");
  const enter = `exec nsenter -t ${holder.pid} -U -n --preserve-credentials sh -c `;
  return {
    wrap(sandbox) {
      // Every other method (processes included, which run through exec) stays the double's own.
      return Object.assign(Object.create(sandbox), { exec: (command: string, options?: Parameters<Sandbox["exec"]>[1]) => sandbox.exec(enter + shq(command), options) });
    },
    close() {
      holder.kill("SIGKILL");
    },
  };
}
