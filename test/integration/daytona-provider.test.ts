/**
 * The Daytona provider through the real SDK against the stand-in: what it asks Daytona
 * for, its states, its errors, what a tool call costs in requests, faults, and many
 * sessions at once. The exec/file contract itself is test/contract/.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigSchema } from "../../.opencode/plugin/sandbox/config.js";
import { DaytonaProvider, INSTALLATION_LABEL, type DaytonaProviderOptions } from "../../.opencode/plugin/sandbox/providers/daytona/index.js";
import { isSandboxError, type Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { ProjectService } from "../../.opencode/plugin/sandbox/service/project.js";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { SessionManager } from "../../.opencode/plugin/sandbox/core/session-manager.js";
import { StateStore } from "../../.opencode/plugin/sandbox/core/state-store.js";
import { startDaytonaStandin, type DaytonaStandin } from "../standin/daytona/index.js";
import { memoryLogger } from "../support/local-harness.js";
import { lacks, missingBwrap } from "../support/prereq.js";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const defaults = (() => {
  const { apiKey: _, ...rest } = ConfigSchema.parse({}).daytona;
  return rest;
})();

describe("Daytona provider against the stand-in", () => {
  if (lacks(missingBwrap())) return;

  let standin: DaytonaStandin;
  const log = memoryLogger();
  const make = (extra: Partial<DaytonaProviderOptions> = {}) =>
    new DaytonaProvider({ ...defaults, apiKey: standin.apiKey, apiUrl: standin.apiUrl, target: "us", installationId: "inst000000000001", log, retry: { attempts: 5, baseMs: 10, maxMs: 200 }, ...extra });
  let provider: DaytonaProvider;
  let sb: Sandbox;

  beforeAll(async () => {
    standin = await startDaytonaStandin({ daemon: "shell" });
    provider = make({ env: { SANDBOX_SETTING: "on" }, autoStopMinutes: 30, networkAllowList: ["10.0.0.0/8"], domainAllowList: ["registry.npmjs.org", "*.github.com"] });
    sb = await provider.create({ labels: { plugin: "opencode-sandboxed", project: "p1", session: "ses_main" } });
  }, 120_000);
  afterAll(async () => {
    await provider?.dispose();
    await standin?.close();
  });

  it("asks Daytona for what the configuration says, labelled for this installation", () => {
    const record = standin.sandbox(sb.id)!;
    expect(record.createRequest).toMatchObject({
      labels: { plugin: "opencode-sandboxed", project: "p1", session: "ses_main", [INSTALLATION_LABEL]: "inst000000000001" },
      env: { SANDBOX_SETTING: "on" }, // the SDK sends envVars as `env`
      public: false,
      autoStopInterval: 30,
      autoArchiveInterval: defaults.autoArchiveMinutes,
      autoDeleteInterval: defaults.autoDeleteMinutes,
      networkAllowList: "10.0.0.0/8",
      domainAllowList: "registry.npmjs.org,*.github.com",
    });
    expect(record.createRequest.name).toMatch(/^opencode-sesmain-[0-9a-f]{6}$/);
  });

  it("the API key never reaches the sandbox, a command's output or the log", async () => {
    const r = await sb.exec("env; cat /proc/*/environ 2>/dev/null | tr '\\0' '\\n'");
    expect(r.output).toContain("SANDBOX_SETTING=on");
    expect(r.output).not.toContain(standin.apiKey);
    expect(log.lines.join("\n")).not.toContain(standin.apiKey);
  });

  it("what a call costs when the sandbox runs: one request each (a preview link once, then cached)", async () => {
    const cost = async (fn: () => Promise<unknown>) => {
      standin.resetRequests();
      await fn();
      return standin.requests.filter((r) => !r.upgrade).map((r) => `${r.method} ${r.path.replace(sb.id, "{id}")}`);
    };
    expect(await cost(() => sb.exec("echo hi"))).toEqual(["POST /toolbox/{id}/process/execute"]);
    expect(await cost(() => sb.writeFile("budget.txt", "small\n"))).toEqual(["POST /toolbox/{id}/process/execute"]);
    expect(await cost(() => sb.readFile("budget.txt"))).toHaveLength(1);
    expect(await cost(() => sb.stat("budget.txt"))).toHaveLength(1);
    expect(await cost(() => sb.readDir("."))).toHaveLength(1);
    expect(await cost(() => sb.previewUrl(8080))).toHaveLength(1);
    expect(await cost(() => sb.previewUrl(8080))).toEqual([]);
  });

  it("a stopped sandbox is started again; an archived one too; work survives", async () => {
    await sb.writeFile("kept.txt", "kept\n");
    for (const how of ["stop", "archive"] as const) {
      await standin.platform[how](sb.id);
      // The state rides on the error: an archived sandbox is told to take longer to start.
      await expect(provider.connect(sb.id)).rejects.toSatisfy((e) => isSandboxError(e, "not_running") && e.state === (how === "stop" ? "stopped" : "archived"));
      expect((await provider.get(sb.id)).state).toBe("stopped");
      await provider.start(sb.id);
      const again = await provider.connect(sb.id);
      expect(Buffer.from(await again.readFile("kept.txt")).toString()).toBe("kept\n");
    }
  }, 120_000);

  it("a sandbox stopped behind the session's back: the live handle says not_running (not a network failure, not retried)", async () => {
    const other = await provider.create({ labels: { session: "ses_stopped_handle" } });
    try {
      await standin.platform.stop(other.id);
      for (const call of [() => other.exec("echo hi"), () => other.readFile("x.txt")]) {
        standin.resetRequests();
        await expect(call()).rejects.toSatisfy((e) => isSandboxError(e, "not_running") && /Is the Sandbox started\?/.test((e as Error).message));
        // One toolbox request: Daytona's answer is taken at its word, not retried as a lost one.
        expect(standin.requests.filter((r) => r.path.startsWith(`/toolbox/${other.id}/`))).toHaveLength(1);
      }
    } finally {
      await provider.delete(other.id);
    }
  }, 120_000);

  it.each(["exec", "readFile"] as const)("a session's sandbox stopped behind its back: the next %s works, on the same sandbox started again", async (call) => {
    const dir = await mkdtemp(join(tmpdir(), "dt-session-"));
    const sessionLog = memoryLogger();
    const manager = new SessionManager({
      projectId: "p-stopped",
      store: new StateStore({ projectId: "p-stopped", worktree: "/w", log: silentLogger, dir: join(dir, "state") }),
      log: sessionLog,
      notify: () => {},
      provider: async () => provider,
    });
    const session = `ses_stopped_${call}`;
    try {
      const handle = await manager.sandboxFor(session);
      const id = handle.id;
      await handle.writeFile("kept.txt", "kept\n");
      await standin.platform.stop(id);
      expect((await provider.get(id)).state).toBe("stopped");

      const again = await manager.sandboxFor(session);
      const result = call === "exec" ? (await again.exec("cat kept.txt")).output : Buffer.from(await again.readFile("kept.txt")).toString();
      expect(result).toBe("kept\n");
      expect(again.id).toBe(id);
      expect((await provider.get(id)).state).toBe("started");
      expect(sessionLog.lines).toContainEqual(expect.stringMatching(new RegExp(`starting stopped sandbox ${id}`)));
      // Started once: the call was redone on it, with no blind retries in between.
      expect(standin.requests.filter((r) => r.method === "POST" && r.path.endsWith(`/sandbox/${id}/start`))).toHaveLength(1);
    } finally {
      await manager.delete(session);
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);

  it("a failed sandbox is recovered when it can be, and says why when it cannot", async () => {
    const other = await provider.create({ labels: { session: "ses_fail" } });
    await standin.platform.fail(other.id, "disk full", true);
    expect((await provider.get(other.id)).state).toBe("error");
    await provider.start(other.id);
    expect((await provider.get(other.id)).state).toBe("started");
    await standin.platform.fail(other.id, "host lost", false);
    await expect(provider.start(other.id)).rejects.toThrow(/cannot be recovered: host lost/);
    await provider.delete(other.id);
  }, 120_000);

  it("a vanished sandbox is not found; deleting one that is gone is not an error", async () => {
    const gone = await provider.create({ labels: { session: "ses_gone" } });
    await standin.platform.vanish(gone.id);
    await expect(provider.get(gone.id)).rejects.toSatisfy((e) => isSandboxError(e, "sandbox_not_found"));
    await expect(provider.connect(gone.id)).rejects.toSatisfy((e) => isSandboxError(e, "sandbox_not_found"));
    await provider.delete(gone.id);
  }, 120_000);

  it("a wrong key: one message naming DAYTONA_API_KEY and the URL used", async () => {
    const wrong = make({ apiKey: "not-the-key" });
    const error = await wrong.preflight().catch((e: unknown) => e);
    expect(isSandboxError(error, "auth")).toBe(true);
    expect((error as Error).message).toContain("DAYTONA_API_KEY");
    expect((error as Error).message).toContain(standin.apiUrl);
    const report = await wrong.diagnose();
    expect(report.available).toBe(false);
    expect(report.checks.find((c) => c.name === "api key")).toMatchObject({ ok: false, fix: expect.stringContaining("DAYTONA_API_KEY") });
    await wrong.dispose();
  });

  it("a quota says which limit", async () => {
    const rule = standin.faults.add({ match: { method: "POST", path: "/api/sandbox" }, fault: { status: 400, body: { statusCode: 400, message: "Total CPU limit exceeded. Maximum allowed: 10.", error: "Bad Request" } } });
    const error = await provider.create({ labels: { session: "ses_quota" } }).catch((e: unknown) => e);
    rule.remove();
    expect(isSandboxError(error, "quota")).toBe(true);
    expect((error as Error).message).toContain("Total CPU limit exceeded. Maximum allowed: 10.");
  });

  it("a create whose answer was lost is found, not made twice", async () => {
    const rule = standin.faults.add({ match: { method: "POST", path: "/api/sandbox" }, when: "after", fault: { drop: true } });
    const made = await provider.create({ labels: { session: "ses_lost" } });
    rule.remove();
    expect(rule.hits).toBe(1);
    expect((await provider.list({ session: "ses_lost" })).map((s) => s.id)).toEqual([made.id]);
  }, 120_000);

  it("lists only this installation's sandboxes", async () => {
    const stranger = make({ installationId: "inst000000000002" });
    const theirs = await stranger.create({ labels: { project: "p1", session: "ses_main" } });
    expect((await provider.list({ project: "p1", session: "ses_main" })).map((s) => s.id)).toEqual([sb.id]);
    expect((await stranger.list({ project: "p1" })).map((s) => s.id)).toEqual([theirs.id]);
    await stranger.delete(theirs.id);
    await stranger.dispose();
  }, 120_000);

  it("20 sessions creating their sandboxes at once, with lost answers: 20 sandboxes, no duplicate, no leak", async () => {
    const dir = await mkdtemp(join(tmpdir(), "daytona-many-"));
    const faults = standin.faults.add({ match: { path: /\/process\/execute$|^\/api\/sandbox$/ }, when: "after", probability: 0.1, times: Infinity, fault: { status: 502 } });
    const service = new ProjectService({
      projectId: "many",
      worktree: dir,
      directory: dir,
      config: ConfigSchema.parse({ provider: "daytona", sync: { enabled: false } }),
      log,
      notify: () => {},
      // Outside the folder: the folder (no git) is copied into each sandbox.
      stateDir: `${dir}-state`,
      // Its private repository too: never the real data home.
      filesDir: `${dir}-files`,
      provider: async () => provider,
    });
    const sessions = Array.from({ length: 20 }, (_, i) => `ses_many${String(i).padStart(2, "0")}`);
    const sandboxes = await Promise.all(sessions.map((id) => service.sandboxFor(id)));
    faults.remove();
    expect(faults.hits).toBeGreaterThan(0);
    const ids = sandboxes.map((s) => s.id);
    expect(new Set(ids).size).toBe(20);
    const listed = await provider.list({ project: "many" });
    expect(listed.map((s) => s.id).sort()).toEqual([...ids].sort());
    for (const id of sessions) await service.manager.delete(id);
    expect(await provider.list({ project: "many" })).toEqual([]);
    await service.dispose();
    for (const d of [dir, `${dir}-state`, `${dir}-files`]) await rm(d, { recursive: true, force: true });
  }, 300_000);
});
