/**
 * A host process of its own for the channel attacks (test/integration/local-channel),
 * so that its memory is measured alone: run under Node (tsx) or Bun
 * (`BUN_BE_BUN=1 <opencode binary>`), the agent then runs on the same runtime.
 * Input: env OCSB_CHANNEL = JSON { root, attack: "stdio" | "frame", mib }.
 * Creates a sandbox, runs the attack as a command inside, and prints one JSON line:
 * the host's peak and resident memory before and after (KiB, from /proc/self/status),
 * what the attack printed or the error the command ended with, and whether the
 * sandbox still answers afterwards.
 */
import { readFileSync } from "node:fs";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { LocalProvider } from "../../.opencode/plugin/sandbox/providers/local/index.js";
import { ATTACK_PATH, ATTACK_PY } from "./channel-attacks.js";

const input = JSON.parse(process.env.OCSB_CHANNEL ?? "{}") as { root: string; attack: "stdio" | "frame"; mib: number };

function memory() {
  const status = readFileSync("/proc/self/status", "utf8");
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)![1]);
  return { hwmKiB: kib("VmHWM"), rssKiB: kib("VmRSS") };
}

const provider = new LocalProvider({ root: input.root, network: "none", memoryMb: 512, maxProcesses: 128, maxOpenFiles: 1024, log: silentLogger });
try {
  const sb = await provider.create({ labels: { test: "channel-child" } });
  await sb.writeFile(ATTACK_PATH, ATTACK_PY);
  await sb.exec("python3 -c 'print(1)'");
  const before = memory();
  let output: string | undefined;
  let error: { kind?: string; fault?: string; message: string } | undefined;
  try {
    output = (await sb.exec(`exec python3 ${ATTACK_PATH} ${input.attack} ${input.mib}`, { timeoutMs: 300_000 })).output;
  } catch (e) {
    const { kind, fault, message } = e as { kind?: string; fault?: string; message: string };
    error = { kind, fault, message };
  }
  const after = memory();
  const still = (await sb.exec("echo still-here")).output;
  await provider.delete(sb.id);
  await provider.dispose();
  const runtime = (process.versions as Record<string, string | undefined>).bun ? "bun" : "node";
  process.stdout.write(JSON.stringify({ runtime, before, after, output, error, still }) + "\n");
  process.exit(0);
} catch (e) {
  process.stdout.write(JSON.stringify({ failed: String((e as Error).stack ?? e) }) + "\n");
  process.exit(1);
}
