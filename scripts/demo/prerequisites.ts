/**
 * What the local sandbox needs on this machine, and what to do when something is
 * missing: install it (root with apt-get), or name the one command to run. The
 * decision is a pure function of the facts, so it is tested without a machine.
 */
import { accessSync, constants } from "node:fs";
import { which } from "../../.opencode/plugin/sandbox/providers/local/preflight.js";

/** A command the demo needs, and the Debian/Ubuntu package that brings it. */
export interface Need {
  command: string;
  pkg: string;
}

/** Always: the sandbox, and git for the branches. */
export const NEEDS: Need[] = [
  { command: "bwrap", pkg: "bubblewrap" },
  { command: "git", pkg: "git" },
];

/** Network "isolated": slirp4netns for the route out, nftables for the filter that keeps this machine out of reach. */
export const ISOLATED_NEEDS: Need[] = [
  { command: "slirp4netns", pkg: "slirp4netns" },
  { command: "nft", pkg: "nftables" },
];

/** As root each sandbox runs as its own uid: setpriv and unshare (util-linux), mount. */
export const ROOT_NEEDS: Need[] = [
  { command: "setpriv", pkg: "util-linux" },
  { command: "unshare", pkg: "util-linux" },
  { command: "mount", pkg: "mount" },
];

export interface HostFacts {
  platform: NodeJS.Platform;
  root: boolean;
  /** Whether /dev/net/tun opens (slirp4netns needs it). */
  tunOpen: boolean;
  /** Whether a command is installed. */
  has: (command: string) => boolean;
}

export type Plan =
  | { kind: "ready" }
  /** Root on Debian/Ubuntu: the demo installs the packages itself, after saying so. */
  | { kind: "install"; packages: string[]; commands: string[][] }
  /** Someone else has to: the one command to run, then the demo again. */
  | { kind: "tell"; packages: string[]; command: string }
  | { kind: "unsupported"; message: string };

export function plan(facts: HostFacts): Plan {
  if (facts.platform !== "linux")
    return { kind: "unsupported", message: `the local sandbox needs Linux (bubblewrap); this is ${facts.platform}. Use Daytona instead (see the README).` };
  const needs = [...NEEDS, ...(networkFor(facts).network === "isolated" ? ISOLATED_NEEDS : []), ...(facts.root ? ROOT_NEEDS : [])];
  const packages = [...new Set(needs.filter((n) => !facts.has(n.command)).map((n) => n.pkg))];
  if (packages.length === 0) return { kind: "ready" };
  if (!facts.has("apt-get")) return { kind: "tell", packages, command: `install ${packages.join(" ")} with your package manager` };
  if (facts.root)
    return {
      kind: "install",
      packages,
      // A fresh machine (or container) may have no package lists yet.
      commands: [["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "--no-install-recommends", ...packages]],
    };
  return { kind: "tell", packages, command: `sudo apt-get install -y ${packages.join(" ")}` };
}

/**
 * The sandbox's network mode: "isolated" (slirp4netns) needs /dev/net/tun, which root
 * always opens; an ordinary user may not (mode 0600 on some machines). The demo's app
 * needs no network, and previews work in both modes.
 */
export function networkFor(facts: { root: boolean; tunOpen: boolean }): { network: "isolated" | "none"; why?: string } {
  if (facts.root || facts.tunOpen) return { network: "isolated" };
  return { network: "none", why: "/dev/net/tun is not open to this user, so the sandbox gets no network (the app needs none; previews work either way)" };
}

/** Node under /usr, where the sandbox can see it: the demo's app runs on it. */
export function sandboxNode(exists: (path: string) => boolean): string | undefined {
  return ["/usr/bin/node", "/usr/local/bin/node"].find(exists);
}

export function hostFacts(): HostFacts {
  return {
    platform: process.platform,
    root: process.getuid?.() === 0,
    // An ordinary user's PATH often lacks the sbin directories (nft lives there).
    has: (command) => which(command) !== null || ["/usr/sbin", "/sbin"].some((dir) => canOpen(`${dir}/${command}`, constants.X_OK)),
    tunOpen: canOpen("/dev/net/tun"),
  };
}

export function canOpen(path: string, mode = constants.R_OK | constants.W_OK): boolean {
  try {
    accessSync(path, mode);
    return true;
  } catch {
    return false;
  }
}
