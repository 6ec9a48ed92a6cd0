/**
 * The local provider run by an ordinary (non-root) user: OpenCode as uid 65534
 * (setpriv), with its own sandboxes directory. The sandbox keeps that uid, /proc/sys
 * stays read-only, the host's loopback and secrets stay out, and limits that cannot
 * be applied without a cgroup are reported as not enforced. Runs only as root
 * (it needs setpriv to become the other user); CI runs as root.
 */
import { spawn } from "node:child_process";
import { statSync } from "node:fs";
import { chmod, chown, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lacks, missingCommand, missingRoot } from "../support/prereq.js";

const OPENCODE = join(process.cwd(), "node_modules/opencode-linux-x64/bin/opencode");
const USER = 65534;
const SECRET = `ocsb-unpriv-${Math.random().toString(36).slice(2)}`;
const isRoot = process.getuid?.() === 0;

let base: string;
let server: Server;
let port: number;

beforeAll(async () => {
  if (!isRoot) return;
  // A traversable parent (the user cannot enter /root or a 0700 temp dir of root's).
  base = await mkdtemp("/tmp/ocsb-unpriv-");
  await chmod(base, 0o755);
  await chown(base, USER, USER);
  server = createServer((s) => s.end("HOST-SERVICE\n"));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  server?.close();
  if (base) await rm(base, { recursive: true, force: true });
});

function runAsUser(input: object): Promise<{ code: number | null; lines: string[]; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("setpriv", [`--reuid=${USER}`, `--regid=${USER}`, "--clear-groups", "--", OPENCODE, "test/support/local-child.ts"], {
      env: { PATH: process.env.PATH, HOME: base, XDG_DATA_HOME: join(base, "data"), BUN_BE_BUN: "1", OCSB_TEST_API_KEY: SECRET, OCSB_CHILD: JSON.stringify(input) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, lines: out.trim().split("\n"), stderr: err });
    });
  });
}

describe("local provider as an unprivileged user", () => {
  if (lacks(missingRoot(), missingCommand("setpriv"))) return;
  it("network none: isolated, unprivileged, and honest about limits", async () => {
    const { code, lines, stderr } = await runAsUser({ root: join(base, "sandboxes"), network: "none", probe: { hostPort: port, secret: SECRET } });
    expect(code, stderr + lines.join("\n")).toBe(0);
    const { probe, limits } = JSON.parse(lines.at(-1)!);
    expect(probe.fileOwner).toBe(USER);
    expect(probe.procSys).toMatch(/Read-only file system|Permission denied/);
    expect(probe.procSys).not.toContain("rc=0");
    expect(probe.loopback).not.toContain("CONNECTED");
    expect(probe.env).toBe(false);
    expect(probe.hostHome).toBe("user\n");
    expect(probe.ulimit).toBe("1024");
    // Without a writable cgroup the report must say so rather than pretend.
    const checked = [limits.memoryMb, limits.maxProcesses, limits.cpus, limits.tmpMiB, limits.diskMiB, limits.inodes];
    for (const l of checked) if (!l.enforced) expect(l.detail).toMatch(/NOT enforced/);
    // One warning each, disk and inodes sharing one (one image gives both).
    const unenforced = checked.filter((l: { enforced: boolean }) => !l.enforced).length - (limits.inodes.enforced ? 0 : 1);
    expect(limits.warnings.length).toBe(unenforced);
    // Nothing of that user is left running.
    const { execSync } = await import("node:child_process");
    // (Zombies are not running; the machine's init reaps them a moment later.)
    expect(execSync(`ps -u ${USER} -o stat=,args= | grep -v '^Z' | grep -E 'bwrap|agent.mjs|sleep 1000' | grep -v grep || true`).toString()).toBe("");
  });

  it("network isolated: works where /dev/net/tun is open to the user, else says how to fix it", async () => {
    const tunOpen = (statSync("/dev/net/tun").mode & 0o006) === 0o006;
    const { code, lines, stderr } = await runAsUser({ root: join(base, "sandboxes2"), network: "isolated", probe: { hostPort: port, secret: SECRET } });
    const last = JSON.parse(lines.at(-1)!);
    if (tunOpen) {
      expect(code, stderr).toBe(0);
      expect(last.probe.loopback).not.toContain("CONNECTED");
      expect(last.probe.fileOwner).toBe(USER);
    } else {
      expect(code).toBe(1);
      expect(last.error).toMatch(/\/dev\/net\/tun[\s\S]*local\.network/);
    }
  });
});
