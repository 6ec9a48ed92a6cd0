/**
 * Resource limits hold for every command entered into the sandbox, not only the
 * first one, and a limit that cannot be applied is reported — never silently skipped.
 * Limits here: 256 MiB memory, 128 processes, 1024 open files (test/support/local-harness.ts).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { harness, LIMITS, type Harness } from "../support/local-harness.js";
import { lacks, missingRoot } from "../support/prereq.js";
import { until } from "../support/until.js";

let h: Harness;
let sb: Sandbox;
const root = process.getuid?.() === 0;

beforeAll(async () => {
  h = await harness({ network: "none" });
  sb = await h.provider.create({ labels: { test: "limits" } });
});
afterAll(async () => {
  await h?.cleanup();
});

const hog = (mb: number) => `python3 -c "b = bytearray(${mb} * 1024 * 1024); print('ALLOCATED')"`;

describe("local sandbox limits", () => {
  it("reports what is enforced (root here: cgroups for memory and processes)", async () => {
    const report = await h.provider.limits();
    expect(report.maxOpenFiles).toMatchObject({ enforced: true, applied: LIMITS.maxOpenFiles });
    expect(report.memoryMb.applied).toBe(LIMITS.memoryMb);
    if (root) {
      expect(report.memoryMb.enforced).toBe(true);
      expect(report.maxProcesses.enforced).toBe(true);
      expect(report.warnings).toEqual([]);
    } else {
      // Whatever is not enforced must say so.
      for (const l of [report.memoryMb, report.maxProcesses]) if (!l.enforced) expect(l.detail).toMatch(/NOT enforced/);
    }
  });

  it("clamps open files to what the machine allows", async () => {
    const { LocalProvider } = await import("../../.opencode/plugin/sandbox/providers/local/index.js");
    const p = new LocalProvider({ root: h.root, network: "none", memoryMb: 10 ** 9, maxProcesses: 10 ** 9, maxOpenFiles: 10 ** 9, log: (await import("../../.opencode/plugin/sandbox/core/logger.js")).silentLogger });
    const report = await p.limits();
    expect(report.maxOpenFiles.applied).toBeLessThan(10 ** 9);
    expect(report.memoryMb.applied).toBeLessThan(10 ** 9);
    expect(report.maxProcesses.applied).toBeLessThan(10 ** 9);
  });

  it("applies the open-files limit to every command", async () => {
    expect((await sb.exec("ulimit -n; ulimit -Hn")).output).toBe(`${LIMITS.maxOpenFiles}\n${LIMITS.maxOpenFiles}\n`);
    const r = await sb.exec(`python3 -c "import resource; resource.setrlimit(resource.RLIMIT_NOFILE, (10**6, 10**6))" 2>&1 | tail -1`);
    expect(r.output).toMatch(/ValueError|not allowed|Operation not permitted/);
  });
});

describe("local sandbox limits enforced by cgroups", () => {
  if (lacks(missingRoot())) return;

  it("contains a memory hog, also in a command entered later, and the sandbox lives on", async () => {
    expect((await sb.exec(hog(64))).output).toContain("ALLOCATED");
    const first = await sb.exec(hog(400), { timeoutMs: 20_000 });
    expect(first.output).not.toContain("ALLOCATED");
    expect(first.exitCode).not.toBe(0);
    // A later command, started in the background from yet another call.
    await sb.exec(`(${hog(400)} > /tmp/hog.out 2>&1; echo "exit $?" >> /tmp/hog.out) &`);
    let out = "";
    await until(async () => (out = (await sb.exec("cat /tmp/hog.out 2>/dev/null")).output).includes("exit"), "the background hog to end");
    expect(out).not.toContain("ALLOCATED");
    expect(out).toMatch(/exit (137|1)/);
    expect((await sb.exec("echo alive")).output).toBe("alive\n");
  });

  it("contains a fork loop and a fork bomb, and the sandbox lives on", async () => {
    const loop = await sb.exec("for i in $(seq 1 400); do sleep 60 & done 2>/dev/null; ps -e --no-headers | wc -l", { timeoutMs: 30_000 });
    expect(Number(loop.output.trim().split("\n").pop())).toBeLessThanOrEqual(LIMITS.maxProcesses);
    await sb.exec("pkill -x sleep; true");
    // The classic bomb keeps itself going in the background: contained means the host
    // sees at most the limit, and stopping the sandbox ends it.
    const owner = JSON.parse(readFileSync(join(h.root, sb.id, "owner.json"), "utf8")) as { cgroups: string[] };
    const pidsGroup = owner.cgroups.find((d) => d.includes("/pids/"))!;
    const limitHits = () => Number(readFileSync(join(pidsGroup, "pids.events"), "utf8").split(" ")[1]);
    const hitsBefore = limitHits();
    await sb.exec("b() { b | b & }; b", { timeoutMs: 3000 }).catch(() => {});
    await until(() => limitHits() > hitsBefore, "the bomb to reach the process limit");
    expect(Number(readFileSync(join(pidsGroup, "pids.current"), "utf8"))).toBeLessThanOrEqual(LIMITS.maxProcesses);
    await h.provider.stop(sb.id);
    await h.provider.start(sb.id);
    sb = await h.provider.connect(sb.id);
    expect((await sb.exec("ps -e --no-headers | wc -l")).output.trim()).toMatch(/^[1-9]$/);
    const later = await sb.exec("for i in $(seq 1 400); do sleep 60 & done 2>/dev/null; ps -e --no-headers | wc -l", { timeoutMs: 30_000 });
    expect(Number(later.output.trim().split("\n").pop())).toBeLessThanOrEqual(LIMITS.maxProcesses);
    await sb.exec("pkill -x sleep; true");
  }, 180_000);
});
