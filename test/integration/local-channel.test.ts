/**
 * Attacks on the host–agent channel of the local provider, performed from INSIDE a
 * real sandbox and judged from the host: the host's memory while a command floods
 * the agent's stdout/stderr or declares a 4 GiB frame; hangs bounded by host-side
 * deadlines (a frozen agent, a FIFO read); stop() and delete() finishing with the
 * sandbox's processes gone; a listener or symlink planted where the agent's socket
 * used to be never reached; preview streams capped in number and idle time.
 */
import { spawn } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ChannelLimits } from "../../.opencode/plugin/sandbox/providers/local/channel-limits.js";
import type { LocalProvider } from "../../.opencode/plugin/sandbox/providers/local/index.js";
import type { Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { harness, type Harness } from "../support/local-harness.js";
import { lacks, missingBwrap, missingCommand } from "../support/prereq.js";
import { lastJsonLine, processesOfUid } from "../support/processes.js";
import { until } from "../support/until.js";

const OPENCODE = join(process.cwd(), "node_modules/opencode-linux-x64/bin/opencode");
const TSX = join(process.cwd(), "node_modules/.bin/tsx");
const MiB = 1024;
/** What each attack pushes at the host, per descriptor. */
const ATTACK_MIB = 384;
/** Host growth allowed while it is attacked: a sixth of one attack, far above noise (measured: < 1 MiB). */
const MAX_GROWTH_KIB = 64 * MiB;
/** Short deadlines for the calls that are meant to hang (only those use them). */
const SHORT: Partial<ChannelLimits> = { helloMs: 3000, execMarginMs: 3000, requestMs: 3000, shutdownMs: 3000 };
const isRoot = process.getuid?.() === 0;

let h: Harness;

beforeAll(async () => {
  h = await harness({ network: "none" });
});

afterAll(async () => {
  await h?.cleanup();
});

interface ChildReport {
  runtime: string;
  before: { hwmKiB: number; rssKiB: number };
  after: { hwmKiB: number; rssKiB: number };
  output?: string;
  error?: { kind?: string; fault?: string; message: string };
  still?: string;
  failed?: string;
}

/** Runs test/support/channel-child.ts under `runtime` and returns its report. */
function attackInChild(runtime: "node" | "bun", attack: "stdio" | "frame"): Promise<ChildReport> {
  const [command, env] = runtime === "bun" ? [OPENCODE, { BUN_BE_BUN: "1" }] : [TSX, {}];
  const child = spawn(command, ["test/support/channel-child.ts"], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env, OCSB_CHANNEL: JSON.stringify({ root: h.root, attack, mib: ATTACK_MIB }) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  return lastJsonLine<ChildReport>(child, `channel child (${runtime})`);
}

function ownerOf(id: string): { bwrap: { pid: number }; init: { pid: number } } {
  return JSON.parse(readFileSync(join(h.root, id, "owner.json"), "utf8"));
}

function uidOf(id: string): number {
  return JSON.parse(readFileSync(join(h.root, id, "meta.json"), "utf8")).uid;
}

/** Ended (a zombie has ended: it only waits for its parent to read its status). */
function dead(pid: number): boolean {
  try {
    return /^State:\s+[ZX]/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return true;
  }
}

/** The sandbox's processes, judged from the host: bubblewrap, its init and (root) every process of its uid end. */
async function allEnded(bwrap: number, init: number, uid: number) {
  // SIGKILL is delivered at once; the kernel finishes the exits a moment later.
  await until(() => dead(bwrap) && dead(init) && (!isRoot || processesOfUid(uid).every(dead)), "the sandbox's processes to end", 30_000);
}

describe("local sandbox channel: what the sandbox can do to the host through its agent", () => {
  if (lacks(missingBwrap(), missingCommand("python3"))) return;

  for (const runtime of ["node", "bun"] as const) {
    it(`a command can take over neither the agent's stdout nor its stderr (${runtime})`, async () => {
      const r = await attackInChild(runtime, "stdio");
      expect(r.failed).toBeUndefined();
      expect(r.runtime).toBe(runtime);
      // pidfd_getfd is refused, and the agent's stdout/stderr do not open through /proc: sockets on Node
      // (ENXIO), and on Bun the agent is not dumpable (EACCES). (The host still closes its ends once the agent is up.)
      expect(r.output).toMatch(/^fd1 .*refused \(pidfd_getfd EPERM, \/proc open E(NXIO|ACCES)\)\nfd2 .*refused/);
      expect(r.after.hwmKiB - r.before.hwmKiB).toBeLessThan(MAX_GROWTH_KIB);
      expect(r.still).toBe("still-here\n");
    }, 120_000);

    it(`a command cannot take the host's connection to send a 4 GiB frame (${runtime})`, async () => {
      const r = await attackInChild(runtime, "frame");
      expect(r.failed).toBeUndefined();
      // The seccomp filter refuses pidfd_getfd, and a socket does not open through /proc. (The host's
      // check of each frame's size from its header stays, for an agent that is not what it should be.)
      expect(r.error).toBeUndefined();
      expect(r.output).toMatch(/refused \(pidfd_getfd EPERM, \/proc open E(NXIO|ACCES)\)/);
      expect(r.output).not.toMatch(/wrote|after \d+/);
      expect(r.after.hwmKiB - r.before.hwmKiB).toBeLessThan(MAX_GROWTH_KIB);
      // Only that request's connection was dropped: the sandbox still answers.
      expect(r.still).toBe("still-here\n");
    }, 120_000);
  }

  describe("host-side deadlines", () => {
    let short: LocalProvider;
    let hung: Sandbox; // handle with SHORT deadlines, used only for calls meant to hang
    let setup: Sandbox; // same sandbox, default deadlines

    beforeAll(async () => {
      short = h.make({ channel: SHORT });
      hung = await short.create({ labels: { test: "channel-deadlines" } });
      setup = await h.provider.connect(hung.id);
    });

    it("a file read that could never end (a FIFO nobody writes to) is refused at once; the sandbox keeps working", async () => {
      // The agent reads regular files only (local-special-files covers each kind), so no read can hold
      // the host until its deadline any more; the host's read deadline stays as a second line.
      await setup.exec("mkfifo /workspace/fifo");
      const error = await hung.readFile("/workspace/fifo").then(() => null, (e) => e);
      expect(error).toMatchObject({ kind: "bad_input" });
      expect(error.message).toMatch(/Not a regular file \(a FIFO\)/);
      expect((await setup.exec("echo ok")).output).toBe("ok\n");
    }, 60_000);

    it("a frozen agent: an exec ends at its timeout plus the margin, the greeting at its deadline, and stop() kills the sandbox from the host", async () => {
      const { bwrap, init } = ownerOf(hung.id);
      const uid = uidOf(hung.id);
      // The command stops its own agent (SIGSTOP cannot be ignored): nothing will report its end.
      const error = await hung.exec("kill -STOP $PPID; sleep 1000", { timeoutMs: 1000 }).then(() => null, (e) => e);
      expect(error).toMatchObject({ kind: "transient", fault: "deadline" });
      expect(error.message).toMatch(/did not report the command's end within 4 s/);
      // A new request: the agent accepts nothing any more, so no hello comes.
      const greeting = await hung.stat("/workspace").then(() => null, (e) => e);
      expect(greeting).toMatchObject({ kind: "not_running", fault: "deadline" });
      expect(greeting.message).toMatch(/did not say hello/);
      // stop(): the shutdown request gets no answer either; the host kills.
      await short.stop(hung.id);
      await allEnded(bwrap.pid, init.pid, uid);
      expect((await short.get(hung.id)).state).toBe("stopped");
    }, 60_000);

    it("delete() of a sandbox whose agent is frozen finishes, from a process that does not own it", async () => {
      const sb = await h.provider.create({ labels: { test: "channel-delete" } });
      const { bwrap, init } = ownerOf(sb.id);
      const uid = uidOf(sb.id);
      const other = h.make({ channel: SHORT });
      const frozen = (await other.connect(sb.id)).exec("kill -STOP $PPID; sleep 1000", { timeoutMs: 1000 });
      await expect(frozen).rejects.toMatchObject({ fault: "deadline" });
      await other.delete(sb.id);
      await allEnded(bwrap.pid, init.pid, uid);
      expect(() => statSync(join(h.root, sb.id))).toThrow();
    }, 60_000);
  });

  it("the sandbox cannot replace its agent's socket: a listener or a symlink planted in its place is never reached", async () => {
    const a = await h.provider.create({ labels: { test: "channel-socket", name: "a" } });
    const b = await h.provider.create({ labels: { test: "channel-socket", name: "b" } });
    await a.exec("echo I-am-A > /tmp/whoami");
    await b.exec("echo I-am-B > /tmp/whoami");
    const hostSocket = join(h.root, a.id, "agent.sock");
    expect(statSync(hostSocket).isSocket()).toBe(true);
    // Out of the sandbox's reach: not in its filesystem, and (root) in a directory its uid cannot write.
    expect((await a.exec(`ls -A /run/opencode; test -e '${hostSocket}' && echo VISIBLE; true`)).output).toBe("");
    if (isRoot) {
      const dir = statSync(join(h.root, a.id));
      expect(dir.uid).toBe(0);
      expect(dir.mode & 0o022).toBe(0);
    }
    // An impostor where the socket was: it answers with a perfect hello and logs what it gets.
    const impostor = String.raw`
import json, os, socket
p = "/run/opencode/agent.sock"
try: os.unlink(p)
except FileNotFoundError: pass
s = socket.socket(socket.AF_UNIX); s.bind(p); s.listen(16)
open("/tmp/impostor.ready", "w").write("1")
hello = json.dumps({"magic": "opencode-sandbox-agent", "version": 1, "pid": 2, "uid": os.getuid()}).encode()
while True:
    c, _ = s.accept()
    c.sendall(b"H" + len(hello).to_bytes(4, "big") + hello)
    data = c.recv(65536)
    with open("/tmp/impostor.log", "ab") as f: f.write(b"GOT " + data + b"\n")
`;
    await a.writeFile("/tmp/impostor.py", impostor);
    if (isRoot) {
      // As root the run directory is taken back once the agent is up: nothing can be planted there at all.
      expect((await a.exec("python3 /tmp/impostor.py 2>&1 | tail -1")).output).toMatch(/PermissionError/);
      expect((await a.exec("ln -s /x /run/opencode/agent.sock 2>&1; echo rc=$?")).output).toMatch(/Permission denied[\s\S]*rc=1/);
    } else {
      await a.exec("nohup python3 /tmp/impostor.py >/dev/null 2>&1 &");
      await until(async () => (await a.exec("test -f /tmp/impostor.ready && echo y")).output === "y\n", "the impostor to listen");
      expect(statSync(join(h.root, a.id, "run", "agent.sock")).isSocket()).toBe(true);
    }
    expect((await a.exec("cat /tmp/whoami")).output).toBe("I-am-A\n");
    await a.writeFile("/workspace/for-a", "host bytes");
    expect(readFileSync(join(h.root, a.id, "project", "for-a"), "utf8")).toBe("host bytes");
    expect((await a.exec("cat /tmp/impostor.log 2>/dev/null || echo nothing")).output).toBe("nothing\n");
    // A symlink to the other sandbox's socket (old and new place) in its stead.
    for (const target of isRoot ? [] : [join(h.root, b.id, "agent.sock"), join(h.root, b.id, "run", "agent.sock")]) {
      await a.exec(`pkill -f impostor.py; rm -f /run/opencode/agent.sock; ln -s '${target}' /run/opencode/agent.sock`);
      expect((await a.exec("cat /tmp/whoami")).output).toBe("I-am-A\n");
    }
    expect((await b.exec("cat /tmp/whoami; cat /workspace/for-a 2>/dev/null || echo absent")).output).toBe("I-am-B\nabsent\n");
  }, 60_000);

  describe("preview streams", () => {
    // A server inside that accepts every connection and never answers.
    const SILENT = String.raw`
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 8123)); s.listen(64)
open("/tmp/listening", "w").write("1")
held = []
while True:
    c, _ = s.accept(); held.append(c)
    with open("/tmp/accepted", "a") as f: f.write("x\n")
`;

    async function silentServer(limits: Partial<ChannelLimits>) {
      const p = h.make({ channel: limits });
      const sb = await p.create({ labels: { test: "channel-preview" } });
      await sb.writeFile("/tmp/silent.py", SILENT);
      await sb.exec("nohup python3 /tmp/silent.py >/dev/null 2>&1 &");
      await until(async () => (await sb.exec("test -f /tmp/listening && echo y")).output === "y\n", "the silent server to listen");
      const port = Number(new URL((await sb.previewUrl(8123)).url).port);
      const accepted = async () => Number((await sb.exec("wc -l < /tmp/accepted 2>/dev/null || echo 0")).output.trim());
      const open = () => {
        const s = connect(port, "127.0.0.1");
        const closed = new Promise<void>((r) => s.once("close", () => r()));
        s.on("error", () => {});
        s.write("GET / HTTP/1.0\r\n\r\n");
        return { s, closed };
      };
      return { accepted, open };
    }

    it("are capped in number per sandbox: one more is closed by the host and never reaches the sandbox", async () => {
      const { accepted, open } = await silentServer({ previewStreams: 3 });
      const first = [open(), open(), open()];
      await until(async () => (await accepted()) === 3, "three streams forwarded");
      const fourth = open();
      await fourth.closed;
      expect(await accepted()).toBe(3);
      expect(first.map((c) => c.s.destroyed)).toEqual([false, false, false]);
      // A closed stream frees its place.
      first[0]!.s.destroy();
      await until(async () => {
        const c = open();
        await Promise.race([c.closed, until(async () => (await accepted()) === 4, "forwarded", 5_000).catch(() => {})]);
        c.s.destroy();
        return (await accepted()) === 4;
      }, "a stream forwarded again after one closed");
      for (const c of first) c.s.destroy();
    }, 60_000);

    it("are closed when idle in both directions", async () => {
      const { open } = await silentServer({ previewIdleMs: 1000 });
      const stream = open();
      await stream.closed;
      expect(stream.s.destroyed).toBe(true);
    }, 60_000);
  });
});
