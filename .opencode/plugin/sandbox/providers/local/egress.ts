/**
 * A sandbox's way out, per network mode — set up when its namespaces exist, and in
 * place before its first command (start.ts waits for it):
 *   isolated  — slirp4netns route + the nftables filter (egress-filter.ts)
 *   allowlist — no route; the host's filtering proxy on a unix socket (egress-proxy.ts)
 *   none      — nothing.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { SandboxError, type ProviderLog } from "../provider.js";
import { installFilter } from "./egress-filter.js";
import type { EgressPolicy } from "./egress-policy.js";
import { EGRESS_PORT, EGRESS_SOCKET, startEgressProxy, type EgressBlocked, type Resolve } from "./egress-proxy.js";
import { which } from "./preflight.js";

export interface EgressInput {
  policy: EgressPolicy;
  /** A connection the policy refused (allowlist: each one; it is logged too). */
  onBlocked?: (event: EgressBlocked) => void;
  /** Tests: the proxy's resolver. */
  resolve?: Resolve;
}

export interface Egress {
  close(): Promise<void>;
  /** What is NOT enforced on this machine (said in the log and the diagnosis). */
  problems: string[];
}

export const NOT_ENFORCED_AS_USER =
  "egress filter: NOT enforced — as an ordinary user it is installed through python3, which is not installed; private, link-local and this machine's addresses stay reachable. Install python3, run as root, or use network \"allowlist\" or \"none\"";

/** The interpreter that installs the filter as an ordinary user (a system one: a user's shim may be slow or absent). */
export function ownerHelper(): string | null {
  return existsSync("/usr/bin/python3") ? "/usr/bin/python3" : which("python3");
}

export async function startEgress(o: EgressInput & { initPid: number; id: string; dir: string; root: boolean; log: ProviderLog }): Promise<Egress> {
  const { policy } = o;
  if (policy.mode === "isolated") {
    const python = o.root ? undefined : ownerHelper();
    if (python === null) return { close: async () => {}, problems: [NOT_ENFORCED_AS_USER] };
    // An ordinary user's PATH often lacks the sbin directories.
    const nft = which("nft") ?? ["/usr/sbin/nft", "/sbin/nft"].find((p) => existsSync(p)) ?? null;
    if (!nft)
      throw new SandboxError("unavailable", `nftables is not installed: network "isolated" needs it to keep the sandbox off this machine's addresses and private networks — sudo apt-get install nftables, or set local.network to "allowlist" or "none".`);
    await installFilter({ nft, initPid: o.initPid, policy, id: o.id, python });
    return { close: async () => {}, problems: [] };
  }
  if (policy.mode === "allowlist") {
    const proxy = await startEgressProxy({ socketPath: join(o.dir, "run", EGRESS_SOCKET), policy, id: o.id, log: o.log, onBlocked: o.onBlocked, resolve: o.resolve });
    return { close: () => proxy.close(), problems: [] };
  }
  return { close: async () => {}, problems: [] };
}

/** The environment that points a sandbox's HTTP clients at its proxy (allowlist only). */
export function egressEnv(mode: EgressPolicy["mode"]): Record<string, string> {
  if (mode !== "allowlist") return {};
  const url = `http://127.0.0.1:${EGRESS_PORT}`;
  const noProxy = "localhost,127.0.0.1,::1";
  return {
    HTTP_PROXY: url, HTTPS_PROXY: url, http_proxy: url, https_proxy: url,
    NO_PROXY: noProxy, no_proxy: noProxy,
    // Node ≥ 24 honours the variables for fetch/http only when asked.
    NODE_USE_ENV_PROXY: "1",
  };
}
