/**
 * `npm run demo`'s decisions without a machine: what it installs as root, the one
 * command it names to an ordinary user, the network mode it picks, and its step lines.
 */
import { describe, expect, it } from "vitest";
import { networkFor, plan, sandboxNode, type HostFacts } from "../../scripts/demo/prerequisites.js";
import { Steps } from "../../scripts/demo/steps.js";

const ALL = ["bwrap", "slirp4netns", "nft", "git", "setpriv", "unshare", "mount", "apt-get"];
const facts = (root: boolean, missing: string[], { tunOpen = true, platform = "linux" as NodeJS.Platform } = {}): HostFacts => ({
  platform,
  root,
  tunOpen,
  has: (c) => ALL.includes(c) && !missing.includes(c),
});
const apt = (...pkgs: string[]) => [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", ...pkgs]];

describe("demo prerequisites: the plan", () => {
  it.each([
    ["everything there, root", facts(true, []), { kind: "ready" }],
    ["everything there, user", facts(false, []), { kind: "ready" }],
    ["root without bwrap, slirp4netns, nft: installs them", facts(true, ["bwrap", "slirp4netns", "nft"]), { kind: "install", packages: ["bubblewrap", "slirp4netns", "nftables"], commands: apt("bubblewrap", "slirp4netns", "nftables") }],
    ["root without setpriv and unshare: util-linux once", facts(true, ["setpriv", "unshare"]), { kind: "install", packages: ["util-linux"], commands: apt("util-linux") }],
    ["user without bwrap: the one sudo command", facts(false, ["bwrap"]), { kind: "tell", packages: ["bubblewrap"], command: "sudo apt-get install -y bubblewrap" }],
    ["user without bwrap, slirp4netns, git", facts(false, ["bwrap", "slirp4netns", "git"]), { kind: "tell", packages: ["bubblewrap", "git", "slirp4netns"], command: "sudo apt-get install -y bubblewrap git slirp4netns" }],
    ["user without /dev/net/tun: network none needs no slirp4netns or nft", facts(false, ["slirp4netns", "nft"], { tunOpen: false }), { kind: "ready" }],
    ["user without /dev/net/tun, without bwrap", facts(false, ["bwrap", "slirp4netns"], { tunOpen: false }), { kind: "tell", packages: ["bubblewrap"], command: "sudo apt-get install -y bubblewrap" }],
    ["a user needs no setpriv (sandboxes keep the user's uid)", facts(false, ["setpriv", "mount"]), { kind: "ready" }],
    ["root without apt-get: names the packages", facts(true, ["bwrap", "apt-get"]), { kind: "tell", packages: ["bubblewrap"], command: "install bubblewrap with your package manager" }],
  ])("%s", (_name, host, expected) => {
    expect(plan(host)).toEqual(expected);
  });

  it("not Linux: unsupported, naming the platform", () => {
    const p = plan(facts(false, [], { platform: "darwin" }));
    expect(p.kind).toBe("unsupported");
    expect(p.kind === "unsupported" && p.message).toMatch(/needs Linux.*darwin/);
  });
});

describe("demo prerequisites: network and node", () => {
  it.each([
    [true, false, "isolated"],
    [true, true, "isolated"],
    [false, true, "isolated"],
    [false, false, "none"],
  ] as const)("root %s, /dev/net/tun open %s → %s", (root, tunOpen, network) => {
    const chosen = networkFor({ root, tunOpen });
    expect(chosen.network).toBe(network);
    // Falling back is said, with the reason.
    expect(chosen.why === undefined).toBe(network === "isolated");
  });

  it.each([
    [["/usr/bin/node"], "/usr/bin/node"],
    [["/usr/local/bin/node"], "/usr/local/bin/node"],
    [["/root/.nvm/versions/node/v20/bin/node"], undefined],
  ])("node the sandbox sees, given %j", (present, found) => {
    expect(sandboxNode((p) => present.includes(p))).toBe(found);
  });
});

describe("demo step lines", () => {
  it("each step is timed from the one before; failures put detail under the step", () => {
    const lines: string[] = [];
    let t = 0;
    const steps = new Steps((l) => lines.push(l), () => t);
    t = 400;
    steps.ok("sandbox ready");
    t = 1900;
    steps.detail("agent: write index.html");
    steps.ok("link answers");
    t = 2000;
    steps.fail("build failed\nerror TS1\nerror TS2");
    expect(lines).toEqual(["✔ sandbox ready  0.4 s", "    agent: write index.html", "✔ link answers  1.5 s", "✖ build failed  0.1 s", "    error TS1", "    error TS2"]);
    expect(steps.total()).toBe(2);
  });
});
