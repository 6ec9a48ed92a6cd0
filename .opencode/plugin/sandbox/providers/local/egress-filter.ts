/**
 * Network "isolated": an nftables filter in the sandbox's own network namespace,
 * installed from the host before slirp4netns gives that namespace a route (so before
 * anything in it can send a packet). slirp4netns alone only refuses the host's
 * loopback (10.0.2.2); every other address of this machine, the LAN and the cloud
 * metadata endpoint would route. The filter rejects them (the sender sees "No route
 * to host" at once) and lets DNS to slirp's resolver (10.0.2.3) through — the host's
 * resolver may itself sit at a private address; slirp asks it from outside.
 *
 * The sandbox's processes cannot change the rules: they hold no capability in the
 * user namespace that owns the network namespace. Installing needs CAP_NET_ADMIN
 * over that namespace, which root has; an ordinary user who owns the namespace has
 * it only until exec (nsenter → nft loses it), so as non-root the filter is reported
 * as not enforced (see EgressFilterUnavailable).
 */
import { spawn } from "node:child_process";
import { SandboxError } from "../provider.js";
import { BLOCKED_V4, BLOCKED_V6, extraHostAddresses, parseCidr, type Cidr, type EgressPolicy } from "./egress-policy.js";

/** slirp4netns's built-in DNS forwarder, always at this address inside. */
export const SLIRP_DNS = "10.0.2.3";
export const TABLE = "opencode_sandbox";
const INSTALL_TIMEOUT_MS = 10_000;

const element = (c: Cidr) => `${c.address}/${c.prefix}`;

function set(name: string, type: "ipv4_addr" | "ipv6_addr", items: Cidr[]): string {
  const elements = items.length ? ` elements = { ${items.map(element).join(", ")} };` : "";
  return `  set ${name} { type ${type}; flags interval; auto-merge;${elements} }`;
}

/** The ruleset (nft -f syntax) for a policy. */
export function filterRules(policy: EgressPolicy): string {
  const hosts = extraHostAddresses(policy);
  const blocked4 = [...BLOCKED_V4.map((t) => parseCidr(t)!), ...hosts.filter((c) => c.family === 4)];
  const blocked6 = [...BLOCKED_V6.map((t) => parseCidr(t)!), ...hosts.filter((c) => c.family === 6)];
  return [
    `table inet ${TABLE} {`,
    set("allow4", "ipv4_addr", policy.allowCidrs.filter((c) => c.family === 4)),
    set("allow6", "ipv6_addr", policy.allowCidrs.filter((c) => c.family === 6)),
    set("block4", "ipv4_addr", blocked4),
    set("block6", "ipv6_addr", blocked6),
    "  chain output {",
    "    type filter hook output priority 0; policy accept;",
    '    oif "lo" accept',
    `    ip daddr ${SLIRP_DNS} meta l4proto { tcp, udp } th dport 53 accept`,
    "    ip daddr @allow4 accept",
    "    ip6 daddr @allow6 accept",
    "    ip daddr @block4 counter reject with icmpx type admin-prohibited",
    "    ip6 daddr @block6 counter reject with icmpx type admin-prohibited",
    "  }",
    "}",
    "",
  ].join("\n");
}

/** Loads the rules into the network namespace of the sandbox whose init is `initPid`. Root only. */
export function installFilter(o: { nft: string; initPid: number; policy: EgressPolicy; id: string }): Promise<void> {
  const child = spawn("nsenter", [`--net=/proc/${o.initPid}/ns/net`, "--", o.nft, "-f", "-"], {
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    stdio: ["pipe", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr.length < 4096 ? (stderr += c.toString()) : undefined));
  child.stdin!.on("error", () => {});
  child.stdin!.end(filterRules(o.policy));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), INSTALL_TIMEOUT_MS);
    const fail = (why: string) =>
      reject(new SandboxError("unavailable", `The egress filter of sandbox ${o.id} could not be installed (nftables): ${why}`));
    child.once("error", (e) => (clearTimeout(timer), fail(e.message)));
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else fail(`${signal ? `killed (${signal})` : `exit ${code}`} ${stderr.trim()}`.trim());
    });
  });
}
