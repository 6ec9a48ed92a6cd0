/**
 * The REAL @daytonaio/sdk (pinned 0.218) against the local Daytona stand-in
 * (test/standin/daytona/): what a Daytona provider can rely on from the SDK, and the
 * traps of the API it must work around (the two daemon behaviours of process/execute,
 * the output-pipe hang, faults after the work was done). Behaviour is asserted, never
 * timings; waits poll a condition with an upper bound for hangs only.
 */
import { randomBytes } from "node:crypto";
import {
  Daytona,
  DaytonaAuthenticationError,
  DaytonaConflictError,
  DaytonaConnectionError,
  DaytonaFileNotFoundError,
  DaytonaInternalServerError,
  DaytonaNotFoundError,
  DaytonaRateLimitError,
  DaytonaTimeoutError,
  type DaytonaConfig,
  type Sandbox,
} from "@daytonaio/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lacks, missingBwrap, missingCommand, missingRoot } from "../support/prereq.js";
import { until } from "../support/until.js";
import { startDaytonaStandin, type DaytonaStandin } from "./daytona/index.js";

const LONG = { timeout: 120_000 };

/** Every setting explicit: nothing comes from DAYTONA_* in the environment or a .env of the cwd. */
function client(standin: DaytonaStandin, extra: Partial<DaytonaConfig> = {}): Daytona {
  return new Daytona({ apiKey: standin.apiKey, apiUrl: standin.apiUrl, target: "us", useDeprecatedPolling: false, otelEnabled: false, ...extra });
}

async function rejection(p: Promise<unknown>): Promise<Error & { statusCode?: number; headers?: Record<string, string> }> {
  try {
    await p;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the call to fail");
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** A command's exit code in a session once it has one. */
async function sessionExit(sb: Sandbox, session: string, cmdId: string): Promise<number> {
  let code: number | undefined;
  await until(async () => (code = (await sb.process.getSessionCommand(session, cmdId)).exitCode) !== undefined, `exit code of ${cmdId}`);
  return code!;
}

describe("Daytona stand-in driven by the real SDK", () => {
  if (lacks(missingRoot(), missingBwrap(), missingCommand("python3"))) return;

  describe("newer daemon (shell)", () => {
    let standin: DaytonaStandin;
    let daytona: Daytona;
    let sb: Sandbox;
    const label = { suite: `shell-${randomBytes(4).toString("hex")}` };

    beforeAll(async () => {
      // Starts last long enough for two concurrent start calls to meet.
      standin = await startDaytonaStandin({ daemon: "shell", startingMs: 2000 });
      daytona = client(standin);
      sb = await daytona.create(
        {
          name: `standin-${label.suite}`,
          labels: label,
          envVars: { GREETING: "hello from envVars" },
          autoStopInterval: 0,
          autoArchiveInterval: 60,
          autoDeleteInterval: -1,
          public: false,
          networkBlockAll: false,
          networkAllowList: "10.0.0.0/8",
        },
        { timeout: 90 },
      );
    }, 120_000);
    afterAll(async () => {
      await daytona?.[Symbol.asyncDispose]();
      await standin?.close();
    }, 60_000);

    it("create answers once started; the request body is recorded; get by id and name; list by labels", async () => {
      expect(sb.state).toBe("started");
      const record = standin.sandbox(sb.id)!;
      expect(record.createRequest).toMatchObject({
        name: `standin-${label.suite}`,
        labels: { ...label, "code-toolbox-language": "python" },
        env: { GREETING: "hello from envVars" },
        autoStopInterval: 0,
        autoArchiveInterval: 60,
        autoDeleteInterval: -1,
        public: false,
        networkAllowList: "10.0.0.0/8",
        target: "us",
      });
      // POST /sandbox answers the record as inserted ("creating"): the SDK polled GET until started.
      expect(standin.requests.some((r) => r.method === "GET" && r.path === `/api/sandbox/${sb.id}`)).toBe(true);
      expect((await daytona.get(sb.id)).labels).toMatchObject(label);
      expect((await daytona.get(`standin-${label.suite}`)).id).toBe(sb.id);
      const listed = await collect(daytona.list({ labels: label }));
      expect(listed.map((s) => s.id)).toEqual([sb.id]);
      expect(await collect(daytona.list({ labels: { suite: "nobody" } }))).toEqual([]);
      expect(await sb.getWorkDir()).toBe("/workspace");
      expect(await sb.getUserHomeDir()).toBe("/home/user");
      await sb.setLabels({ ...label, extra: "yes" });
      expect((await daytona.get(sb.id)).labels).toEqual({ ...label, extra: "yes" });
      await sb.setAutostopInterval(30);
      expect(standin.sandbox(sb.id)!.autoStopInterval).toBe(30);
    });

    it("a concurrent caller sees `creating` while a create runs", LONG, async () => {
      const other = client(standin);
      const labels = { race: randomBytes(4).toString("hex") };
      const creating = daytona.create({ labels }, { timeout: 90 });
      let seen: string[] = [];
      await until(async () => (seen = (await collect(other.list({ labels }))).map((s) => s.state!)).includes("creating"), "creating in list");
      const made = await creating;
      expect(made.state).toBe("started");
      expect((await collect(other.list({ labels })))[0]!.state).toBe("started");
      await made.delete();
      await other[Symbol.asyncDispose]();
    });

    it("execute pipes the command into a shell: &&, exit codes, cwd, envs, envVars", async () => {
      const both = await sb.process.executeCommand("echo a && echo b");
      expect(both).toMatchObject({ exitCode: 0, result: "a\nb\n" });
      const mixed = await sb.process.executeCommand("echo out; echo err >&2; exit 3");
      expect(mixed.exitCode).toBe(3);
      expect(mixed.result).toContain("out\n");
      expect(mixed.result).toContain("err\n");
      expect((await sb.process.executeCommand("pwd")).result).toBe("/workspace\n");
      expect((await sb.process.executeCommand("pwd", "/tmp")).result).toBe("/tmp\n");
      expect((await sb.process.executeCommand("echo $FOO", undefined, { FOO: "bar" })).result).toBe("bar\n");
      expect((await sb.process.executeCommand("echo $GREETING")).result).toBe("hello from envVars\n");
      const badCwd = await sb.process.executeCommand("pwd", "/does/not/exist");
      expect(badCwd.exitCode).toBe(-1);
    });

    it("timeout: 408 surfaced as the SDK's timeout error; the command's whole process group is killed", LONG, async () => {
      const error = await rejection(sb.process.executeCommand("sleep 300 >/dev/null 2>&1 & exec sleep 200", undefined, undefined, 1));
      expect(error).toBeInstanceOf(DaytonaTimeoutError);
      expect(error.statusCode).toBe(408);
      await until(async () => (await sb.process.executeCommand("pgrep -f 'sleep [23]00' || true")).result === "", "group killed");
    });

    it("`server &` without redirections holds the call (the output-pipe trap); with them it returns", LONG, async () => {
      const held = await rejection(sb.process.executeCommand("sleep 120 &", undefined, undefined, 2));
      expect(held).toBeInstanceOf(DaytonaTimeoutError);
      const detached = await sb.process.executeCommand("sleep 120 >/dev/null 2>&1 &", undefined, undefined, 60);
      expect(detached.exitCode).toBe(0);
      await sb.process.executeCommand("pkill -f 'sleep 120' || true");
    });

    it("a client that goes away does not stop the command", LONG, async () => {
      const impatient = client(standin, { requestTimeoutMs: 1_500 });
      const same = await impatient.get(sb.id);
      const error = await rejection(same.process.executeCommand("sleep 6; echo finished > /workspace/after-disconnect"));
      expect(error).toBeInstanceOf(DaytonaConnectionError);
      await until(async () => (await sb.process.executeCommand("cat /workspace/after-disconnect 2>/dev/null || true")).result === "finished\n", "command finished");
      await impatient[Symbol.asyncDispose]();
    });

    it("a command that kills the daemon gets the proxy's 502; the next command finds a new daemon", LONG, async () => {
      const before = (await sb.process.executeCommand("pgrep -x daytona-daemon")).result.trim();
      expect(before).toMatch(/^\d+$/);
      const error = await rejection(sb.process.executeCommand("pkill -KILL -x daytona-daemon; sleep 1"));
      expect(error.statusCode).toBe(502);
      const after = (await sb.process.executeCommand("pgrep -x daytona-daemon")).result.trim();
      expect(after).toMatch(/^\d+$/);
      expect(after).not.toBe(before);
    });

    it("files: binary upload/download round trip, info, list, folders, delete, missing file", async () => {
      const bytes = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(300_000)]);
      await sb.fs.uploadFile(bytes, "data/blob.bin");
      await sb.fs.uploadFiles([
        { source: Buffer.from("one"), destination: "/workspace/multi/one.txt" },
        { source: Buffer.from("two"), destination: "multi/two.txt" },
      ]);
      expect(Buffer.compare(await sb.fs.downloadFile("data/blob.bin"), bytes)).toBe(0);
      expect((await sb.fs.downloadFile("/workspace/multi/two.txt")).toString()).toBe("two");
      const results = await sb.fs.downloadFiles([{ source: "multi/one.txt" }, { source: "multi/missing.txt" }]);
      expect(results[0]!.result?.toString()).toBe("one");
      expect(results[1]!.error).toMatch(/not found/);
      expect(await rejection(sb.fs.downloadFile("nope/missing.bin"))).toBeInstanceOf(DaytonaFileNotFoundError);

      const info = await sb.fs.getFileDetails("data/blob.bin");
      expect(info).toMatchObject({ name: "blob.bin", isDir: false, size: bytes.length });
      expect((await sb.fs.listFiles("multi")).map((f) => f.name).sort()).toEqual(["one.txt", "two.txt"]);
      await sb.fs.createFolder("made/deep", "755");
      expect((await sb.fs.getFileDetails("made/deep")).isDir).toBe(true);
      await sb.fs.deleteFile("multi", true);
      expect(await rejection(sb.fs.getFileDetails("multi"))).toBeInstanceOf(DaytonaFileNotFoundError);
      expect(await rejection(sb.fs.listFiles("multi"))).toBeInstanceOf(DaytonaNotFoundError);
    });

    it("sessions: async command → cmdId at once, exit code and logs later; state carries over; delete ends its processes", LONG, async () => {
      await sb.process.createSession("work");
      const started = await sb.process.executeSessionCommand("work", { command: "echo start; sleep 1; echo done >&2; sh -c 'exit 7'", runAsync: true });
      expect(started.cmdId).toBeTruthy();
      expect(started.exitCode).toBeUndefined();
      expect(await sessionExit(sb, "work", started.cmdId)).toBe(7);
      const logs = await sb.process.getSessionCommandLogs("work", started.cmdId);
      expect(logs.stdout).toBe("start\n");
      expect(logs.stderr).toBe("done\n");

      await sb.process.executeSessionCommand("work", { command: "cd /tmp && export KEPT=yes" });
      const sync = await sb.process.executeSessionCommand("work", { command: "pwd; echo $KEPT" });
      expect(sync.exitCode).toBe(0);
      expect(sync.stdout).toBe("/tmp\nyes\n");

      await sb.process.executeSessionCommand("work", { command: "sleep 777", runAsync: true });
      await until(async () => (await sb.process.executeCommand("pgrep -f 'sleep 777' || true")).result !== "", "sleep 777 runs");
      await sb.process.deleteSession("work");
      await until(async () => (await sb.process.executeCommand("pgrep -f 'sleep 777' || true")).result === "", "session processes ended");
      expect(await rejection(sb.process.getSession("work"))).toBeInstanceOf(DaytonaNotFoundError);
    });

    it("preview: a server started in a session answers with the token, 401 without; signed URLs work alone until they expire", LONG, async () => {
      await sb.process.executeCommand("mkdir -p /tmp/www && echo hello-preview > /tmp/www/index.html");
      await sb.process.createSession("web");
      await sb.process.executeSessionCommand("web", { command: "cd /tmp/www && python3 -m http.server 8123 --bind 127.0.0.1", runAsync: true });
      const link = await sb.getPreviewLink(8123);
      await until(async () => (await fetch(link.url, { headers: { "x-daytona-preview-token": link.token } })).status === 200, "server answers");
      const ok = await fetch(`${link.url}/index.html`, { headers: { "x-daytona-preview-token": link.token } });
      expect(await ok.text()).toBe("hello-preview\n");
      expect((await fetch(link.url)).status).toBe(401);
      expect((await fetch(link.url, { headers: { "x-daytona-preview-token": "wrong" } })).status).toBe(401);

      const signed = await sb.getSignedPreviewUrl(8123, 300);
      expect(signed.url).not.toContain(sb.id);
      expect(await (await fetch(`${signed.url}/index.html`)).text()).toBe("hello-preview\n");
      await sb.expireSignedPreviewUrl(8123, signed.token);
      expect((await fetch(signed.url)).status).toBe(401);
      const brief = await sb.getSignedPreviewUrl(8123, 1);
      await until(async () => (await fetch(brief.url)).status === 401, "signed URL expired");
      await sb.process.deleteSession("web");
    });

    it("faults before a command: it never ran; after it: it ran although the client saw the error", LONG, async () => {
      const execute = new RegExp(`^/toolbox/${sb.id}/process/execute$`);
      await sb.process.executeCommand("rm -f /workspace/f");
      standin.faults.add({ match: { method: "POST", path: execute }, when: "before", fault: { status: 500 } });
      expect(await rejection(sb.process.executeCommand("echo x >> /workspace/f"))).toBeInstanceOf(DaytonaInternalServerError);
      expect((await sb.process.executeCommand("cat /workspace/f 2>/dev/null; true")).result).toBe("");

      standin.faults.add({ match: { method: "POST", path: execute }, when: "after", fault: { status: 500 } });
      expect(await rejection(sb.process.executeCommand("echo x >> /workspace/f"))).toBeInstanceOf(DaytonaInternalServerError);
      expect((await sb.process.executeCommand("cat /workspace/f")).result).toBe("x\n");

      // A dropped connection after a POST: the SDK does not retry it, the command ran anyway.
      standin.faults.add({ match: { method: "POST", path: execute }, when: "after", fault: { drop: true } });
      expect(await rejection(sb.process.executeCommand("echo y >> /workspace/f"))).toBeInstanceOf(DaytonaConnectionError);
      expect((await sb.process.executeCommand("cat /workspace/f")).result).toBe("x\ny\n");
    });

    it("faults on the control plane: 429 with Retry-After, a dropped GET the SDK retries, a slow answer, seeded random failures", LONG, async () => {
      const one = `/api/sandbox/${sb.id}`;
      standin.faults.add({ match: { method: "GET", path: one }, fault: { status: 429, retryAfter: 7 } });
      const limited = await rejection(sb.refreshData());
      expect(limited).toBeInstanceOf(DaytonaRateLimitError);
      expect(limited.headers?.["retry-after"]).toBe("7");

      standin.resetRequests();
      standin.faults.add({ match: { method: "GET", path: one }, fault: { drop: true } });
      await sb.refreshData();
      expect(standin.requests.filter((r) => r.path === one).map((r) => r.status)).toEqual([0, 200]);

      const slow = client(standin, { requestTimeoutMs: 500 });
      standin.faults.add({ match: { method: "GET", path: one }, fault: { delayMs: 5_000 } });
      expect(await rejection(slow.get(sb.id))).toBeInstanceOf(DaytonaTimeoutError);
      await slow[Symbol.asyncDispose]();

      standin.faults.seed(42);
      const flaky = standin.faults.add({ match: { method: "GET", path: `/toolbox/${sb.id}/work-dir` }, probability: 0.5, times: Infinity, fault: { status: 503 } });
      let failed = 0;
      for (let i = 0; i < 20; i++) await sb.getWorkDir().catch(() => failed++);
      flaky.remove();
      expect(failed).toBe(flaky.hits);
      expect(failed).toBeGreaterThan(0);
      expect(failed).toBeLessThan(20);
    });

    it("the request log sees every SDK call, the socket.io attempts included", async () => {
      standin.resetRequests();
      await sb.refreshData();
      await sb.process.executeCommand("true");
      await sb.fs.uploadFile(Buffer.from("x"), "counted.txt");
      expect(standin.countRequests("GET", `/api/sandbox/${sb.id}`)).toBe(1);
      expect(standin.countRequests("POST", `/toolbox/${sb.id}/process/execute`)).toBe(1);
      expect(standin.countRequests("POST", `/toolbox/${sb.id}/files/bulk-upload`)).toBe(1);
      const fresh = client(standin);
      await until(() => standin.requests.some((r) => r.upgrade && r.path === "/api/socket.io/"), "socket.io attempt");
      await fresh[Symbol.asyncDispose]();
    });

    it("wrong API key: 401 on the API and on the toolbox", async () => {
      const wrong = client(standin, { apiKey: "not-the-key" });
      const error = await rejection(wrong.get(sb.id));
      expect(error).toBeInstanceOf(DaytonaAuthenticationError);
      expect(error.statusCode).toBe(401);
      const toolbox = await fetch(`${standin.toolboxProxyUrl}/${sb.id}/work-dir`, { headers: { authorization: "Bearer not-the-key" } });
      expect(toolbox.status).toBe(401);
      await wrong[Symbol.asyncDispose]();
    });

    it("stop ends processes and keeps files; start brings it back with a new preview token; archive and restore", LONG, async () => {
      await sb.process.executeCommand("echo kept > /workspace/kept.txt; sleep 900 >/dev/null 2>&1 &");
      const token = (await sb.getPreviewLink(8000)).token;
      await sb.stop();
      expect(sb.state).toBe("stopped");
      expect(await rejection(sb.process.executeCommand("true"))).toBeInstanceOf(Error);
      await sb.start();
      expect(sb.state).toBe("started");
      expect((await sb.process.executeCommand("cat /workspace/kept.txt")).result).toBe("kept\n");
      expect((await sb.process.executeCommand("pgrep -f 'sleep 900' || true")).result).toBe("");
      expect((await sb.getPreviewLink(8000)).token).not.toBe(token);

      await sb.stop();
      await sb.archive(); // asks for it; does not wait
      await until(async () => (await sb.refreshData(), sb.state === "archived"), "archived");
      await sb.start(90);
      expect(sb.state).toBe("started");
      expect((await sb.process.executeCommand("cat /workspace/kept.txt")).result).toBe("kept\n");
    });

    it("concurrent starts race (the loser gets 409); a sandbox the platform put in error is recovered", LONG, async () => {
      await sb.process.executeCommand("echo survives > /workspace/recover.txt");
      await sb.stop();
      const twin = await daytona.get(sb.id);
      const results = await Promise.allSettled([sb.start(), twin.start()]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      expect((results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason).toBeInstanceOf(DaytonaConflictError);
      await until(async () => (await sb.refreshData(), sb.state === "started"), "started");

      await standin.platform.fail(sb.id, "runner lost");
      await sb.refreshData();
      expect(sb.state).toBe("error");
      expect(sb.errorReason).toBe("runner lost");
      expect(sb.recoverable).toBe(true);
      await sb.recover();
      expect(sb.state).toBe("started");
      expect((await sb.process.executeCommand("cat /workspace/recover.txt")).result).toBe("survives\n");
    });

    it("a sandbox deleted underneath: 404 (DaytonaNotFoundError) from API and toolbox", LONG, async () => {
      const doomed = await daytona.create({ labels: { doomed: "yes" } }, { timeout: 90 });
      standin.faults.add({ match: { method: "POST", path: `/toolbox/${doomed.id}/process/execute` }, fault: { vanish: true } });
      expect(await rejection(doomed.process.executeCommand("true"))).toBeInstanceOf(DaytonaNotFoundError);
      expect(await rejection(daytona.get(doomed.id))).toBeInstanceOf(DaytonaNotFoundError);
    });

    it("delete → destroyed, then 404 with Daytona's error body; gone from the list", LONG, async () => {
      const victim = await daytona.create({ labels: { victim: "yes" } }, { timeout: 90 });
      await victim.delete(60, true);
      const error = await rejection(daytona.get(victim.id));
      expect(error).toBeInstanceOf(DaytonaNotFoundError);
      expect(error.statusCode).toBe(404);
      expect(error.message).toBe(`Sandbox with ID or name ${victim.id} not found`);
      expect(await collect(daytona.list({ labels: { victim: "yes" } }))).toEqual([]);
      expect(await standin.provider.list({})).not.toContainEqual(expect.objectContaining({ id: victim.id }));
    });
  });

  describe("older daemon (split)", () => {
    let standin: DaytonaStandin;
    let daytona: Daytona;
    let sb: Sandbox;

    beforeAll(async () => {
      // Also: DTOs without toolboxProxyUrl, so the SDK asks for it.
      standin = await startDaytonaStandin({ daemon: "split", dtoHasToolboxProxyUrl: false });
      daytona = client(standin);
      sb = await daytona.create({ labels: { suite: "split" } }, { timeout: 90 });
    }, 120_000);
    afterAll(async () => {
      await daytona?.[Symbol.asyncDispose]();
      await standin?.close();
    }, 60_000);

    it("the SDK fetched the toolbox proxy URL the DTO lacked", () => {
      expect(standin.countRequests("GET", `/api/sandbox/${sb.id}/toolbox-proxy-url`)).toBeGreaterThan(0);
    });

    it("execute splits on spaces and runs argv without a shell: `echo a && echo b` prints `a && echo b`", async () => {
      expect((await sb.process.executeCommand("echo a && echo b")).result).toBe("a && echo b\n");
      expect((await sb.process.executeCommand(`echo 'a  b' "c d"`)).result).toBe("a  b c d\n");
      expect((await sb.process.executeCommand("echo $HOME")).result).toBe("$HOME\n");
      expect((await sb.process.executeCommand(`sh -c "echo a && echo b"`)).result).toBe("a\nb\n");
      const code = await sb.process.executeCommand(`sh -c "exit 5"`);
      expect(code.exitCode).toBe(5);
      expect((await sb.process.executeCommand("pwd", "/tmp")).result).toBe("/tmp\n");
      // envs did not exist in that daemon's request: they are ignored.
      expect(await sb.process.executeCommand("printenv FOO", undefined, { FOO: "bar" })).toMatchObject({ exitCode: 1, result: "" });
      expect(await sb.process.executeCommand("no-such-program --flag")).toMatchObject({ exitCode: -1, result: "" });
    });

    it("timeout kills only the direct process: its children live on, and the 408 waits for the pipe's holders", LONG, async () => {
      const error = await rejection(sb.process.executeCommand(`sh -c "sleep 300 >/dev/null 2>&1 & exec sleep 200"`, undefined, undefined, 1));
      expect(error).toBeInstanceOf(DaytonaTimeoutError);
      expect(error.statusCode).toBe(408);
      expect((await sb.process.executeCommand("pgrep -f sleep.300")).exitCode).toBe(0);
      expect((await sb.process.executeCommand("pgrep -f sleep.200")).exitCode).toBe(1);
      await sb.process.executeCommand("pkill -f sleep.300");

      // A child holding the output pipe keeps the call open after the direct process is gone
      // (and past the timeout, since the direct process exited 0): it answers once the child is done.
      const held = await sb.process.executeCommand(`sh -c "sleep 3.0123 &"`, undefined, undefined, 1);
      expect(held).toMatchObject({ exitCode: 0, result: "" });
      expect((await sb.process.executeCommand("pgrep -f sleep.3.0123")).exitCode).toBe(1);
    });
  });
});

describe("Daytona stand-in: latencyMs", () => {
  it("every request waits the added latency (a network's round trip) before it is handled, and is answered as usual", async () => {
    const standin = await startDaytonaStandin({ latencyMs: 150 });
    try {
      const t0 = performance.now();
      const res = await fetch(`${standin.apiUrl}/sandbox`, { headers: { authorization: `Bearer ${standin.apiKey}` } });
      const waited = performance.now() - t0;
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ items: [] });
      // A lower bound only (the stand-in slept that long), never a machine's speed; 10 ms for timer rounding.
      expect(waited).toBeGreaterThanOrEqual(140);
      expect(standin.countRequests("GET", "/api/sandbox")).toBe(1);
    } finally {
      await standin.close();
    }
  });
});
