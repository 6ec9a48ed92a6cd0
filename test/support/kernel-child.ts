/**
 * A host process of its own for the kernel attacks (test/integration/local-kernel):
 * run under Node (tsx) or Bun (`BUN_BE_BUN=1 <opencode binary>`), so the launch path
 * and the agent run on that runtime, with whatever descriptors and session keyring
 * the test gave this process.
 * Input: env OCSB_KERNEL = JSON { root, commands, secretPath?, keyName? }.
 * Creates a sandbox, runs each command inside, then looks from the host: which
 * descriptors the sandbox's processes hold on `secretPath`, the seccomp mode of the
 * agent and of bwrap's init, and (keyName) what became of the key planted in this
 * process's session keyring. Prints one JSON line.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { LocalProvider } from "../../.opencode/plugin/sandbox/providers/local/index.js";
import { processesOfUid } from "./processes.js";

const input = JSON.parse(process.env.OCSB_KERNEL ?? "{}") as { root: string; commands: string[]; secretPath?: string; keyName?: string };

const host = (script: string) => {
  try {
    return execFileSync("/bin/sh", ["-c", script], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    return `failed: ${(e as { stderr?: string }).stderr ?? e}`;
  }
};

const fdsOn = (pid: number, target: string) => {
  try {
    return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === target;
      } catch {
        return false;
      }
    }).map((fd) => `${pid}:${fd}`);
  } catch {
    return [];
  }
};

const provider = new LocalProvider({ root: input.root, network: "none", memoryMb: 512, maxProcesses: 128, maxOpenFiles: 1024, log: silentLogger });
try {
  const sb = await provider.create({ labels: { test: "kernel-child" } });
  const uid = JSON.parse(readFileSync(join(input.root, sb.id, "meta.json"), "utf8")).uid as number;
  const outputs: string[] = [];
  for (const command of input.commands) outputs.push((await sb.exec(command, { timeoutMs: 120_000 })).output);
  // The sandbox's processes as the host sees them (as root each sandbox has a uid of its own).
  const processes = process.getuid?.() === 0 ? processesOfUid(uid) : [];
  // bwrap's init is pid 1 inside; its only child is the agent (commands are the agent's children).
  const init = JSON.parse(readFileSync(join(input.root, sb.id, "owner.json"), "utf8")).init.pid as number;
  const status = (pid: number) => readFileSync(`/proc/${pid}/status`, "utf8");
  const agent = processes.find((pid) => Number(/^PPid:\s+(\d+)/m.exec(status(pid))?.[1]) === init);
  const seccomp = (pid?: number) => (pid ? /^Seccomp:\s+(\d+)/m.exec(status(pid))?.[1] : undefined);
  const agentSeccomp = seccomp(agent);
  const initSeccomp = seccomp(init);
  const leaked = input.secretPath ? processes.flatMap((pid) => fdsOn(pid, input.secretPath!)) : [];
  // The test's own check that it did hand this process the descriptors.
  const held = input.secretPath ? fdsOn(process.pid, input.secretPath) : [];
  const key = input.keyName ? { payload: host(`keyctl print %user:${input.keyName}`), keyring: host("keyctl rlist @s") } : undefined;
  await provider.delete(sb.id);
  await provider.dispose();
  const runtime = (process.versions as Record<string, string | undefined>).bun ? "bun" : "node";
  process.stdout.write(JSON.stringify({ runtime, outputs, processes: processes.length, agentSeccomp, initSeccomp, leaked, held, key, uid }) + "\n");
  process.exit(0);
} catch (e) {
  process.stdout.write(JSON.stringify({ failed: String((e as Error).stack ?? e) }) + "\n");
  process.exit(1);
}
