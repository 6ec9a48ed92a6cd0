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
 * over that namespace. Root has it (nsenter --net). An ordinary user who owns the
 * namespace gets it by entering the sandbox's user namespace, but loses it at exec
 * (nsenter → nft), so a small single-threaded python3 helper enters both namespaces
 * and raises CAP_NET_ADMIN as an ambient capability before it runs nft. Without
 * python3 an ordinary user's filter is reported as not enforced (egress.ts).
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

// setns(user), setns(net), CAP_NET_ADMIN inheritable + ambient, exec nft. argv: pid, nft.
const ENTER_AS_OWNER = String.raw`
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
def check(ok, what):
    if not ok: sys.exit("%s: %s" % (what, os.strerror(ctypes.get_errno())))
for ns in ("user", "net"):
    fd = os.open("/proc/%s/ns/%s" % (sys.argv[1], ns), os.O_RDONLY)
    check(libc.setns(fd, 0) == 0, "setns " + ns)
    os.close(fd)
class Header(ctypes.Structure): _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]
class Data(ctypes.Structure): _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]
head, data = Header(0x20080522, 0), (Data * 2)()
check(libc.capget(ctypes.byref(head), data) == 0, "capget")
data[0].inheritable |= 1 << 12
check(libc.capset(ctypes.byref(head), data) == 0, "capset")
check(libc.prctl(47, 2, 12, 0, 0) == 0, "ambient CAP_NET_ADMIN")
os.execv(sys.argv[2], [sys.argv[2], "-f", "-"])
`;

/**
 * Loads the rules into the network namespace of the sandbox whose init is `initPid`:
 * as root directly, as its owner through python3 (`python`).
 */
export function installFilter(o: { nft: string; initPid: number; policy: EgressPolicy; id: string; python?: string }): Promise<void> {
  const [command, args] = o.python
    ? [o.python, ["-I", "-S", "-c", ENTER_AS_OWNER, String(o.initPid), o.nft]]
    : ["nsenter", [`--net=/proc/${o.initPid}/ns/net`, "--", o.nft, "-f", "-"]];
  const child = spawn(command, args, {
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
