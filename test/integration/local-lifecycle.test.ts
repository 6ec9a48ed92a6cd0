/**
 * Lifecycle of local sandboxes: create/get/list/stop/start/delete, a second process
 * joining a running sandbox, and a `kill -9` of the owning process — which must leave
 * no sandbox process behind, with the leftovers cleaned at the next start and the
 * workspace intact. The second process runs under Bun (OpenCode's runtime).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { processesOfUid } from "../support/processes.js";
import { harness, type Harness } from "../support/local-harness.js";

const OPENCODE = join(process.cwd(), "node_modules/opencode-linux-x64/bin/opencode");
const children: ChildProcess[] = [];
let h: Harness;

beforeAll(async () => {
  h = await harness({ network: "none" });
});
afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await h?.cleanup();
});

interface ChildInfo {
  id: string;
  uid: number;
  agentCmd: string;
  bun: boolean;
  pid: number;
  preview?: string;
  error?: string;
}

/** Starts the Bun child that creates/joins a sandbox and then just waits. */
function startChild(input: object): Promise<{ child: ChildProcess; info: ChildInfo }> {
  const child = spawn(OPENCODE, ["test/support/local-child.ts"], {
    env: { ...process.env, BUN_BE_BUN: "1", OCSB_CHILD: JSON.stringify(input) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once("line", (line) => {
      const info = JSON.parse(line) as ChildInfo;
      if (info.error) reject(new Error(info.error));
      else resolve({ child, info });
    });
    child.once("exit", (code) => reject(new Error(`child exited ${code}`)));
  });
}

const owner = (id: string) => JSON.parse(readFileSync(join(h.root, id, "owner.json"), "utf8"));

/** Host pids in the pid namespace of `initPid` (the sandbox's processes). */
function pidsInNamespace(initPid: number): number[] {
  let ns: string;
  try {
    ns = readlinkSync(`/proc/${initPid}/ns/pid`);
  } catch {
    return [];
  }
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return readlinkSync(`/proc/${p}/ns/pid`) === ns && !readFileSync(`/proc/${p}/stat`, "utf8").includes(") Z ");
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** Polls until `check` holds; the bound only catches a hang. */
async function waitFor(check: () => boolean, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!check() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return check();
}

describe("local sandbox lifecycle", () => {
  it("create, get, list by labels, stop keeps the workspace, start, delete", async () => {
    const p = h.provider;
    const sb = await p.create({ labels: { project: "p1", session: "s1" }, env: { GREETING: "hi" } });
    const other = await p.create({ labels: { project: "p1", session: "s2" } });
    expect((await sb.exec("echo $GREETING")).output).toBe("hi\n");
    expect(await p.get(sb.id)).toEqual({ id: sb.id, state: "started", labels: { project: "p1", session: "s1" }, createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/), lastActivityAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
    expect(Date.now() - Date.parse((await p.get(sb.id)).createdAt!)).toBeLessThan(24 * 3600_000); // made by this test, not some epoch
    expect((await p.list({ project: "p1" })).map((i) => i.id).sort()).toEqual([sb.id, other.id].sort());
    expect((await p.list({ session: "s2" })).map((i) => i.id)).toEqual([other.id]);

    await sb.writeFile("/workspace/keep.txt", "kept");
    await sb.exec("sleep 1000 >/dev/null 2>&1 &");
    const { init } = owner(sb.id);
    await p.stop(sb.id);
    expect((await p.get(sb.id)).state).toBe("stopped");
    expect(await waitFor(() => pidsInNamespace(init.pid).length === 0)).toBe(true);
    await expect(sb.exec("true")).rejects.toMatchObject({ kind: "not_running" });
    await expect(p.connect(sb.id)).rejects.toMatchObject({ kind: "not_running" });
    expect(readFileSync(join(h.root, sb.id, "project", "keep.txt"), "utf8")).toBe("kept");

    await p.start(sb.id);
    const again = await p.connect(sb.id);
    expect((await again.exec("cat keep.txt; echo; echo $GREETING")).output).toBe("kept\nhi\n");
    expect((await again.exec("touch keep.txt && echo writable")).output).toBe("writable\n");

    await p.delete(sb.id);
    await p.delete(sb.id); // idempotent
    await expect(p.get(sb.id)).rejects.toMatchObject({ kind: "sandbox_not_found" });
    expect(existsSync(join(h.root, sb.id))).toBe(false);
    expect((await p.list({ project: "p1" })).map((i) => i.id)).toEqual([other.id]);

    // dispose() ends what this process owns; another provider sees it stopped.
    const other2 = h.make();
    await p.dispose();
    expect((await other2.get(other.id)).state).toBe("stopped");
  });

  it("re-creating with the same id keeps the workspace and the host uid", async () => {
    const sb = await h.provider.create({ labels: { x: "1" } });
    await sb.writeFile("f.txt", "same");
    const uid = (await sb.exec("id -u")).output;
    await h.provider.stop(sb.id);
    const re = await h.provider.create({ labels: { x: "2" }, id: sb.id });
    expect((await re.exec("cat f.txt; id -u")).output).toBe(`same${uid}`);
    expect((await h.provider.get(sb.id)).labels).toEqual({ x: "2" });
    await h.provider.delete(sb.id);
  });

  it("a second process joins the running sandbox instead of starting another", async () => {
    const { info } = await startChild({ root: h.root, network: "none", labels: { from: "child" } });
    expect(info.bun).toBe(true);
    expect(info.agentCmd).toMatch(/^\/opt\/opencode-sandbox\/runtime /); // the agent runs on the opencode binary
    const before = owner(info.id);
    const mine = h.make();
    expect((await mine.get(info.id)).state).toBe("started");
    await mine.start(info.id); // joins: no second bubblewrap
    const sb = await mine.connect(info.id);
    expect((await sb.exec("cat /tmp/child-marker; pgrep -c -x sleep")).output).toBe("from-child\n1\n");
    expect(owner(info.id)).toEqual(before);
  });

  it("a preview link held by a Bun process (OpenCode's runtime) answers another process's request", async () => {
    const { child, info } = await startChild({ root: h.root, network: "none", labels: { from: "preview" }, serve: 8000 });
    expect(info.bun).toBe(true);
    expect(info.preview).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // The server inside listens already, so the answer comes at once — which Bun used to lose
    // (bytes between two microtasks with no listener, or on a paused socket): the request hung.
    const body = await fetch(`${info.preview}/index.html`, { signal: AbortSignal.timeout(60_000) }).then((r) => r.text());
    expect(body).toBe("served-from-the-sandbox\n");
    child.kill("SIGKILL");
  });

  it("kill -9 of the owning process leaves no sandbox process; the next start cleans up", async () => {
    const { child, info } = await startChild({ root: h.root, network: "isolated", labels: { from: "doomed" } });
    const o = owner(info.id);
    expect(pidsInNamespace(o.init.pid).length).toBeGreaterThanOrEqual(3);
    expect(o.slirp).toBeTruthy();
    child.kill("SIGKILL");
    expect(await waitFor(() => pidsInNamespace(o.init.pid).length === 0)).toBe(true);
    expect(await waitFor(() => !existsSync(`/proc/${o.slirp.pid}`) || readFileSync(`/proc/${o.slirp.pid}/stat`, "utf8").includes(") Z"))).toBe(true);
    expect(await waitFor(() => !existsSync(`/proc/${o.bwrap.pid}`))).toBe(true);
    if (process.getuid?.() === 0) expect(await waitFor(() => processesOfUid(info.uid).length === 0)).toBe(true);
    // Leftovers until a provider starts: owner record, socket, cgroups.
    expect(existsSync(join(h.root, info.id, "owner.json"))).toBe(true);

    const fresh = h.make({ network: "isolated" });
    expect((await fresh.list({ from: "doomed" }))[0]).toMatchObject({ id: info.id, state: "stopped" });
    await fresh.preflight();
    await fresh.start(info.id); // the first operation runs the clean-up pass
    // The same groups serve the new run: only its processes may be in them (slirp4netns included: its buffers count).
    const now = owner(info.id);
    const alive = [now.bwrap.pid, now.slirp?.pid, ...pidsInNamespace(now.init.pid)];
    for (const dir of now.cgroups as string[])
      for (const pid of readFileSync(join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) expect(alive).toContain(Number(pid));
    const sb = await fresh.connect(info.id);
    expect((await sb.exec("cat /tmp/child-marker 2>&1; pgrep -c -x sleep; true")).output).toMatch(/No such file[\s\S]*\n0\n$/);
    expect(owner(info.id).owner.pid).toBe(process.pid);
  });
});
