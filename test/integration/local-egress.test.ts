/**
 * Egress of a real local sandbox, attacked from inside and judged from outside — all
 * inside network namespaces this test makes (test/support/egress-net.ts), so no packet
 * leaves the machine. The provider runs under Bun (OpenCode's runtime) in the test's
 * "host" namespace; listeners on the "LAN", the metadata address and the host's own
 * addresses record every connection they accept, and must see none.
 *   isolated  — the internet (a TEST-NET address) answers, names resolve through a
 *               private resolver; LAN, metadata, every host address and slirp's
 *               host-loopback are refused; the rules cannot be changed from inside;
 *               local.allowCidrs opens exactly what it names.
 *   allowlist — no route out; an allowed name answers through the host's proxy (plain
 *               HTTP and CONNECT); a name not listed, a listed name resolving to a private
 *               address, bare addresses and metadata are refused with a clear 403, logged,
 *               and told once per session and domain as a toast.
 * Runs as root only (it makes namespaces); CI runs as root.
 */
import { execFileSync, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { installFilter, TABLE } from "../../.opencode/plugin/sandbox/providers/local/egress-filter.js";
import { makePolicy } from "../../.opencode/plugin/sandbox/providers/local/egress-policy.js";
import { until } from "../support/until.js";
import { chmod, chown, mkdir, mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { egressNet, HOST_PORT, LAN, METADATA, PUBLIC, WORLD_PORT, type Connection, type EgressNet } from "../support/egress-net.js";
import { lacks, missingBwrap, missingCommand, missingRoot } from "../support/prereq.js";

const OPENCODE = join(process.cwd(), "node_modules/opencode-linux-x64/bin/opencode");
/** An ordinary user for the run as non-root (as in local-unprivileged.test.ts). */
const USER = 65534;

interface ChildOut {
  results: Record<string, string>;
  events: { host: string; port: number; why: string; option: string; labels: Record<string, string> }[];
  toasts: string[];
  log: string[];
  ms: number;
  error?: string;
  /** What the listeners saw while this child ran. */
  seen: Connection[];
}

const get = (url: string, extra = "") => `curl -sS -m 20 ${extra} ${url} 2>&1; echo " rc=$?"`;
// A DNS query sent straight to the LAN resolver (not through slirp's forwarder): it must never arrive.
const directDns = `python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
q = bytes([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 6]) + b'direct' + bytes([4]) + b'test' + bytes([0, 0, 1, 0, 1])
try:
    s.sendto(q, ('${LAN}', 53)); print('SENT')
except OSError as e:
    print('REFUSED', e)
" 2>&1`;

describe("local sandbox egress, in namespaces the test makes", () => {
  if (lacks(missingRoot(), missingBwrap(), missingCommand("ip"), missingCommand("nft"), missingCommand("slirp4netns"), missingCommand("curl"), missingCommand("python3")))
    return;

  let net: EgressNet;
  let base: string;
  let runs = 0;

  beforeAll(async () => {
    net = await egressNet();
    base = await mkdtemp("/tmp/ocsb-egress-");
    await chmod(base, 0o755);
  }, 60_000);
  afterAll(async () => {
    net?.close();
    if (base) await rm(base, { recursive: true, force: true });
  });

  async function run(input: { network: string; allowDomains?: string[]; allowCidrs?: string[]; probes: Record<string, string>; asUser?: boolean }): Promise<ChildOut> {
    const before = net.events.length;
    const home = join(base, `run-${++runs}`);
    await mkdir(home, { mode: 0o755 });
    if (input.asUser) await chown(home, USER, USER);
    // As the user: /dev/net/tun opened to it as on most machines (mode 0666), in this mount namespace only.
    const tun = join(home, "tun");
    const as = input.asUser
      ? ["sh", "-c", `mknod -m 666 ${tun} c 10 200 && mount --bind ${tun} /dev/net/tun && exec setpriv --reuid=${USER} --regid=${USER} --clear-groups -- "$@"`, "as-user"]
      : [];
    return new Promise((resolve, reject) => {
      const child = spawn("ip", ["netns", "exec", net.host, ...as, OPENCODE, "test/support/egress-child.ts"], {
        env: { PATH: process.env.PATH, HOME: home, BUN_BE_BUN: "1", OCSB_EGRESS: JSON.stringify({ root: join(home, "sandboxes"), ...input }) },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      let err = "";
      child.stdout.on("data", (c) => (out += c));
      child.stderr.on("data", (c) => (err += c));
      // Only a hang reaches this bound.
      const timer = setTimeout(() => child.kill("SIGKILL"), 240_000);
      child.on("close", () => {
        clearTimeout(timer);
        try {
          const parsed = JSON.parse(out.trim().split("\n").pop()!) as ChildOut;
          if (parsed.error) throw new Error(`${parsed.error}\n${parsed.log?.join("\n")}`);
          resolve({ ...parsed, seen: net.events.slice(before).filter((e) => e.event === "conn") });
        } catch (error) {
          reject(new Error(`egress child failed: ${(error as Error).message}\nstdout: ${out}\nstderr: ${err}`));
        }
      });
    });
  }

  describe('network "isolated"', () => {
    let r: ChildOut;
    beforeAll(async () => {
      r = await run({
        network: "isolated",
        probes: {
          public: get(`http://${PUBLIC}:${WORLD_PORT}/`),
          resolve: "getent hosts allowed.test",
          byName: get(`http://allowed.test:${WORLD_PORT}/`),
          lan: get(`http://${LAN}:${WORLD_PORT}/`),
          metadata: get(`http://${METADATA}/`),
          hostPublic: get(`http://198.51.100.1:${HOST_PORT}/`),
          hostLan: get(`http://192.168.77.1:${HOST_PORT}/`),
          hostLinkLocal: get(`http://169.254.1.1:${HOST_PORT}/`),
          hostLoopback: get(`http://10.0.2.2:${HOST_PORT}/`),
          directDns,
          tamper: `nft flush ruleset 2>&1; echo " rc=$?"; ${get(`http://${LAN}:${WORLD_PORT}/`)}`,
        },
      });
    }, 300_000);

    it.each([
      ["a public address", "public"],
      ["a name, resolved by slirp's forwarder through the host's private resolver", "byName"],
    ])("reaches %s", (_what, probe) => {
      expect(r.results[probe]).toContain("public-OK");
    });

    it("resolves names (the host's resolver sits at a private address)", () => {
      expect(r.results.resolve).toContain(PUBLIC);
    });

    it.each([
      ["the LAN", "lan"],
      ["the cloud metadata endpoint", "metadata"],
      ["the host's public address", "hostPublic"],
      ["the host's LAN address", "hostLan"],
      ["the host's link-local address", "hostLinkLocal"],
      ["the host's loopback through slirp (10.0.2.2)", "hostLoopback"],
    ])("cannot reach %s: refused at once", (_what, probe) => {
      expect(r.results[probe]).not.toContain("-OK");
      expect(r.results[probe]).toMatch(/No route to host|Couldn't connect|Failed to connect/);
    });

    it("cannot send UDP to a private address either", () => {
      expect(r.results.directDns).toContain("REFUSED");
      expect(net.events.filter((e) => e.event === "dns" && e.name === "direct.test")).toEqual([]);
    });

    it("cannot change the rules from inside", () => {
      expect(r.results.tamper).toMatch(/Operation not permitted/);
      expect(r.results.tamper).not.toContain("lan-OK");
    });

    it("the listeners on the LAN, metadata and host addresses saw nothing; the public one answered", () => {
      expect(r.seen.filter((c) => c.name !== "public")).toEqual([]);
      expect(r.seen.filter((c) => c.name === "public").length).toBeGreaterThanOrEqual(2);
    });
  });

  describe('network "isolated" with local.allowCidrs', () => {
    let r: ChildOut;
    beforeAll(async () => {
      r = await run({
        network: "isolated",
        allowCidrs: [`${LAN}/32`],
        probes: { lan: get(`http://${LAN}:${WORLD_PORT}/`), metadata: get(`http://${METADATA}/`), hostLan: get(`http://192.168.77.1:${HOST_PORT}/`) },
      });
    }, 300_000);

    it("opens exactly what it names", () => {
      expect(r.results.lan).toContain("lan-OK");
      expect(r.results.metadata).not.toContain("-OK");
      expect(r.results.hostLan).not.toContain("-OK");
      expect(r.seen.map((c) => c.name)).toEqual(["lan"]);
    });
  });

  describe('network "allowlist"', () => {
    let r: ChildOut;
    beforeAll(async () => {
      r = await run({
        network: "allowlist",
        allowDomains: ["allowed.test", "rebind.test"],
        probes: {
          env: 'echo "$HTTPS_PROXY $HTTP_PROXY"',
          viaProxy: get(`http://allowed.test:${WORLD_PORT}/`),
          tunnel: get(`http://allowed.test:${WORLD_PORT}/`, "-p"),
          blocked: get(`http://blocked.test:${WORLD_PORT}/`),
          blockedAgain: get(`http://blocked.test:${WORLD_PORT}/x`),
          blockedTunnel: get(`http://blocked.test:${WORLD_PORT}/`, "-p -v"),
          rebind: get(`http://rebind.test:${WORLD_PORT}/`),
          literal: get(`http://${PUBLIC}:${WORLD_PORT}/`),
          metadata: get(`http://${METADATA}/`),
          direct: get(`http://${PUBLIC}:${WORLD_PORT}/`, "--noproxy '*'"),
          directLan: get(`http://${LAN}:${WORLD_PORT}/`, "--noproxy '*'"),
          resolve: 'getent hosts allowed.test; echo " rc=$?"',
          directDns,
        },
      });
    }, 300_000);

    it("points the sandbox's HTTP clients at its proxy", () => {
      expect(r.results.env.trim()).toBe("http://127.0.0.1:3128 http://127.0.0.1:3128");
    });

    it.each([
      ["plain HTTP", "viaProxy"],
      ["a CONNECT tunnel", "tunnel"],
    ])("an allowed name answers through the proxy (%s)", (_what, probe) => {
      expect(r.results[probe]).toContain("public-OK");
    });

    it.each([
      ["a name not in the list", "blocked", "blocked.test is not in local.allowDomains"],
      ["a listed name resolving to a private address", "rebind", `rebind.test resolves to ${LAN} is a private`],
      ["a bare address", "literal", `${PUBLIC} is an address, not an allowed domain`],
      ["the metadata endpoint by number", "metadata", `${METADATA} is an address`],
    ])("refuses %s with a clear message", (_what, probe, message) => {
      expect(r.results[probe]).toContain("Blocked by the sandbox's egress allow-list");
      expect(r.results[probe]).toContain(message);
      expect(r.results[probe]).not.toContain("-OK");
    });

    it("refuses a CONNECT to a name not in the list (403)", () => {
      expect(r.results.blockedTunnel).toMatch(/403/);
      expect(r.results.blockedTunnel).not.toContain("public-OK");
    });

    it.each([
      ["a public address", "direct"],
      ["the LAN", "directLan"],
    ])("has no direct route to %s", (_what, probe) => {
      expect(r.results[probe]).not.toContain("-OK");
      expect(r.results[probe]).toMatch(/rc=7/);
    });

    it("has no resolver of its own, and no UDP way out", () => {
      expect(r.results.resolve).not.toContain(PUBLIC);
      expect(r.results.directDns).toContain("REFUSED");
    });

    it("logs each refusal, and tells the session once per domain with the option to set", () => {
      expect(r.log.filter((l) => l.includes("egress blocked: blocked.test:8080"))).toHaveLength(3);
      expect(r.events.filter((e) => e.host === "blocked.test")).toHaveLength(3);
      expect(r.events.every((e) => e.labels.session === "ses_egress")).toBe(true);
      const aboutBlocked = r.toasts.filter((t) => t.includes("blocked.test"));
      expect(aboutBlocked).toHaveLength(1);
      expect(aboutBlocked[0]).toContain("local.allowDomains");
      expect(r.toasts.find((t) => t.includes("rebind.test"))).toContain("local.allowCidrs");
    });

    it("the listeners saw only the proxy's allowed connections", () => {
      expect(r.seen.filter((c) => c.name !== "public")).toEqual([]);
      expect(r.seen.filter((c) => c.name === "public")).toHaveLength(2);
    });
  });
});

/**
 * As an ordinary user the filter is installed by the namespace's owner through the
 * python3 helper (nsenter → nft would lose the capability). Judged from the host: the
 * rules are in the sandbox's namespace, and a process of the sandbox cannot remove
 * them. (End to end as an ordinary user needs slirp4netns to start as one; see the report.)
 */
describe("the egress filter installed by an ordinary user who owns the sandbox's namespaces", () => {
  if (lacks(missingRoot(), missingBwrap(), missingCommand("setpriv"), missingCommand("nft"), missingCommand("nsenter"), missingCommand("python3"))) return;

  it("is in place, and the sandbox cannot flush it", async () => {
    const base = await mkdtemp("/tmp/ocsb-egress-owner-");
    await chmod(base, 0o755);
    const asUser = ["setpriv", `--reuid=${USER}`, `--regid=${USER}`, "--clear-groups", "--"];
    const sandbox = spawn(asUser[0]!, [...asUser.slice(1), "bwrap", "--unshare-user", "--unshare-net", "--unshare-pid", "--die-with-parent", "--cap-drop", "ALL", "--ro-bind", "/", "/", "--info-fd", "3", "sleep", "300"], {
      stdio: ["ignore", "ignore", "pipe", "pipe"],
    });
    try {
      let info = "";
      sandbox.stdio[3]!.on("data", (c: Buffer) => (info += c.toString()));
      await until(() => /"child-pid"\s*:\s*\d+/.test(info), "bwrap's child pid", 30_000);
      const pid = Number(/"child-pid"\s*:\s*(\d+)/.exec(info)![1]);
      // The helper runs as that user, exactly as the provider runs it when OpenCode is that user.
      const helper = join(base, "python-as-user");
      await writeFile(helper, `#!/bin/sh\nexec ${asUser.join(" ")} /usr/bin/python3 "$@"\n`, { mode: 0o755 });
      const nft = execFileSync("sh", ["-c", "command -v nft || echo /usr/sbin/nft"]).toString().trim();
      await installFilter({ nft, initPid: pid, policy: makePolicy({ mode: "isolated", hostAddresses: ["203.0.113.9"] }), id: "owner-test", python: helper });

      const rules = execFileSync("nsenter", [`--net=/proc/${pid}/ns/net`, "--", nft, "list", "table", "inet", TABLE]).toString();
      expect(rules).toContain("169.254.0.0/16");
      expect(rules).toContain("203.0.113.9");
      // A process of the sandbox: its user, in its user and network namespaces.
      const tamper = spawn(asUser[0]!, [...asUser.slice(1), "nsenter", `--target=${pid}`, "--user", "--net", "--preserve-credentials", "--", nft, "flush", "ruleset"], { stdio: ["ignore", "ignore", "pipe"] });
      let err = "";
      tamper.stderr!.on("data", (c: Buffer) => (err += c));
      const code = await new Promise<number | null>((r) => tamper.on("close", r));
      expect(code).not.toBe(0);
      expect(err).toMatch(/Operation not permitted/);
      expect(execFileSync("nsenter", [`--net=/proc/${pid}/ns/net`, "--", nft, "list", "table", "inet", TABLE]).toString()).toBe(rules);
    } finally {
      sandbox.kill("SIGKILL");
      await rm(base, { recursive: true, force: true });
    }
  }, 120_000);
});
