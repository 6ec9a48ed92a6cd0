/**
 * A second OpenCode-like process for the local-provider tests, run under Bun
 * (`BUN_BE_BUN=1 <opencode binary> test/support/local-child.ts`) — so it also
 * proves the provider and its agent work on OpenCode's own runtime.
 * Input: env OCSB_CHILD = JSON { root, network, id?, labels? }.
 * Creates (or joins) a sandbox, starts a background sleeper inside, prints one JSON
 * line { id, agentUid, runtime, ... } and then waits to be killed.
 */
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { LocalProvider } from "../../.opencode/plugin/sandbox/providers/local/index.js";

const input = JSON.parse(process.env.OCSB_CHILD ?? "{}") as {
  root: string;
  network: "none" | "isolated";
  id?: string;
  labels?: Record<string, string>;
  exit?: boolean;
  /** Start a web server on this port inside and report its preview link (held open by this process). */
  serve?: number;
  /** Run the isolation probes (for the unprivileged-user test), report, delete, exit. */
  probe?: { hostPort: number; secret: string };
};
const provider = new LocalProvider({ root: input.root, network: input.network, memoryMb: 256, maxProcesses: 128, maxOpenFiles: 1024, log: silentLogger });
try {
  const sb = await provider.create({ labels: input.labels ?? { from: "child" }, id: input.id });
  await sb.exec("echo from-child > /tmp/child-marker; sleep 1000 >/dev/null 2>&1 &");
  const who = await sb.exec("id -u; cat /proc/$PPID/cmdline | tr '\\0' ' '");
  const [uid, agentCmd] = who.output.split("\n");
  const report = await provider.limits();
  if (input.probe) {
    const { statSync } = await import("node:fs");
    const { join } = await import("node:path");
    await sb.exec("echo x > /workspace/probe");
    const probe = {
      fileOwner: statSync(join(input.root, sb.id, "project", "probe")).uid,
      procSys: (await sb.exec("echo x > /proc/sys/kernel/domainname 2>&1; echo rc=$?")).output,
      loopback: (await sb.exec(`python3 -c "import socket; socket.create_connection(('127.0.0.1', ${input.probe.hostPort}), timeout=2); print('CONNECTED')" 2>&1 | tail -1`)).output,
      env: (await sb.exec("env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'")).output.includes(input.probe.secret),
      hostHome: (await sb.exec(`ls -A /home; test -e '${input.root}' && echo ROOT-VISIBLE; true`)).output,
      ulimit: (await sb.exec("ulimit -n")).output.trim(),
    };
    await provider.delete(sb.id);
    await provider.dispose();
    process.stdout.write(JSON.stringify({ id: sb.id, probe, limits: report }) + "\n");
    process.exit(0);
  }
  let preview: string | undefined;
  if (input.serve) {
    await sb.exec(`mkdir -p /tmp/www && echo served-from-the-sandbox > /tmp/www/index.html && cd /tmp/www && python3 -m http.server ${input.serve} >/dev/null 2>&1 &`);
    // Listening before the link is handed out: the answer then comes at once (where Bun lost it).
    const probe = `import socket; socket.create_connection(("127.0.0.1", ${input.serve}))`;
    await sb.exec(`for i in $(seq 600); do python3 -c '${probe}' 2>/dev/null && exit 0; sleep 0.1; done; exit 1`);
    preview = (await sb.previewUrl(input.serve)).url;
  }
  process.stdout.write(
    JSON.stringify({ id: sb.id, uid: Number(uid), agentCmd, bun: !!(process.versions as Record<string, string | undefined>).bun, pid: process.pid, limits: report, preview }) + "\n",
  );
  if (input.exit) {
    await provider.dispose();
    process.exit(0);
  }
  setInterval(() => {}, 1 << 30);
} catch (error) {
  process.stdout.write(JSON.stringify({ error: String((error as Error).message) }) + "\n");
  process.exit(1);
}
