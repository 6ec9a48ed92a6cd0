/**
 * The local provider as OpenCode runs it (under Bun: `BUN_BE_BUN=1 <opencode binary>
 * test/support/egress-child.ts`), started by the egress test inside the "host"
 * network namespace it made (`ip netns exec`): so its sandbox, slirp4netns and proxy
 * all live in that small world. Input: env OCSB_EGRESS = JSON { root, network,
 * allowDomains?, allowCidrs?, probes: { name: command } }. Runs each probe in one
 * sandbox, renders blocked connections the way the plugin does (notice → toast, once
 * per key), prints one JSON line { results, events, toasts, log, ms } and exits.
 */
import { LocalProvider } from "../../.opencode/plugin/sandbox/providers/local/index.js";
import { createToaster, renderNotice } from "../../.opencode/plugin/sandbox/opencode/toasts.js";
import { egressNotice } from "../../.opencode/plugin/sandbox/service/notices.js";
import { memoryLogger } from "./local-harness.js";

const input = JSON.parse(process.env.OCSB_EGRESS ?? "{}") as {
  root: string;
  network: "isolated" | "allowlist" | "none";
  allowDomains?: string[];
  allowCidrs?: string[];
  probes: Record<string, string>;
};
const log = memoryLogger();
const toasts: string[] = [];
const toaster = createToaster({ tui: { showToast: async (o: { body: { message: string } }) => void toasts.push(o.body.message) } } as never, log);
const events: unknown[] = [];
const provider = new LocalProvider({
  root: input.root,
  network: input.network,
  allowDomains: input.allowDomains,
  allowCidrs: input.allowCidrs,
  memoryMb: 512,
  maxProcesses: 256,
  maxOpenFiles: 1024,
  log,
  onEgressBlocked: (e) => {
    events.push(e);
    renderNotice(toaster, log, egressNotice(e));
  },
});
try {
  const started = performance.now();
  const sb = await provider.create({ labels: { session: "ses_egress" } });
  const ms = performance.now() - started;
  const results: Record<string, string> = {};
  for (const [name, command] of Object.entries(input.probes)) results[name] = (await sb.exec(command, { timeoutMs: 60_000 })).output;
  await toaster.flush();
  await provider.delete(sb.id);
  await provider.dispose();
  process.stdout.write(JSON.stringify({ results, events, toasts, log: log.lines, ms }) + "\n");
  process.exit(0);
} catch (error) {
  process.stdout.write(JSON.stringify({ error: String((error as Error).message), log: log.lines }) + "\n");
  process.exit(1);
}
