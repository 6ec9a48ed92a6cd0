/**
 * The provider contract: what tools, git sync and previews rely on, asserted the same
 * way on every provider (test/contract/providers.ts). Waits poll for a condition;
 * their bounds only catch a hang.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isSandboxError, type Sandbox, type SandboxProvider } from "../../.opencode/plugin/sandbox/providers/provider.js";
import { lacks } from "../support/prereq.js";
import { until } from "../support/until.js";
import { contractProviders } from "./providers.js";

describe.each(contractProviders)("provider contract: $name", (entry) => {
  if (lacks(entry.missing())) return;

  let provider: SandboxProvider;
  let cleanup: () => Promise<void>;
  let sb: Sandbox;
  beforeAll(async () => {
    ({ provider, cleanup } = await entry.make());
    sb = await provider.create({ labels: { contract: entry.name } });
  }, 120_000);
  afterAll(async () => {
    await cleanup?.();
  });

  /** Whether a process whose command line contains `marker` still runs inside the sandbox. */
  const runs = async (marker: string) => (await sb.exec(`ps -eo args | grep -c '[${marker[0]}]${marker.slice(1)}'`)).output.trim() !== "0";

  describe("exec runs through a real shell", () => {
    it.each([
      ["single quotes", `echo 'a  b'`, "a  b\n"],
      ["double quotes and $", `X=1; echo "x$X $((2+3))"`, "x1 5\n"],
      ["&&", "echo a && echo b", "a\nb\n"],
      ["||", "false || echo fallback", "fallback\n"],
      ["a pipe", "printf 'b\\na\\n' | sort", "a\nb\n"],
      ["backticks", "echo `echo inner`", "inner\n"],
      ["newlines between commands", "echo 1\necho 2", "1\n2\n"],
      ["unicode", "echo 'héllo ✓ 漢字'", "héllo ✓ 漢字\n"],
      ["stderr interleaved", "echo out; echo err >&2", "out\nerr\n"],
      ["a here-document", "cat <<'EOF'\n$NOT_EXPANDED\nEOF", "$NOT_EXPANDED\n"],
    ])("%s", async (_name, command, output) => {
      expect(await sb.exec(command)).toMatchObject({ exitCode: 0, output, timedOut: false, aborted: false });
    });

    it.each([
      ["exit 3", 3],
      ["false", 1],
      ["true", 0],
      ["sh -c 'kill -9 $$'", 137],
    ])("exit code of %s is %i", async (command, code) => {
      expect((await sb.exec(command)).exitCode).toBe(code);
    });

    it("runs in the project directory, or in cwd", async () => {
      expect((await sb.exec("pwd")).output.trim()).toBe(sb.projectDir);
      await sb.exec("mkdir -p 'sub dir'");
      expect((await sb.exec("pwd", { cwd: "sub dir" })).output.trim()).toBe(`${sb.projectDir}/sub dir`);
      expect((await sb.exec("pwd", { cwd: "/tmp" })).output.trim()).toBe("/tmp");
    });

    it("passes env values verbatim and feeds stdin", async () => {
      const value = `a b 'c' "d" $e \`f\` ✓`;
      expect((await sb.exec(`printf '%s' "$CONTRACT_VALUE"`, { env: { CONTRACT_VALUE: value } })).output).toBe(value);
      expect((await sb.exec("cat; echo .", { stdin: "line1\nline2\n" })).output).toBe("line1\nline2\n.\n");
      expect((await sb.exec("wc -c", { stdin: new Uint8Array(100_000).fill(65) })).output.trim()).toBe("100000");
    });

    it("a timeout ends the command and everything it started", async () => {
      const marker = `sleep 4${randomBytes(2).readUInt16BE() % 1000}`;
      const r = await sb.exec(`${marker} & ${marker}`, { timeoutMs: 1000 });
      expect(r).toMatchObject({ timedOut: true, exitCode: null });
      await until(async () => !(await runs(marker)), "the timed-out command's background child ended");
    });

    it("an abort ends the command and everything it started", async () => {
      const marker = `sleep 5${randomBytes(2).readUInt16BE() % 1000}`;
      const flag = `started-${randomBytes(4).toString("hex")}`;
      const abort = new AbortController();
      const running = sb.exec(`${marker} & touch ${flag}; ${marker}`, { signal: abort.signal });
      // Output may arrive only at the end (Daytona): the command says it started through a file.
      await until(async () => (await sb.stat(flag)) !== null, "the command started");
      abort.abort();
      expect(await running).toMatchObject({ aborted: true, exitCode: null });
      await until(async () => !(await runs(marker)), "the aborted command's background child ended");
    });

    it("`cmd &` keeps running after the call returned, and does not hold the call open", async () => {
      const marker = `sleep 6${randomBytes(2).readUInt16BE() % 1000}`;
      const r = await sb.exec(`${marker} & echo started`, { timeoutMs: 60_000 });
      expect(r).toMatchObject({ exitCode: 0, timedOut: false, output: "started\n" });
      expect(await runs(marker)).toBe(true);
      await sb.exec(`pkill -f '${marker}'`);
    });
  });

  describe("files", () => {
    it.each([
      ["every byte value", Uint8Array.from({ length: 256 * 4 }, (_, i) => i % 256)],
      ["an empty file", new Uint8Array(0)],
      ["a large file (24 MiB)", new Uint8Array(randomBytes(24 * 1024 * 1024))],
    ])("round-trips %s", async (_name, data) => {
      const path = `files/${randomBytes(4).toString("hex")}.bin`;
      await sb.writeFile(path, data);
      const back = await sb.readFile(path);
      expect(back.length).toBe(data.length);
      expect(Buffer.from(back).equals(Buffer.from(data))).toBe(true);
      expect((await sb.exec(`wc -c < '${path}'`)).output.trim()).toBe(String(data.length));
    }, 120_000);

    it("writes text as UTF-8, creates parents, replaces whole", async () => {
      await sb.writeFile("deep/a/b/c.txt", "first version, long\n");
      await sb.writeFile(`${sb.projectDir}/deep/a/b/c.txt`, "é\n");
      expect(Buffer.from(await sb.readFile("deep/a/b/c.txt")).toString()).toBe("é\n");
    });

    it("a write can be made conditional on what the file holds now (compare-and-swap)", async () => {
      const path = `cas/${randomBytes(4).toString("hex")}.txt`;
      const text = (b: Uint8Array) => Buffer.from(b).toString();
      await sb.writeFile(path, "one\n", { expect: null }); // nothing there: written
      await expect(sb.writeFile(path, "two\n", { expect: null })).rejects.toSatisfy((e) => isSandboxError(e, "changed"));
      await expect(sb.writeFile(path, "two\n", { expect: Buffer.from("other\n") })).rejects.toSatisfy((e) => isSandboxError(e, "changed"));
      expect(text(await sb.readFile(path))).toBe("one\n"); // nothing written by a refused write
      await sb.writeFile(path, "two\n", { expect: Buffer.from("one\n") });
      expect(text(await sb.readFile(path))).toBe("two\n");
      // Changed behind the writer's back (a command): refused, the command's content kept.
      await sb.exec(`echo three > ${path}`);
      await expect(sb.writeFile(path, "four\n", { expect: Buffer.from("two\n") })).rejects.toSatisfy((e) => isSandboxError(e, "changed"));
      expect(text(await sb.readFile(path))).toBe("three\n");
      expect((await sb.readDir("cas")).map((e) => e.name)).toEqual([path.split("/")[1]]); // no temporary file left
    });

    it("missing files, directories and stat say what they are", async () => {
      await expect(sb.readFile("no/such/file")).rejects.toSatisfy((e) => isSandboxError(e, "file_not_found"));
      await sb.exec("mkdir -p adir/inner && echo x > adir/f && ln -sf f adir/link");
      await expect(sb.readFile("adir")).rejects.toSatisfy((e) => isSandboxError(e, "is_directory"));
      expect(await sb.stat("no/such/file")).toBeNull();
      expect(await sb.stat("adir")).toMatchObject({ type: "directory" });
      expect(await sb.stat("adir/f")).toMatchObject({ type: "file", size: 2 });
      expect(await sb.stat("adir/link")).toMatchObject({ type: "symlink" });
      const entries = await sb.readDir("adir");
      expect(entries.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
        { name: "f", type: "file" },
        { name: "inner", type: "directory" },
        { name: "link", type: "symlink" },
      ]);
      await expect(sb.readDir("no/such/dir")).rejects.toSatisfy((e) => isSandboxError(e, "file_not_found"));
    });

    it("a symlink inside the sandbox is followed; one pointing at a host path never reaches the host", async () => {
      const hostDir = await mkdtemp(join(tmpdir(), "contract-host-"));
      const secret = `host-secret-${randomBytes(8).toString("hex")}`;
      await writeFile(join(hostDir, "secret"), secret);
      try {
        await sb.exec(`echo inside > target.txt && ln -sf target.txt in-link && ln -sf '${hostDir}/secret' out-link`);
        expect(Buffer.from(await sb.readFile("in-link")).toString()).toBe("inside\n");
        const out = await sb.readFile("out-link").then((b) => Buffer.from(b).toString(), (e: unknown) => e);
        expect(String(out)).not.toContain(secret);
        expect(isSandboxError(out, "file_not_found")).toBe(true);
      } finally {
        await rm(hostDir, { recursive: true, force: true });
      }
    });

    it("remove takes files, trees and symlinks (never their targets); nothing there is fine", async () => {
      await sb.exec("mkdir -p rm/tree/a/b && echo 1 > rm/tree/a/b/f && echo keep > rm/kept && ln -sf kept rm/link && echo x > rm/file");
      await sb.remove("rm/file");
      await sb.remove("rm/tree");
      await sb.remove("rm/link");
      await sb.remove("rm/never-existed");
      expect((await sb.readDir("rm")).map((e) => e.name)).toEqual(["kept"]);
    });
  });

  describe("background processes", () => {
    it("start returns at once; output so far, then only what is new; the exit code once it ends", async () => {
      await expect(sb.startProcess("true", { cwd: "no/such/dir" })).rejects.toSatisfy((e) => isSandboxError(e, "file_not_found"));
      await sb.exec("mkdir -p bg");
      const { id } = await sb.startProcess("echo one; echo two >&2; while [ ! -e go ]; do sleep 0.05; done; echo three; exit 7", { cwd: "bg" });
      await until(async () => (await sb.readProcess(id)).output === "one\ntwo\n", "the first output");
      const first = await sb.readProcess(id);
      expect(first).toMatchObject({ running: true, exitCode: null, size: 8 });
      expect((await sb.readProcess(id, { since: first.size })).output).toBe("");
      await sb.writeFile("bg/go", "");
      await until(async () => !(await sb.readProcess(id)).running, "the process ended");
      expect(await sb.readProcess(id, { since: first.size })).toEqual({ output: "three\n", size: 14, running: false, exitCode: 7 });
    });

    it("runs with its cwd and env, detached from the call that started it", async () => {
      await sb.exec("mkdir -p bg2");
      const { id } = await sb.startProcess(`pwd; printf '%s\\n' "$BG_VALUE"`, { cwd: "bg2", env: { BG_VALUE: "v 'q' ✓" } });
      await until(async () => !(await sb.readProcess(id)).running, "the process ended");
      expect(await sb.readProcess(id)).toMatchObject({ output: `${sb.projectDir}/bg2\nv 'q' ✓\n`, exitCode: 0 });
    });

    it("stop ends the process and everything it started", async () => {
      const marker = `sleep 7${randomBytes(2).readUInt16BE() % 1000}`;
      const { id } = await sb.startProcess(`${marker} & echo up; ${marker}`);
      await until(async () => (await sb.readProcess(id)).output === "up\n", "the process started");
      expect(await runs(marker)).toBe(true);
      await sb.stopProcess(id);
      expect(await sb.readProcess(id)).toMatchObject({ running: false, exitCode: null });
      await until(async () => !(await runs(marker)), "its child ended");
      await sb.stopProcess(id); // stopping an ended one is not an error
    });

    it("an id it never gave is bad input", async () => {
      for (const id of ["0123456789abcdef", "../../etc", ""])
        await expect(sb.readProcess(id)).rejects.toSatisfy((e) => isSandboxError(e, "bad_input"));
    });
  });

  describe("previews", () => {
    it("a server started in the background answers through its preview link", async () => {
      const nonce = randomBytes(12).toString("hex");
      await sb.writeFile("site/index.html", nonce);
      const port = 8000 + (randomBytes(2).readUInt16BE() % 1000);
      const { id } = await sb.startProcess(`exec python3 -m http.server ${port} --bind 127.0.0.1`, { cwd: "site" });
      const link = await sb.previewUrl(port);
      let body = "";
      await until(async () => {
        const res = await fetch(link.url, { headers: link.headers, signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
        body = res?.ok ? await res.text() : "";
        return body === nonce;
      }, "the preview link answered with the page");
      expect(body).toBe(nonce);
      await sb.stopProcess(id);
      await expect(sb.previewUrl(0)).rejects.toSatisfy((e) => isSandboxError(e, "bad_input"));
    });
  });
});
