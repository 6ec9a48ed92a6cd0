/**
 * Starts one sandbox: bubblewrap around the resident agent.
 *
 * As a normal user: launcher sh (cgroups, ulimit) → exec bwrap → agent, all the
 * caller's uid; bwrap keeps that uid inside its user namespace.
 *
 * As root (the uid trap: bwrap's `--uid` only relabels host root inside): the
 * launcher drops to the sandbox's own unprivileged host uid with setpriv BEFORE
 * bwrap, so every sandbox process is that uid on the host. That uid cannot traverse
 * a 0700 parent such as /root, so the launcher first enters a private mount
 * namespace and bind-mounts the sandbox's directory (agent included) over /run
 * there, and the runtime onto its mount point. The mounts live only in that
 * namespace: nothing to clean.
 *
 * The agent's stdout, stderr and bwrap's info pipe are read only until the agent is
 * ready (a few bytes, capped): then the host closes them. Any command can reach the
 * agent's descriptors, so a pipe the host kept reading would let it fill the host's
 * memory; a closed one only gives the writer EPIPE.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, lstatSync, readlinkSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { SandboxError } from "../provider.js";
import {
  AGENT_INSIDE,
  PROJECT_DIR,
  RUN_DIR_INSIDE,
  RUNTIME_INSIDE,
  SANDBOX_HOME,
  SANDBOX_PATH,
  SANDBOX_USER,
} from "./constants.js";
import type { Runtime } from "./runtime.js";
import { claimSocket } from "./socket.js";
import { seccompFilter } from "./seccomp.js";
import { EGRESS_PORT, EGRESS_SOCKET } from "./egress-proxy.js";
import type { NetworkMode } from "./egress-policy.js";

export const HOSTNAME = "sandbox";
/**
 * A bound for a hang, not an expectation: a start normally takes well under a second,
 * but on a loaded 2-core machine one took 46 s here — the deadline must not fail it.
 */
const READY_TIMEOUT_MS = 120_000;
/** What the host reads from the launcher's pipes before the agent is ready (a line or two each). */
const MAX_STARTUP_BYTES = 4096;

/** Read-only host /etc entries a toolchain needs; nothing that may hold credentials (npmrc, pip.conf, gitconfig). */
const ETC_ENTRIES = [
  "alternatives", "ssl", "ca-certificates", "ca-certificates.conf", "pki", "crypto-policies", "localtime", "timezone",
  "nsswitch.conf", "host.conf", "gai.conf", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "os-release", "debian_version",
  "lsb-release", "mime.types", "protocols", "services", "networks", "inputrc", "bash.bashrc", "profile", "perl",
  "python3", "python3.11", "python3.12", "python3.13", "java-17-openjdk", "magic", "magic.mime",
];

export interface LaunchSpec {
  id: string;
  /** Host directory of the sandbox (see store.ts). */
  dir: string;
  runtime: Runtime;
  bwrap: string;
  uid: number;
  gid: number;
  /** Drop to `uid` on the host first (we are root). */
  dropPrivileges: boolean;
  network: NetworkMode;
  cgroupProcs: string[];
  maxOpenFiles: number;
  /** Size of /tmp and /dev/shm (bwrap --size); undefined when this bwrap cannot cap a tmpfs. */
  tmpfsBytes?: number;
  /** Host path where the sandbox's disk image is mounted (root only; volume.ts), or undefined. */
  volume?: string;
  /** Where the agent binds its socket, and where the host moves it once the agent is ready (socket.ts). */
  socket: { bound: string; host: string };
  /** Called as soon as the sandbox's namespaces exist (host pid of its init), before the agent is up. */
  onInit?: (initPid: number) => void;
}

export interface Launched {
  child: ChildProcess;
  /** Host pid of the sandbox's init (its namespaces). */
  initPid: number;
  /** Resolves with a description of how it ended. */
  exited: Promise<string>;
}

async function writeEtc(spec: LaunchSpec) {
  const etc = join(spec.dir, "etc");
  await mkdir(etc, { recursive: true, mode: 0o755 });
  const shell = existsSync("/usr/bin/bash") || existsSync("/bin/bash") ? "/bin/bash" : "/bin/sh";
  const files: Record<string, string> = {
    passwd: `root:x:0:0:root:/root:/usr/sbin/nologin\n${SANDBOX_USER}:x:${spec.uid}:${spec.gid}:${SANDBOX_USER}:${SANDBOX_HOME}:${shell}\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n`,
    group: `root:x:0:\n${SANDBOX_USER}:x:${spec.gid}:\nnogroup:x:65534:\n`,
    hosts: `127.0.0.1 localhost ${HOSTNAME}\n::1 localhost ip6-localhost ip6-loopback\n`,
    hostname: `${HOSTNAME}\n`,
    // slirp4netns's built-in DNS forwarder; with no route there is nothing to ask (allowlist: the proxy resolves).
    "resolv.conf": spec.network === "isolated" ? "nameserver 10.0.2.3\n" : "",
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(etc, name), text, { mode: 0o644 });
}

function topLevelArgs(): string[] {
  const args: string[] = [];
  for (const name of ["bin", "sbin", "lib", "lib32", "lib64", "libx32"]) {
    const host = `/${name}`;
    try {
      const st = lstatSync(host);
      if (st.isSymbolicLink()) args.push("--symlink", readlinkSync(host), host);
      else if (st.isDirectory()) args.push("--ro-bind", host, host);
    } catch {}
  }
  return args;
}

/** /run holds sockets and pid files; /dev only what bwrap puts there. Both stay small. */
const RUN_TMPFS_BYTES = 16 * 1024 * 1024;
const DEV_TMPFS_BYTES = 1024 * 1024;

export function bwrapArgs(spec: LaunchSpec): string[] {
  // Every tmpfs is RAM the sandbox could fill: each one gets a size when bwrap can set it.
  const sized = (bytes: number) => (spec.tmpfsBytes === undefined ? [] : ["--size", String(bytes)]);
  // Where bwrap finds things: direct paths, or (as root) the private bind of the sandbox's directory at /run.
  const box = spec.dropPrivileges ? "/run" : spec.dir;
  const agent = `${box}/agent.cjs`;
  const runtimeVisible = spec.runtime.path.startsWith("/usr/");
  const runtimeSource = spec.dropPrivileges ? "/run/runtime" : spec.runtime.path;
  const runtimeInside = runtimeVisible ? spec.runtime.path : RUNTIME_INSIDE;

  const args = [
    "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--unshare-net",
    "--die-with-parent", "--new-session", "--clearenv", "--cap-drop", "ALL",
    "--hostname", HOSTNAME,
    "--ro-bind", "/usr", "/usr",
    ...topLevelArgs(),
    "--proc", "/proc",
    // Kernel settings stay read-only even for a process that gains privileges inside.
    "--ro-bind", "/proc/sys", "/proc/sys",
    // Not --dev: it makes bwrap nest a second user namespace (to mount devpts), and
    // slirp4netns could then not enter the network namespace as the sandbox's uid.
    ...sized(DEV_TMPFS_BYTES), "--tmpfs", "/dev",
    ...["null", "zero", "full", "random", "urandom", "tty"].flatMap((d) => ["--dev-bind", `/dev/${d}`, `/dev/${d}`]),
    "--symlink", "/proc/self/fd", "/dev/fd",
    "--symlink", "/proc/self/fd/0", "/dev/stdin",
    "--symlink", "/proc/self/fd/1", "/dev/stdout",
    "--symlink", "/proc/self/fd/2", "/dev/stderr",
    ...sized(spec.tmpfsBytes ?? 0), "--tmpfs", "/dev/shm",
    ...sized(spec.tmpfsBytes ?? 0), "--tmpfs", "/tmp",
    "--dir", "/var", "--symlink", "../tmp", "/var/tmp",
    ...sized(RUN_TMPFS_BYTES), "--tmpfs", "/run",
    "--dir", "/etc",
  ];
  for (const name of ETC_ENTRIES) if (existsSync(`/etc/${name}`)) args.push("--ro-bind", `/etc/${name}`, `/etc/${name}`);
  for (const name of ["passwd", "group", "hosts", "hostname", "resolv.conf"]) args.push("--ro-bind", `${box}/etc/${name}`, `/etc/${name}`);
  args.push(
    "--bind", `${box}/project`, PROJECT_DIR,
    "--bind", `${box}/home`, SANDBOX_HOME,
    "--bind", `${box}/run`, RUN_DIR_INSIDE,
    "--ro-bind", agent, AGENT_INSIDE,
  );
  if (!runtimeVisible) args.push("--ro-bind", runtimeSource, RUNTIME_INSIDE);
  args.push(
    "--remount-ro", "/",
    "--chdir", PROJECT_DIR,
    "--setenv", "PATH", SANDBOX_PATH,
    "--setenv", "HOME", SANDBOX_HOME,
    "--setenv", "USER", SANDBOX_USER,
    "--setenv", "LANG", "C.UTF-8",
    "--setenv", "TMPDIR", "/tmp",
  );
  if (spec.runtime.bun) args.push("--setenv", "BUN_BE_BUN", "1");
  // Less kernel (seccomp.ts): the filter comes on descriptor 4 (the launcher opens it); no user namespaces inside.
  args.push("--seccomp", String(SECCOMP_FD));
  if (disablesUserns(spec)) args.push("--disable-userns");
  args.push("--info-fd", "3", runtimeInside, AGENT_INSIDE, `${RUN_DIR_INSIDE}/agent.sock`);
  // allowlist: the agent forwards 127.0.0.1:EGRESS_PORT to the host's proxy (egress-proxy.ts).
  if (spec.network === "allowlist") args.push(`${EGRESS_PORT}:${RUN_DIR_INSIDE}/${EGRESS_SOCKET}`);
  return args;
}

const SECCOMP_FD = 4;

/**
 * bwrap's --disable-userns nests a second user namespace. An ordinary user's
 * slirp4netns cannot enter the network namespace from there (it belongs to the first),
 * so that one case relies on the seccomp filter alone, which refuses every way to make
 * a namespace (clone, clone3, unshare, setns). Root's slirp4netns enters directly.
 */
export function disablesUserns(spec: Pick<LaunchSpec, "dropPrivileges" | "network">): boolean {
  return spec.dropPrivileges || spec.network !== "isolated";
}

/**
 * The last step of both launchers: the sandbox gets nothing of the host process but
 * what is meant for it. Node hands every descriptor it inherited without close-on-exec
 * to its children: all but stdio and bwrap's info pipe (3) are closed (bash runs the
 * launcher when present; dash cannot name a descriptor above 9, and then refuses to go
 * on rather than pass one). bwrap starts from an empty environment (a process's
 * initial environment stays readable at /proc/<pid>/environ), in a fresh session
 * keyring when keyutils is installed (the seccomp filter refuses the keyring calls
 * anyway). Leaves the command in "$@", the filter's path in $s, the uid and gid in $u $g.
 */
const SEAL = `for p in /proc/$$/fd/*; do
  n=\${p##*/}
  case $n in 0|1|2|3) continue;; esac
  if [ "$n" -gt 9 ] && [ -z "\${BASH_VERSION:-}" ]; then echo "launcher: descriptor $n is open and /bin/sh cannot close it (install bash)" >&2; exit 70; fi
  eval "exec $n>&-"
done
s=$OCSB_SECCOMP u=$OCSB_UID g=$OCSB_GID
if command -v keyctl >/dev/null; then set -- keyctl session - "$OCSB_BWRAP" "$@"; else set -- "$OCSB_BWRAP" "$@"; fi`;

const USER_LAUNCHER = `set -e
IFS='
'
for f in $OCSB_CGROUPS; do echo $$ > "$f"; done
ulimit -n "$OCSB_NOFILE"
${SEAL}
exec env -i PATH="$PATH" "$@" ${SECCOMP_FD}<"$s"`;

// Run inside `unshare --mount` (private mounts); joins the cgroups first, so bwrap and all it starts inherit them.
const ROOT_LAUNCHER = `set -e
IFS='
'
for f in $OCSB_CGROUPS; do echo $$ > "$f"; done
ulimit -n "$OCSB_NOFILE"
# This namespace copied the host's mounts, other sandboxes' disks included: a copy
# would keep such a disk (and its loop device) alive after its own sandbox deletes it.
# One umount for all of them: a machine may hold many.
others=$(awk -v own="$OCSB_VOLUME" '{ i = 7; while ($i != "-") i++; if ($(i + 1) == "ext4" && index($(i + 2), "/dev/loop") == 1 && $5 ~ "/disk$" && $5 != own) print $5 }' /proc/self/mountinfo || true)
if [ -n "$others" ]; then umount -n -l $others 2>/dev/null || true; fi
mount -n --bind "$OCSB_DIR" /run
if [ -n "$OCSB_VOLUME" ]; then mount -n --bind "$OCSB_VOLUME" /run/disk; fi
if [ -n "$OCSB_RUNTIME" ]; then mount -n --bind "$OCSB_RUNTIME" /run/runtime; fi
${SEAL}
exec env -i PATH="$PATH" setpriv --reuid="$u" --regid="$g" --clear-groups -- "$@" ${SECCOMP_FD}<"$s"`;

function collect(stream: Readable | null, limit = MAX_STARTUP_BYTES): () => string {
  let text = "";
  stream?.on("data", (chunk: Buffer) => {
    if (text.length < limit) text += chunk.toString("utf8");
  });
  return () => text.trim();
}

export async function launch(spec: LaunchSpec): Promise<Launched> {
  await writeEtc(spec);
  const seccomp = join(spec.dir, "seccomp.bpf");
  await writeFile(seccomp, seccompFilter(), { mode: 0o644 });
  const env: Record<string, string> = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    OCSB_CGROUPS: spec.cgroupProcs.join("\n"),
    OCSB_NOFILE: String(spec.maxOpenFiles),
    OCSB_BWRAP: spec.bwrap,
    OCSB_DIR: spec.dir,
    OCSB_RUNTIME: spec.runtime.path.startsWith("/usr/") ? "" : spec.runtime.path,
    OCSB_UID: String(spec.uid),
    OCSB_SECCOMP: seccomp,
    OCSB_GID: String(spec.gid),
    OCSB_VOLUME: spec.volume ?? "",
  };
  // The host environment (API keys…) never reaches the launcher, let alone the sandbox.
  const shell = existsSync("/bin/bash") ? "/bin/bash" : "/bin/sh";
  const [command, prefix] = spec.dropPrivileges
    ? ["unshare", ["--mount", "--propagation", "private", "--", shell, "-c", ROOT_LAUNCHER]]
    : [shell, ["-c", USER_LAUNCHER]];
  const child = spawn(command as string, [...(prefix as string[]), "launcher", ...bwrapArgs(spec)], {
    env,
    // Not the host's working directory (the user's project): nothing inside should learn it.
    cwd: "/",
    stdio: ["ignore", "pipe", "pipe", "pipe"],
  });
  const stderr = collect(child.stderr);
  const exited = new Promise<string>((resolve) => {
    child.once("exit", (code, signal) => resolve(signal ? `signal ${signal}` : `exit code ${code}`));
    child.once("error", (e) => resolve(e.message));
  });

  const info = child.stdio[3] as Readable;
  let infoText = "";
  let stdoutText = "";
  try {
    return await new Promise<Launched>((resolve, reject) => {
      let initPid = 0;
      let ready = false;
      const timer = setTimeout(() => fail(`the sandbox did not become ready within ${READY_TIMEOUT_MS / 1000} s`, true), READY_TIMEOUT_MS);
      const fail = (why: string, timedOut = false) => {
        clearTimeout(timer);
        try {
          child.kill("SIGKILL");
        } catch {}
        reject(new SandboxError("unavailable", `Could not start local sandbox ${spec.id}: ${why}${stderr() ? ` — ${stderr()}` : ""}`, { timedOut }));
      };
      const check = () => {
        if (!initPid || !ready) return;
        claimSocket(spec.socket.bound, spec.socket.host).then(
          () => {
            clearTimeout(timer);
            resolve({ child, initPid, exited });
          },
          (error: Error) => fail(`its agent's socket could not be claimed (${error.message})`),
        );
      };
      info.on("data", (chunk: Buffer) => {
        if (infoText.length > MAX_STARTUP_BYTES) return fail("bubblewrap reported too much");
        infoText += chunk.toString("utf8");
        const m = /"child-pid"\s*:\s*(\d+)/.exec(infoText);
        if (m && !initPid) {
          initPid = Number(m[1]);
          spec.onInit?.(initPid);
          check();
        }
      });
      info.on("error", () => {});
      child.stdout!.on("data", (chunk: Buffer) => {
        if (ready) return;
        if (stdoutText.length > MAX_STARTUP_BYTES) return fail("its agent wrote too much before it was ready");
        stdoutText += chunk.toString("utf8");
        if (!ready && /^ready \d+$/m.test(stdoutText)) {
          ready = true;
          check();
        }
      });
      exited.then((how) => fail(`it exited (${how})`));
    });
  } finally {
    // The sandbox must never keep OpenCode alive, nor make it read anything more.
    child.unref();
    for (const s of [child.stdout, child.stderr, info]) s?.destroy();
  }
}
