/**
 * Can this machine run local sandboxes? One clear message with the fix when not —
 * shown as a toast and logged by the caller, never a stack trace mid-session.
 */
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { join } from "node:path";
import { SandboxError } from "../provider.js";
import { UID_BASE } from "./constants.js";
import { findRuntime, type Runtime } from "./runtime.js";
import type { NetworkMode } from "./egress-policy.js";

/** An executable on PATH; the usual system directories only when PATH is unset (so PATH decides). */
export function which(name: string): string | null {
  const searchPath = process.env.PATH;
  const dirs = searchPath ? searchPath.split(":") : ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
  for (const dir of dirs) {
    if (!dir.startsWith("/")) continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {}
  }
  return null;
}

export interface Tools {
  bwrap: string;
  slirp4netns: string | null;
  runtime: Runtime;
  /** bwrap takes `--size` for a tmpfs (0.7 and later); older ones leave /tmp uncapped. */
  tmpfsSize: boolean;
}

function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" }, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c));
    child.stderr.on("data", (c: Buffer) => (output += c));
    child.on("error", (e) => resolve({ code: -1, output: e.message }));
    child.on("close", (code) => resolve({ code, output: output.trim() }));
  });
}

const unavailable = (message: string) => new SandboxError("unavailable", `Local sandbox unavailable: ${message}`);

export async function preflight(opts: { network: NetworkMode; runtime?: string }): Promise<Tools> {
  if (process.platform !== "linux") throw unavailable(`it needs Linux (bubblewrap); this is ${process.platform}.`);
  const bwrap = which("bwrap");
  if (!bwrap) throw unavailable(`bubblewrap is not installed — install it (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install bubblewrap).`);
  const root = process.getuid?.() === 0;
  if (root) {
    for (const tool of ["setpriv", "unshare", "mount"])
      if (!which(tool)) throw unavailable(`${tool} (util-linux) is missing — install util-linux.`);
  }
  const slirp4netns = which("slirp4netns");
  if (opts.network === "isolated" && !slirp4netns)
    throw unavailable(`slirp4netns is not installed (needed for network "isolated") — sudo apt-get install slirp4netns, or set the option local.network to "none".`);
  if (opts.network === "isolated" && !root) {
    try {
      accessSync("/dev/net/tun", constants.R_OK | constants.W_OK);
    } catch {
      throw unavailable(`slirp4netns needs /dev/net/tun, which uid ${process.getuid?.()} cannot open (network "isolated") — make it accessible (modprobe tun; it is normally mode 0666), or set the option local.network to "none".`);
    }
  }
  const runtime = findRuntime(opts.runtime);
  if (!runtime) throw unavailable(`no JavaScript runtime for the sandbox's agent (node in /usr/bin or OpenCode's own binary) — install nodejs.`);

  // User namespaces, tried the way a sandbox uses them (as an unprivileged uid when root).
  const probe = [bwrap, "--unshare-user", "--unshare-net", "--unshare-pid", "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--", "/usr/bin/true"];
  const { code, output } = root
    ? await run("setpriv", [`--reuid=${UID_BASE - 1}`, `--regid=${UID_BASE - 1}`, "--clear-groups", "--", ...probe])
    : await run(probe[0]!, probe.slice(1));
  if (code !== 0) {
    const hint = /permission|operation not permitted|setting up uid map|No permissions/i.test(output)
      ? "user namespaces are blocked for unprivileged users (Ubuntu 23.10+/24.04: AppArmor — add a bwrap AppArmor profile or sysctl kernel.apparmor_restrict_unprivileged_userns=0; elsewhere check kernel.unprivileged_userns_clone / user.max_user_namespaces)"
      : "bubblewrap could not create a sandbox";
    throw unavailable(`${hint}: ${output || `exit ${code}`} — fix that.`);
  }
  const help = await run(bwrap, ["--help"]);
  return { bwrap, slirp4netns, runtime, tmpfsSize: /--size\b/.test(help.output) };
}
