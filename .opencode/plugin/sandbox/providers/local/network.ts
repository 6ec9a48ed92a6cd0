/**
 * Outbound network for `isolated` mode: slirp4netns gives the sandbox's own network
 * namespace a user-mode TCP/IP stack with the host's loopback unreachable
 * (`--disable-host-loopback`; the OpenCode server listens there). It runs as the
 * sandbox's host uid, entering the sandbox's user namespace for the rights it
 * needs, and ends when this process does: it watches a pipe we hold (`--exit-fd`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { SandboxError } from "../provider.js";

export interface Slirp {
  child: ChildProcess;
  stop(): void;
}

export function startSlirp(opts: { slirp4netns: string; initPid: number; uid: number; gid: number; dropPrivileges: boolean; id: string }): Promise<Slirp> {
  const ns = `/proc/${opts.initPid}/ns`;
  const slirpArgs = [
    "--configure", "--mtu=65520", "--disable-host-loopback",
    "--enable-sandbox", "--enable-seccomp",
    "--exit-fd=3", "--ready-fd=4",
    `--userns-path=${ns}/user`, "--netns-type=path", `${ns}/net`, "tap0",
  ];
  const [command, args] = opts.dropPrivileges
    ? ["setpriv", [`--reuid=${opts.uid}`, `--regid=${opts.gid}`, "--clear-groups", "--", opts.slirp4netns, ...slirpArgs]]
    : [opts.slirp4netns, slirpArgs];
  const child = spawn(command as string, args as string[], {
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
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
