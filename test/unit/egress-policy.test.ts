/**
 * The egress policy as data: which addresses a sandbox may reach, which names the
 * allow-list admits, the nftables ruleset made from it, the options that set it (with
 * clear errors), the sandbox's proxy environment and the notice's words.
 */
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../.opencode/plugin/sandbox/config.js";
import { egressEnv } from "../../.opencode/plugin/sandbox/providers/local/egress.js";
import { filterRules } from "../../.opencode/plugin/sandbox/providers/local/egress-filter.js";
import { addressVerdict, domainAllowed, isDomainPattern, makePolicy, parseCidr } from "../../.opencode/plugin/sandbox/providers/local/egress-policy.js";
import { egressNotice, words } from "../../.opencode/plugin/sandbox/service/notices.js";

const policy = makePolicy({ mode: "isolated", allowCidrs: ["192.168.1.0/24"], hostAddresses: ["203.0.113.5", "192.168.1.10", "2001:db8::5"] });

describe("addresses", () => {
  it.each([
    ["8.8.8.8", true],
    ["198.51.100.7", true],
    ["10.1.2.3", false],
    ["172.20.0.1", false],
    ["192.168.77.7", false],
    ["100.64.0.1", false],
    ["127.0.0.1", false],
    ["169.254.169.254", false],
    ["10.0.2.2", false],
    ["224.0.0.1", false],
    ["203.0.113.5", false], // this machine's own public address
    ["2001:db8::5", false], // and its IPv6 one
    ["fd00::1", false],
    ["fe80::1", false],
    ["::1", false],
    ["::ffff:127.0.0.1", false],
    ["2606:4700::1111", true],
    ["192.168.1.10", true], // allowCidrs wins, even over a host address
  ])("%s reachable: %s", (address, reachable) => {
    expect(addressVerdict(policy, address).allowed).toBe(reachable);
  });

  it.each([
    ["10.0.0.0/8", { address: "10.0.0.0", prefix: 8, family: 4 }],
    ["192.168.1.7", { address: "192.168.1.7", prefix: 32, family: 4 }],
    ["fd00::/8", { address: "fd00::", prefix: 8, family: 6 }],
    ["10.0.0.0/33", undefined],
    ["10.0.0/8", undefined],
    ["example.com", undefined],
    ["10.0.0.0/8/8", undefined],
  ])("parseCidr(%j)", (text, cidr) => {
    expect(parseCidr(text)).toEqual(cidr);
  });
});

describe("domains", () => {
  it.each([
    [["registry.npmjs.org"], "registry.npmjs.org", true],
    [["registry.npmjs.org"], "REGISTRY.npmjs.org.", true],
    [["registry.npmjs.org"], "evil-registry.npmjs.org", false],
    [["registry.npmjs.org"], "registry.npmjs.org.evil.com", false],
    [["*.github.com"], "api.github.com", true],
    [["*.github.com"], "github.com", false],
    [["*.github.com"], "evilgithub.com", false],
    [[], "anything.com", false],
  ])("%j admits %s: %s", (patterns, host, admitted) => {
    expect(domainAllowed(patterns, host)).toBe(admitted);
  });

  it.each([
    ["registry.npmjs.org", true],
    ["*.github.com", true],
    ["github.*", false],
    ["http://github.com", false],
    ["10.0.0.1", false],
    ["", false],
  ])("%j is a domain pattern: %s", (text, ok) => {
    expect(isDomainPattern(text)).toBe(ok);
  });
});

describe("the nftables ruleset", () => {
  const rules = filterRules(policy);
  it.each([
    ["DNS to slirp's resolver is let through first", /ip daddr 10\.0\.2\.3 meta l4proto \{ tcp, udp \} th dport 53 accept/],
    ["the user's exceptions", /set allow4 \{[^}]*192\.168\.1\.0\/24/],
    ["private and link-local ranges", /set block4 \{[^}]*10\.0\.0\.0\/8[^}]*169\.254\.0\.0\/16[^}]*192\.168\.0\.0\/16/],
    ["this machine's public address", /set block4 \{[^}]*203\.0\.113\.5\/32/],
    ["unique-local and link-local IPv6", /set block6 \{[^}]*fc00::\/7[^}]*fe80::\/10[^}]*2001:db8::5\/128/],
    ["a refusal the sender sees at once", /ip daddr @block4 counter reject with icmpx type admin-prohibited/],
  ])("has %s", (_what, pattern) => {
    expect(rules).toMatch(pattern);
  });

  it("lets exceptions through before anything is blocked", () => {
    expect(rules.indexOf("@allow4 accept")).toBeLessThan(rules.indexOf("@block4"));
  });
});

describe("options", () => {
  it("takes the allowlist mode with domains and CIDRs", () => {
    const c = loadConfig({ options: { local: { network: "allowlist", allowDomains: ["registry.npmjs.org", "*.github.com"], allowCidrs: ["192.168.1.0/24"] } }, env: {} });
    expect(c.local).toMatchObject({ network: "allowlist", allowDomains: ["registry.npmjs.org", "*.github.com"], allowCidrs: ["192.168.1.0/24"] });
    expect(loadConfig({ options: {}, env: {} }).local).toMatchObject({ network: "isolated", allowDomains: [], allowCidrs: [] });
  });

  it.each([
    [{ local: { allowDomains: ["https://npmjs.org"] } }, 'option "local.allowDomains.0" is "https://npmjs.org"; expected a domain such as registry.npmjs.org'],
    [{ local: { allowCidrs: ["192.168.1.0/40"] } }, 'option "local.allowCidrs.0" is "192.168.1.0/40"; expected a CIDR such as 192.168.1.0/24'],
    [{ local: { network: "open" } }, 'option "local.network" is "open"; expected one of "isolated", "allowlist", "none"'],
    [{ daytona: { domainAllowList: ["*"] } }, 'option "daytona.domainAllowList.0" is "*"; expected a domain'],
  ])("refuses %j naming the option", (options, message) => {
    expect(() => loadConfig({ options, env: {} })).toThrow(ConfigError);
    expect(() => loadConfig({ options, env: {} })).toThrow(message);
  });
});

describe("the sandbox's side", () => {
  it.each([
    ["allowlist", "http://127.0.0.1:3128"],
    ["isolated", undefined],
    ["none", undefined],
  ] as const)("%s: HTTPS_PROXY %s", (mode, url) => {
    const env = egressEnv(mode);
    expect(env.HTTPS_PROXY).toBe(url);
    expect(env.https_proxy).toBe(url);
    if (url) expect(env.NO_PROXY).toContain("127.0.0.1");
  });

  it("a refused connection is told to its session, once per domain, naming the option", () => {
    const e = { sandboxId: "sb1", labels: { session: "ses_1" }, host: "evil.test", why: "evil.test is not in local.allowDomains", option: "local.allowDomains" };
    const w = words(egressNotice(e))!;
    expect(w.text).toContain("evil.test");
    expect(w.text).toContain("local.allowDomains");
    expect(w.level).toBe("warning");
    expect(words(egressNotice({ ...e, why: "again" }))!.once).toBe(w.once);
    expect(words(egressNotice({ ...e, host: "other.test" }))!.once).not.toBe(w.once);
    expect(words(egressNotice({ ...e, labels: { session: "ses_2" } }))!.once).not.toBe(w.once);
  });
});
