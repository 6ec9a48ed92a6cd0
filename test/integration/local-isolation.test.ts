/**
 * Each test tries to BREAK an isolation claim of the local provider, judged from
 * the host where it matters (file owners, process uids, host files untouched).
 */
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { harness, type Harness } from "../support/local-harness.js";
import { hostUid } from "../support/processes.js";

const SECRET = `ocsb-secret-${Math.random().toString(36).slice(2)}`;
let hostDir: string;
let hostFile: string;
let h: Harness;
let a: Sandbox;
let b: Sandbox;

beforeAll(async () => {
  // Secrets in OpenCode's environment, as a model key or a Daytona key would be.
  process.env.OCSB_TEST_API_KEY = SECRET;
  process.env.ANTHROPIC_API_KEY = SECRET;
  hostDir = await mkdtemp(join(tmpdir(), "ocsb-host-"));
  hostFile = join(hostDir, "id_rsa");
  await writeFile(hostFile, `HOST-PRIVATE ${SECRET}\n`);
  h = await harness({ network: "none" });
  a = await h.provider.create({ labels: { test: "iso", name: "a" } });
  b = await h.provider.create({ labels: { test: "iso", name: "b" } });
});

afterAll(async () => {
  delete process.env.OCSB_TEST_API_KEY;
  delete process.env.ANTHROPIC_API_KEY;
  await h?.cleanup();
  await rm(hostDir, { recursive: true, force: true });
});

describe("local sandbox isolation", () => {
  it("does not show the host's home, the real project directory, host /tmp or other files", async () => {
    const probes = [homedir(), process.cwd(), hostDir, hostFile, h.root, "/work", "/root/.ssh", join(process.cwd(), "package.json")];
    const r = await a.exec(probes.map((p) => `test -e '${p}' && echo "VISIBLE ${p}"`).join("; ") + "; ls -A /home; echo done");
    expect(r.output).not.toContain("VISIBLE");
    expect(r.output).toBe("user\ndone\n");
    // The file API is as blind as the shell.
    await expect(a.readFile(hostFile)).rejects.toMatchObject({ kind: "file_not_found" });
    await expect(a.readFile("/etc/shadow")).rejects.toMatchObject({ kind: "file_not_found" });
  });

  it("refuses writes outside the workspace, HOME and /tmp", async () => {
    for (const path of ["/usr/bin/evil", "/etc/passwd", "/evil", "/opt/opencode-sandbox/agent.mjs", "/proc/sys/kernel/hostname", "/home/evil"]) {
      const r = await a.exec(`echo x > '${path}' 2>/dev/null && echo WROTE`);
      expect(r.output, path).not.toContain("WROTE");
      await expect(a.writeFile(path, "x"), path).rejects.toMatchObject({ kind: expect.stringMatching(/permission_denied|file_not_found|not_directory/) });
    }
    expect((await a.exec("touch /workspace/ok ~/ok /tmp/ok && echo fine")).output).toBe("fine\n");
  });

  it("keeps /proc/sys read-only (judged from the host too)", async () => {
    const before = await readFile("/proc/sys/kernel/domainname", "utf8");
    const r = await a.exec("echo hacked > /proc/sys/kernel/domainname; echo 1 > /proc/sys/vm/drop_caches; cat /proc/sys/kernel/domainname");
    expect(r.output).toMatch(/Read-only file system|Permission denied/);
    expect(await readFile("/proc/sys/kernel/domainname", "utf8")).toBe(before);
  });

  it("runs as an ordinary user inside and never as host uid 0 (files and processes judged from the host)", async () => {
    expect((await a.exec("id -u; id -un")).output).toMatch(/^\d+\nuser\n$/);
    expect((await a.exec("id -u")).output.trim()).not.toBe("0");
    await a.exec("echo made > /workspace/owned-by; mkdir -p ~/cache && touch ~/cache/f");
    const file = await stat(join(h.root, a.id, "project", "owned-by"));
    expect(file.uid).not.toBe(0);
    if (process.getuid?.() !== 0) expect(file.uid).toBe(process.getuid?.());
    // A background process and every process in the sandbox's pid namespace, seen from the host.
    await a.exec("sleep 313.5 >/dev/null 2>&1 &");
    const owner = JSON.parse(await readFile(join(h.root, a.id, "owner.json"), "utf8"));
    const { readdirSync, readlinkSync } = await import("node:fs");
    const ns = readlinkSync(`/proc/${owner.init.pid}/ns/pid`);
    const inside = readdirSync("/proc").filter((p) => /^\d+$/.test(p)).filter((p) => {
      try {
        return readlinkSync(`/proc/${p}/ns/pid`) === ns;
      } catch {
        return false;
      }
    });
    expect(inside.length).toBeGreaterThanOrEqual(3); // init, agent, sleep
    const sleeper = inside.find((p) => readFileSync(`/proc/${p}/cmdline`, "utf8").includes("313.5"));
    expect(sleeper).toBeDefined();
    for (const pid of [...inside, String(owner.bwrap.pid)]) expect(hostUid(Number(pid)), `pid ${pid}`).not.toBe(0);
    if (process.getuid?.() === 0) expect(hostUid(Number(sleeper))).toBe(file.uid);
  });

  it("holds no capabilities and cannot gain any (no_new_privs), also in a command's children", async () => {
    const r = await a.exec("sh -c 'grep -E \"^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs):\" /proc/self/status'");
    const fields = Object.fromEntries(r.output.trim().split("\n").map((l) => l.split(/:\s+/)));
    expect(Object.keys(fields)).toHaveLength(6);
    for (const cap of ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]) expect(fields[cap], cap).toMatch(/^0+$/);
    expect(fields.NoNewPrivs).toBe("1");
  });

  it("keeps host environment secrets out of commands and of the agent", async () => {
    const r = await a.exec("env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'");
    expect(r.output).not.toContain(SECRET);
    expect(r.output).not.toContain("OCSB_TEST_API_KEY");
    expect(r.output).not.toContain("ANTHROPIC_API_KEY");
    expect(r.output).toContain("HOME=/home/user");
  });

  it("sandbox A cannot see sandbox B's files, processes or socket", async () => {
    await b.writeFile("/workspace/b-only.txt", SECRET);
    await b.exec("echo b > /tmp/b-tmp; sleep 314.5 >/dev/null 2>&1 &");
    const r = await a.exec(
      `grep -rl '${SECRET}' /workspace /home /tmp /run 2>/dev/null; ls /tmp; ps -eo args | grep -c '[3]14[.]5'; find / -name 'b-only.txt' -not -path '/proc/*' 2>/dev/null; ls /run/opencode`,
    );
    expect(r.output).not.toContain("b-only");
    expect(r.output).not.toContain("b-tmp");
    expect(r.output).toMatch(/(^|\n)0\n/); // B's sleeper is not among A's processes
    expect((await b.exec("cat /workspace/b-only.txt")).output).toBe(SECRET);
    expect((await b.exec("ps -eo args | grep -c '[3]14[.]5'")).output).toBe("1\n"); // the probe does see it where it runs
  });

  it("never returns a host file through a symlink, absolute or relative", async () => {
    await a.exec(
      `ln -s '${hostFile}' /workspace/k1; ln -s /root/.ssh/id_rsa /workspace/k2; ln -s / /workspace/rootlink; ln -s ../../../../../../../..'${hostFile}' /workspace/k3`,
    );
    for (const p of ["/workspace/k1", "/workspace/k2", "/workspace/k3", `/workspace/rootlink${hostFile}`, `/workspace/rootlink/../..${hostFile}`]) {
      const got = await a.readFile(p).then((d) => Buffer.from(d).toString(), (e) => `error:${e.kind}`);
      expect(got, p).not.toContain("HOST-PRIVATE");
    }
    // Writing through a link to a host path does not reach the host.
    await a.writeFile("/workspace/k1", "overwritten").catch(() => {});
    expect(await readFile(hostFile, "utf8")).toContain("HOST-PRIVATE");
    expect((await a.exec(`cat /workspace/k1 /workspace/k2 2>&1; cat '${hostFile}' 2>&1`)).output).not.toContain("HOST-PRIVATE");
  });

  it("a symlink-swap race never yields a host file", async () => {
    // A background job swaps a directory holding f for a symlink to the host directory holding the secret.
    await a.exec(
      `mkdir -p /workspace/race-real && echo inside > /workspace/race-real/id_rsa; ` +
        `(while :; do rm -rf /workspace/race; ln -s '${hostDir}' /workspace/race; rm -f /workspace/race; cp -r /workspace/race-real /workspace/race; done) >/dev/null 2>&1 &`,
    );
    let inside = 0;
    // A number of reads, not a time: and on until the race was seen running (the bound only catches a hang).
    const bound = Date.now() + 120_000;
    for (let i = 0; i < 200 || inside === 0; i++) {
      if (Date.now() > bound) throw new Error(`the swapping job never showed the inside file in ${i} reads`);
      const got = await a.readFile("/workspace/race/id_rsa").then((d) => Buffer.from(d).toString(), () => "");
      expect(got).not.toContain("HOST-PRIVATE");
      if (got === "inside\n") inside++;
      const st = await a.stat("/workspace/race/id_rsa").catch(() => null);
      expect(st?.size ?? 0).toBeLessThan(20);
    }
    expect(inside).toBeGreaterThan(0); // the race did run
    await a.exec("pkill -f race-real; true");
  });
});

describe("host loopback is unreachable from inside", () => {
  let server: Server;
  let port: number;
  beforeAll(async () => {
    server = createServer((s) => s.end("HOST-SERVICE\n"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  for (const network of ["none", "isolated"] as const) {
    it(`network ${network}`, async () => {
      const hh = network === "none" ? h : await harness({ network });
      try {
        const sb = network === "none" ? a : await hh.provider.create({ labels: { test: "loopback" } });
        const py = (host: string) =>
          `python3 -c "import socket; s=socket.create_connection(('${host}', ${port}), timeout=2); print('CONNECTED', s.recv(64))" 2>&1 | tail -1`;
        const hosts = ["127.0.0.1", "localhost", "10.0.2.2", "10.0.2.3", "0.0.0.0"];
        const r = await sb.exec(hosts.map(py).join("; "), { timeoutMs: 120_000 });
        // Every attempt ended with its own line (a timed-out run would prove nothing).
        expect(r.timedOut).toBeFalsy();
        expect(r.output.trim().split("\n")).toHaveLength(hosts.length);
        expect(r.output).not.toContain("CONNECTED");
        expect(r.output).not.toContain("HOST-SERVICE");
        if (network === "isolated") {
          // …while the sandbox does have its own network stack.
          expect((await sb.exec("cat /proc/net/dev")).output).toContain("tap0");
        }
      } finally {
        if (hh !== h) await hh.cleanup();
      }
    });
  }
});
