/**
 * Outbound network for `isolated` mode: slirp4netns gives the sandbox's own network
 * namespace a user-mode TCP/IP stack with the host's loopback unreachable
 * (`--disable-host-loopback`; the OpenCode server listens there). It enters the
 * sandbox's user and network namespaces, and ends when this process does: it watches a pipe we hold (`--exit-fd`).
 * It runs as the caller (root or the user): /dev/net/tun is often not open to the
 * sandbox's own uid. `--enable-sandbox --enable-seccomp` confine slirp4netns itself.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { SandboxError } from "../provider.js";

export interface Slirp {
  child: ChildProcess;
  stop(): void;
}

/**
 * slirp4netns holds one descriptor per connection of the sandbox: a small limit keeps
 * a flood of connections from pinning host sockets (their buffers are capped by the
 * sandbox's cgroup, which slirp4netns joins before it starts).
 */
export const SLIRP_MAX_OPEN_FILES = 512;

// Joins the sandbox's cgroups and lowers its own fd limit, then becomes slirp4netns.
const SLIRP_LAUNCHER = `IFS='
'
for f in $OCSB_CGROUPS; do echo $$ > "$f" || exit 1; done
ulimit -n "$OCSB_NOFILE" || exit 1
exec "$@"`;

export function startSlirp(opts: { slirp4netns: string; initPid: number; id: string; cgroupProcs?: string[] }): Promise<Slirp> {
  const ns = `/proc/${opts.initPid}/ns`;
  const slirpArgs = [
    "--configure", "--mtu=65520", "--disable-host-loopback",
    "--enable-sandbox", "--enable-seccomp",
    "--exit-fd=3", "--ready-fd=4",
    // As root it enters the network namespace directly: the sandbox's processes sit in a
    // nested user namespace (bwrap --disable-userns) that does not own it.
    ...(process.getuid?.() === 0 ? [] : [`--userns-path=${ns}/user`]),
    "--netns-type=path", `${ns}/net`, "tap0",
  ];
  const child = spawn("/bin/sh", ["-c", SLIRP_LAUNCHER, "slirp-launcher", opts.slirp4netns, ...slirpArgs], {
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", OCSB_CGROUPS: (opts.cgroupProcs ?? []).join("\n"), OCSB_NOFILE: String(SLIRP_MAX_OPEN_FILES) },
    stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"],
  });
  const exitPipe = child.stdio[3] as Writable;
  const ready = child.stdio[4] as Readable;
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr.length < 4096 ? (stderr += c.toString()) : undefined));
  const stop = () => {
    exitPipe.destroy();
    try {
      child.kill("SIGKILL");
    } catch {}
  };
  return new Promise<Slirp>((resolve, reject) => {
    const timer = setTimeout(() => fail("timed out"), 10_000);
    const fail = (why: string) => {
      clearTimeout(timer);
      stop();
      reject(new SandboxError("unavailable", `slirp4netns failed for sandbox ${opts.id}: ${why} ${stderr.trim()}`.trim()));
    };
    ready.once("data", () => {
      clearTimeout(timer);
      child.removeAllListeners("exit");
      child.unref();
      for (const s of [child.stderr, ready, exitPipe] as Array<{ unref?: () => void } | null>) s?.unref?.();
      resolve({ child, stop });
    });
    child.once("exit", (code, signal) => fail(`exited (${signal ?? code})`));
    child.once("error", (e) => fail(e.message));
  });
}
