/**
 * What a local sandbox may reach, as data: the ranges that are never the internet
 * (private, CGNAT, loopback, link-local — cloud metadata lives at 169.254.169.254 —,
 * unique-local, multicast), this host's own interface addresses, and the user's
 * exceptions (`allowCidrs`) and domains (`allowDomains`, network "allowlist").
 * The nftables filter (isolated) and the proxy (allowlist) both decide from here.
 */
import { BlockList, isIP } from "node:net";
import { networkInterfaces } from "node:os";

export type NetworkMode = "isolated" | "allowlist" | "none";

export const BLOCKED_V4 = [
  "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
  "192.0.0.0/24", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4",
];
// IPv4-mapped addresses are blocked whole: they would carry a v4 address past the v4 rules.
export const BLOCKED_V6 = ["::/127", "::ffff:0:0/96", "64:ff9b::/96", "fc00::/7", "fe80::/10", "ff00::/8"];

export interface Cidr {
  address: string;
  prefix: number;
  family: 4 | 6;
}

/** "a.b.c.d/n", "x::y/n", or a single address; undefined when it is neither. */
export function parseCidr(text: string): Cidr | undefined {
  const [address = "", prefixText, ...rest] = text.trim().split("/");
  const family = isIP(address);
  if (rest.length || (family !== 4 && family !== 6)) return undefined;
  const max = family === 4 ? 32 : 128;
  if (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  return prefix <= max ? { address, prefix, family } : undefined;
}

const DOMAIN = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** A domain entry: `registry.npmjs.org` (that name), `*.github.com` (every name below it). */
export const isDomainPattern = (text: string) => text.length <= 253 && DOMAIN.test(text) && isIP(text) === 0;

export function domainAllowed(patterns: readonly string[], host: string): boolean {
  const name = host.toLowerCase().replace(/\.$/, "");
  return patterns.some((p) => (p.startsWith("*.") ? name.endsWith(p.slice(1)) : name === p));
}

/** This host's own addresses (every interface): a sandbox must not reach a service listening on them. */
export function hostAddresses(): string[] {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) out.add(a.address.replace(/%.*$/, ""));
  return [...out];
}

export interface EgressPolicy {
  mode: NetworkMode;
  /** allowlist: names the proxy lets through. */
  allowDomains: string[];
  /** Exceptions to the blocked ranges (and, in allowlist mode, addresses reachable by number). */
  allowCidrs: Cidr[];
  /** This host's addresses, read when the policy is made. */
  hostAddresses: string[];
}

export function makePolicy(o: { mode: NetworkMode; allowDomains?: string[]; allowCidrs?: string[]; hostAddresses?: string[] }): EgressPolicy {
  const allowCidrs = (o.allowCidrs ?? []).map((text) => {
    const cidr = parseCidr(text);
    if (!cidr) throw new TypeError(`not an address or CIDR: ${JSON.stringify(text)}`);
    return cidr;
  });
  return {
    mode: o.mode,
    allowDomains: (o.allowDomains ?? []).map((d) => d.toLowerCase()),
    allowCidrs,
    hostAddresses: o.hostAddresses ?? hostAddresses(),
  };
}

function blockList(cidrs: Iterable<Cidr>): BlockList {
  const list = new BlockList();
  for (const c of cidrs) list.addSubnet(c.address, c.prefix, c.family === 4 ? "ipv4" : "ipv6");
  return list;
}

const cidrs = (texts: string[]) => texts.map((t) => parseCidr(t)!);

export function inAllowedCidrs(policy: EgressPolicy, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && blockList(policy.allowCidrs).check(address, family === 4 ? "ipv4" : "ipv6");
}

/** Whether an address the sandbox would reach is off limits, and why. */
export function addressVerdict(policy: EgressPolicy, address: string): { allowed: true } | { allowed: false; why: string } {
  const family = isIP(address);
  if (!family) return { allowed: false, why: "not an address" };
  const type = family === 4 ? "ipv4" : "ipv6";
  if (inAllowedCidrs(policy, address)) return { allowed: true };
  if (policy.hostAddresses.includes(address)) return { allowed: false, why: `${address} is an address of this machine` };
  if (blockList(cidrs(family === 4 ? BLOCKED_V4 : BLOCKED_V6)).check(address, type))
    return { allowed: false, why: `${address} is a private, loopback or link-local address` };
  return { allowed: true };
}

/** Host addresses the blocked ranges do not already cover (an nftables interval set refuses overlaps). */
export function extraHostAddresses(policy: EgressPolicy): Cidr[] {
  const v4 = blockList(cidrs(BLOCKED_V4));
  const v6 = blockList(cidrs(BLOCKED_V6));
  const out: Cidr[] = [];
  for (const address of policy.hostAddresses) {
    const family = isIP(address);
    if (family === 4 && !v4.check(address, "ipv4")) out.push({ address, prefix: 32, family });
    if (family === 6 && !v6.check(address, "ipv6")) out.push({ address, prefix: 128, family });
  }
  return out;
}
