/**
 * Less kernel for the local sandbox (issue 13): attacks from INSIDE a real sandbox,
 * judged from the host. The seccomp filter refuses the keyring, io_uring, ptrace and
 * its relatives, bpf, perf, userfaultfd, namespaces, mounting and modules — for the
 * agent too, on Node and Bun; 32-bit and x32 calls cannot slip past it; a key in the
 * host's session keyring stays out of reach and intact; descriptors the host process
 * inherited never reach the sandbox; the sandbox's init shows no host path in its
 * environment; and ordinary developer work (compilers, threads, a browser) still runs.
 */
import { execFileSync, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { KERNEL_PROBE_PATH, KERNEL_PROBE_PY } from "../support/kernel-probe.js";
import { harness, type Harness } from "../support/local-harness.js";
import { lacks, missingBwrap, missingCommand } from "../support/prereq.js";
import { lastJsonLine } from "../support/processes.js";

const OPENCODE = join(process.cwd(), "node_modules/opencode-linux-x64/bin/opencode");
const TSX = join(process.cwd(), "node_modules/.bin/tsx");
const isRoot = process.getuid?.() === 0;
const x64 = process.arch === "x64";

type Probe = Record<string, string>;

interface ChildReport {
  runtime: string;
  outputs: string[];
  processes: number;
  agentSeccomp?: string;
  initSeccomp?: string;
  leaked: string[];
  held: string[];
  key?: { payload: string; keyring: string };
  uid: number;
  failed?: string;
}

/** Runs test/support/kernel-child.ts under `runtime`, through `wrapper` (e.g. keyctl session), with `extraFds` at the given descriptor numbers. */
function runChild(runtime: "node" | "bun", input: object, opts: { wrapper?: string[]; extraFds?: Record<number, number> } = {}): Promise<ChildReport> {
  const [command, env] = runtime === "bun" ? [OPENCODE, { BUN_BE_BUN: "1" }] : [TSX, {}];
  const stdio: (string | number)[] = ["ignore", "pipe", "pipe"];
  for (const [at, fd] of Object.entries(opts.extraFds ?? {})) {
    while (stdio.length < Number(at)) stdio.push("ignore");
    stdio[Number(at)] = fd;
  }
  const argv = [...(opts.wrapper ?? []), command, "test/support/kernel-child.ts"];
  const child = spawn(argv[0]!, argv.slice(1), {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, OCSB_KERNEL: JSON.stringify(input) },
    stdio: stdio as never,
  });
  return lastJsonLine<ChildReport>(child, `kernel child (${runtime})`);
}

let h: Harness;
let sb: Sandbox;

beforeAll(async () => {
  h = await harness({ network: "none" });
});

afterAll(async () => {
  await h?.cleanup();
});

describe("local sandbox kernel surface: refused calls, judged against the same calls without the filter", () => {
  if (lacks(missingBwrap(), missingCommand("python3"))) return;

  let inside: Probe;
  let outside: Probe;

  beforeAll(async () => {
    sb = await h.provider.create({ labels: { test: "kernel" } });
    await sb.writeFile(KERNEL_PROBE_PATH, KERNEL_PROBE_PY);
    // exec: the probe's parent is then the agent, the process it tries to trace and grab descriptors from.
    inside = JSON.parse((await sb.exec(`exec python3 ${KERNEL_PROBE_PATH} "$PPID"`)).output);
    // The control: the same probe on the host, as an ordinary user, without the filter.
    const dir = await mkdtemp(join(tmpdir(), "ocsb-probe-"));
    await chmod(dir, 0o755);
    await writeFile(join(dir, "probe.py"), KERNEL_PROBE_PY, { mode: 0o644 });
    const control = isRoot ? ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", "/usr/bin/python3"] : ["/usr/bin/python3"];
    outside = JSON.parse(execFileSync(control[0]!, [...control.slice(1), join(dir, "probe.py"), "-1"], { encoding: "utf8" }));
    await rm(dir, { recursive: true, force: true });
  }, 120_000);

  it.each([
    "keyctl", "add_key", "request_key",
    "io_uring_setup",
    "ptrace", "process_vm_readv", "pidfd_getfd", "kcmp",
    "bpf", "perf_event_open", "userfaultfd",
    "unshare(CLONE_NEWUSER)", "unshare(CLONE_NEWNS)", "unshare(CLONE_NEWNET)", "clone(CLONE_NEWUSER)", "setns",
    "mount", "init_module",
    "personality(ADDR_NO_RANDOMIZE)",
  ])("%s is refused with EPERM", (probe) => {
    expect(inside[probe]).toBe("EPERM");
  });

  it("clone3 answers ENOSYS (its flags are out of a filter's reach; glibc then uses clone)", () => {
    expect(inside.clone3).toBe("ENOSYS");
  });

  it.each(["getpid", "personality(query)"])("%s still works", (probe) => {
    expect(inside[probe]).toBe("ok");
  });

  // Where a kernel without the filter answers otherwise on any machine: the filter made the difference.
  it.each([
    ["keyctl", "ok"], ["add_key", "ENODEV"], ["ptrace", "ESRCH"], ["pidfd_getfd", "EBADF"], ["kcmp", "ESRCH"],
    ["clone3", "EINVAL"], ["setns", "EBADF"], ["personality(ADDR_NO_RANDOMIZE)", "ok"],
  ])("control: without the filter, %s answers %s", (probe, answer) => {
    expect(outside[probe]).toBe(answer);
  });

  it.runIf(x64)("x32 calls (bit 30 of the number) are refused, where the kernel alone says ENOSYS", () => {
    expect(inside["x32 getpid"]).toBe("EPERM");
    expect(outside["x32 getpid"]).not.toBe("EPERM");
  });

  it.runIf(x64).each(["int 0x80 keyctl", "int 0x80 getpid"])("32-bit %s does not slip past the filter", (probe) => {
    // A kernel without 32-bit syscalls faults on int 0x80 (SIGSEGV) with or without the filter;
    // one that has them answers the control, and then the sandbox must get EPERM.
    if (outside["int 0x80 getpid"] === "ok") expect(inside[probe]).toBe("EPERM");
    else expect(inside[probe]).toMatch(/^(EPERM|killed by signal \d+)$/);
  });

  it("nested user namespaces: unshare -Urmn fails inside", async () => {
    const r = await sb.exec("unshare -Urmn sh -c 'echo NESTED-ROOT; id -u' 2>&1; echo rc=$?");
    expect(r.output).not.toContain("NESTED-ROOT");
    expect(r.output).toMatch(/Operation not permitted/);
    expect(r.output).not.toContain("rc=0");
  });

  it("the sandbox's init and agent carry no host path in their environment", async () => {
    const r = await sb.exec("cat /proc/1/environ /proc/$PPID/environ | tr '\\0' '\\n'");
    expect(r.output).toContain("PATH=");
    for (const hostPath of [h.root, process.cwd(), "OCSB_"]) expect(r.output).not.toContain(hostPath);
  });
});

describe("local sandbox kernel surface: ordinary developer work still runs under the filter", () => {
  if (lacks(missingBwrap(), missingCommand("python3"), missingCommand("gcc"), missingCommand("chromium"), missingCommand("git"))) return;

  let work: Sandbox;
  beforeAll(async () => {
    work = await h.make({ memoryMb: 2048, maxProcesses: 512, maxOpenFiles: 4096 }).create({ labels: { test: "kernel-work" } });
  }, 60_000);

  it.each([
    ["C with threads", "cd /tmp && printf '#include <stdio.h>\\n#include <pthread.h>\\nvoid *f(void *a) { return a; }\\nint main(void) { pthread_t t; pthread_create(&t, 0, f, 0); pthread_join(t, 0); puts(\"compiled-ok\"); return 0; }\\n' > t.c && gcc -pthread t.c -o t && ./t", /compiled-ok/],
    ["node: a worker, a child process, async files", `node -e 'const { Worker } = require("worker_threads"); new Worker("console.log(\\"worker-ok\\")", { eval: true }); require("child_process").execFileSync("true"); require("fs").promises.readFile("/etc/hostname", "utf8").then((t) => console.log("fs-" + t.trim()))'`, /worker-ok[\s\S]*fs-sandbox|fs-sandbox[\s\S]*worker-ok/],
    ["python multiprocessing", "python3 -c 'import multiprocessing as m; print(\"sum\", sum(m.Pool(2).map(abs, [1, -2, 3])))'", /sum 6/],
    ["git and npm", "npm --version >/dev/null && cd /tmp && git init -q r && cd r && git -c user.email=a@b -c user.name=a commit -q --allow-empty -m x && git log --oneline | wc -l", /^1$/m],
    ["a server answering", "cd /tmp && (python3 -m http.server 8765 >/dev/null 2>&1 &) && for i in $(seq 300); do curl -s -o /dev/null -w 'http-%{http_code}' http://127.0.0.1:8765/ && break; sleep 0.1; done", /http-200/],
    // The browser itself (Debian's /usr/bin/chromium wrapper also reads /etc/chromium.d, which the sandbox does not bind).
    ["chromium --no-sandbox renders a page", "timeout 280 /usr/lib/chromium/chromium --headless --no-sandbox --disable-gpu --dump-dom 'data:text/html,<p>rendered-ok</p>' 2>/dev/null", /rendered-ok/],
  ])("%s", async (_name, command, expected) => {
    // Bounds for a hang only: a browser starting on a loaded machine took 70 s here.
    const r = await work.exec(command, { timeoutMs: 290_000 });
    expect(r.output).toMatch(expected);
  }, 300_000);
});

describe("local sandbox kernel surface: what the host process holds stays out (Node and Bun)", () => {
  if (lacks(missingBwrap(), missingCommand("keyctl"))) return;

  let dir: string;
  let secretPath: string;
  const SECRET = `ocsb-root-only-${Math.random().toString(36).slice(2)}`;

  beforeAll(async () => {
    // A file only root may read, as the host process might hold one open.
    dir = await mkdtemp(join(tmpdir(), "ocsb-secret-"));
    secretPath = join(dir, "secret");
    await writeFile(secretPath, SECRET, { mode: 0o600 });
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const runtime of ["node", "bun"] as const) {
    it(`descriptors the host process inherited (9 and 45) never reach the sandbox; the agent runs under the filter (${runtime})`, async () => {
      const fd = openSync(secretPath, "r");
      let r: ChildReport;
      try {
        r = await runChild(
          runtime,
          {
            root: h.root,
            secretPath,
            commands: [
              "ls -l /proc/self/fd /proc/$PPID/fd 2>&1; cat /proc/self/fd/9 /proc/self/fd/45 2>&1; true",
              // The agent's memory, from one of its commands (its parent: exec).
              `exec python3 -c "open('/proc/$PPID/mem', 'r+b'); print('MEM-OPEN')" 2>&1 | tail -1`,
            ],
          },
          { extraFds: { 9: fd, 45: fd } },
        );
      } finally {
        closeSync(fd);
      }
      expect(r.failed, r.failed).toBeUndefined();
      expect(r.runtime).toBe(runtime);
      expect(r.held.length).toBeGreaterThan(0);
      expect(r.outputs[0]).not.toContain(SECRET);
      expect(r.outputs[0]).not.toContain(secretPath);
      if (isRoot) {
        // Judged from the host: no process of the sandbox holds the file; the agent is in filter mode.
        expect(r.processes).toBeGreaterThan(0);
        expect(r.leaked).toEqual([]);
        expect(r.agentSeccomp).toBe("2");
        expect(r.initSeccomp).toBe("2");
      }
      if (runtime === "bun") {
        // On Bun the agent is not dumpable: its commands cannot open its memory or list its descriptors.
        expect(r.outputs[1]).toMatch(/PermissionError/);
        expect(r.outputs[0]).toMatch(/cannot open directory '\/proc\/\d+\/fd': Permission denied/);
      }
    }, 120_000);

    it(`a key in the host's session keyring can be neither read, searched, cleared nor added to (${runtime})`, async () => {
      const name = `ocsb-planted-${runtime}`;
      const payload = `payload-${Math.random().toString(36).slice(2)}`;
      // The child runs in a session keyring of its own holding one planted key, as a login session would.
      const wrapper = ["keyctl", "session", "-", "/bin/sh", "-c", `keyctl add user ${name} ${payload} @s >/dev/null && exec "$@"`, "plant"];
      const attack = [
        "keyctl show @s 2>&1",
        `keyctl search @s user ${name} 2>&1`,
        `keyctl print %user:${name} 2>&1`,
        "keyctl clear @s 2>&1",
        "keyctl add user intruder x @s 2>&1",
        `keyctl unlink %user:${name} @s 2>&1`,
        "cat /proc/keys 2>&1",
        // Processes that would hold the host's keyring if they had inherited it.
        "for i in 1 2 3 4 5; do sleep 1000 >/dev/null 2>&1 & done",
      ].join("; ");
      const r = await runChild(runtime, { root: h.root, keyName: name, commands: [attack] }, { wrapper });
      expect(r.failed, r.failed).toBeUndefined();
      expect(r.outputs[0]).not.toContain(payload);
      // Never listed (keyctl show, /proc/keys); "Can't find 'user:<name>'" only repeats the question.
      expect(r.outputs[0]).not.toMatch(new RegExp(`user:? +${name}`));
      expect(r.outputs[0]).toMatch(/keyctl_search: Operation not permitted/);
      expect(r.outputs[0]).toMatch(/keyctl_clear: Operation not permitted/);
      expect(r.outputs[0]).toMatch(/add_key: Operation not permitted/);
      // From the host: the key is intact and alone in its keyring.
      expect(r.key!.payload.trim()).toBe(payload);
      expect(r.key!.keyring.trim().split(/\s+/)).toHaveLength(1);
      // The sandbox has a session keyring of its own (keyutils' keyctl session in the launcher): the
      // only keyring its /proc/keys shows is an empty one owned by the sandbox's uid.
      expect(r.outputs[0]).toMatch(new RegExp(`perm \\w+ +${r.uid} +\\d+ +keyring +_ses: empty`));
    }, 120_000);
  }
});
