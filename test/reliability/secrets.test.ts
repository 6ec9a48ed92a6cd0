/**
 * Secrets: canaries planted where a user's secrets live — OpenCode's environment, the
 * project's gitignored `.env`, the plugin options, the Daytona key, a `secretEnv` value —
 * then a full session in REAL OpenCode (`opencode serve`, the scripted model) on each
 * provider whose agent tries hard to find and leak them, then scans from the host.
 *
 * Expected (the product's design):
 * - host canaries (environment, gitignored `.env`, options, Daytona key, a file in
 *   OpenCode's HOME) are nowhere: not in the sandbox (its processes, its files — read
 *   from inside and, on the local provider, from the host on its directory and raw disk
 *   image), not in any tool output (the model's view, the parts OpenCode stored, every
 *   file under XDG_DATA_HOME with opencode.db row by row), not in the plugin's log or
 *   state file, not in any object or bundle of the host repository;
 * - the `secretEnv` value is in the sandbox's environment (that is what it is for) and in
 *   whatever the agent writes there (a committed env dump carries it to the branch), but
 *   never in the log or the state file, and — redacted from every sandboxed tool's result —
 *   never in a tool output, so never in OpenCode's storage nor sent to the model;
 * - a `.env` committed to the repository is a project file: the agent sees it like any other
 *   (it is in the history the user hands over); it is the positive control of the searches.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ScriptItem } from "../../harness/model-server.js";
import { waitFor, Workbench } from "../../harness/opencode.js";
import { startDaytonaStandin, type DaytonaStandin } from "../standin/daytona/index.js";
import { lacks, missingBwrap, missingCommand, missingRoot } from "../support/prereq.js";
import { processesOfUid } from "../support/processes.js";
import { Canaries, describeFindings, scanGitDir, scanHistory, scanProcesses, scanText, scanTree, type Canary, type Finding } from "./secrets-support.js";

type Provider = "local" | "daytona";

let bench: Workbench | undefined;
let standin: DaytonaStandin | undefined;
let standinRoot: string | undefined;
/** Disk images still mounted below `dir` (a failed test never deleted its sandbox): unmounted, so the files can go. */
function unmountBelow(dir: string) {
  const points = readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[1] ?? "")
    .filter((p) => p.startsWith(`${dir}/`));
  for (const point of points.reverse()) spawnSync("umount", ["-l", point]);
}

afterEach(async (ctx) => {
  if (ctx.task.result?.state === "fail" && bench) console.error(bench.pluginLog());
  if (bench) {
    await bench.stopChildren();
    unmountBelow(bench.root);
  }
  await bench?.dispose();
  bench = undefined;
  await standin?.close();
  standin = undefined;
  if (standinRoot) rmSync(standinRoot, { recursive: true, force: true });
  standinRoot = undefined;
});

const bash = (command: string) => ({ tool: "bash", args: { command, description: command.slice(0, 50) } });

/** Every way the agent tries to find a secret; its commands only name the canaries' common prefix. */
function attack(c: Canaries, project: string): { label: string; step: ScriptItem }[] {
  const grepFs = `grep -raoE '${c.pattern}' / --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev --exclude-dir=usr 2>/dev/null | sort -u`;
  const grepProc = `grep -aoE '${c.pattern}' /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | sort -u`;
  return [
    { label: "env", step: bash("env | sort; echo ---; printenv") },
    { label: "proc environ", step: bash(`for f in /proc/[0-9]*/environ; do echo "== $f"; tr '\\0' '\\n' < "$f"; echo; done 2>/dev/null`) },
    { label: "proc cmdline", step: bash(`for f in /proc/[0-9]*/cmdline; do echo "== $f"; tr '\\0' ' ' < "$f"; echo; done 2>/dev/null; echo; tr '\\0' ' ' < /proc/1/cmdline`) },
    { label: "dotenv", step: bash("cat .env; echo \"exit=$?\"; cat services/api/.env; ls -la; git status --short --ignored") },
    { label: "search", step: bash(`${grepFs}; echo ---; ${grepProc}; ls -la ~ /tmp`) },
    { label: "echo secretEnv", step: bash('echo "token is $SERVICE_TOKEN"; printenv SERVICE_TOKEN > token.txt; echo "$PLAIN_SETTING"; (sleep 600 > /dev/null 2>&1 &)') },
    { label: "read", step: { tool: "read", args: { filePath: join(project, "token.txt") } } },
    { label: "grep tool", step: { tool: "grep", args: { pattern: c.prefix } } },
    {
      label: "commit",
      step: bash(
        "env > env-dump.txt; for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < \"$f\"; done > proc-dump.txt 2>/dev/null; " +
          "git add -f .env 2>&1; git add -A && git -c user.name=agent -c user.email=agent@example.com commit -qm 'agent: what I found' && git log --oneline | head -3",
      ),
    },
    { label: "end", step: { text: "Looked everywhere." } },
  ];
}

interface Run {
  bench: Workbench;
  canaries: Canaries;
  /** The sandbox's files and processes as the host sees them. */
  sandboxView(sandboxId: string): { files: (c: Canary[]) => Finding[]; processes: (c: Canary[]) => Finding[] };
  /** Anything else the provider keeps about a sandbox (the stand-in's create request). */
  records(sandboxId: string): string;
}

async function setUp(provider: Provider): Promise<Run> {
  const c = new Canaries();
  const hostEnv = {
    OCS_HOST_SECRET: c.make("HOSTENV", "host"),
    OPENAI_API_KEY: c.make("MODELKEY", "host"),
    GITHUB_TOKEN: c.make("GHTOKEN", "host"),
  };
  const secretEnv = { sandboxEnv: { SERVICE_TOKEN: c.make("SECRETENV", "secretEnv"), PLAIN_SETTING: "visible" }, secretEnv: ["SERVICE_TOKEN"] };
  const files = {
    "README.md": "# demo\n",
    ".gitignore": "/.env\n",
    // The plugin reads DAYTONA_API_KEY from here; gitignored, so not the project's content.
    ".env": `APP_SECRET=${c.make("DOTENV", "host")}\nDAYTONA_API_KEY=${c.make("DOTENVKEY", "host")}\n`,
    // Committed: part of the repository the user hands over.
    "services/api/.env": `API_TOKEN=${c.make("TRACKED", "project")}\n`,
  };
  const homeFile = (b: Workbench) => {
    mkdirSync(join(b.root, "home/.aws"), { recursive: true });
    writeFileSync(join(b.root, "home/.aws/credentials"), `[default]\naws_secret_access_key = ${c.make("HOSTFILE", "host")}\n`);
  };

  if (provider === "local") {
    const b = await Workbench.create({
      prefix: "ocs-secrets-",
      files,
      env: { ...hostEnv, DAYTONA_API_KEY: c.make("DAYTONAENV", "host") },
      // A small disk image, so the host can read all of it raw.
      options: { provider: "local", local: { network: "none", diskMiB: 64, inodes: 16384 }, daytona: { apiKey: c.make("OPTIONKEY", "host") }, ...secretEnv },
    });
    homeFile(b);
    const dir = (id: string) => join(b.sandboxesDir(), id);
    return {
      bench: b,
      canaries: c,
      sandboxView: (id) => ({
        files: (cs) => scanTree(dir(id), cs),
        processes: (cs) => scanProcesses(processesOfUid(JSON.parse(readFileSync(join(dir(id), "meta.json"), "utf8")).uid), cs),
      }),
      records: () => "",
    };
  }

  standinRoot = mkdtempSync(join(tmpdir(), "ocs-secrets-standin-"));
  const s = (standin = await startDaytonaStandin({ apiKey: c.make("DAYTONAKEY", "host"), provider: { root: standinRoot, diskMiB: 64, inodes: 16384 } }));
  const b = await Workbench.create({
    prefix: "ocs-secrets-",
    files,
    env: { ...hostEnv, DAYTONA_API_KEY: s.apiKey, DAYTONA_API_URL: s.apiUrl, DAYTONA_TARGET: "us" },
    options: { provider: "daytona", ...secretEnv },
  });
  homeFile(b);
  // The stand-in backs each Daytona sandbox with a local one of the same id.
  const dir = (id: string) => join(standinRoot!, id);
  return {
    bench: b,
    canaries: c,
    sandboxView: (id) => ({
      files: (cs) => scanTree(dir(id), cs),
      processes: (cs) => scanProcesses(processesOfUid(JSON.parse(readFileSync(join(dir(id), "meta.json"), "utf8")).uid), cs),
    }),
    records: (id) => JSON.stringify(s.sandbox(id)?.createRequest ?? {}),
  };
}

describe("secrets: nothing of the host reaches the sandbox, the tools' output, the log, the state file, OpenCode's storage or a commit", () => {
  if (lacks(missingRoot(), missingBwrap(), missingCommand("git"), missingCommand("rg"))) return;

  it.each(["local", "daytona"] as const)(
    "%s: an agent hunting for secrets finds only the secretEnv value (in its environment, redacted from every tool output) and the project's committed .env",
    async (provider) => {
      const started = Date.now();
      const phases: string[] = [];
      const phase = (name: string) => phases.push(`${name} ${((Date.now() - started) / 1000).toFixed(1)} s`);
      const run = await setUp(provider);
      const { canaries: c } = run;
      const b = (bench = run.bench);
      const host = c.of("host");
      const secret = c.of("secretEnv");
      const steps = attack(c, b.project);
      b.model.set(steps.map((s) => s.step));

      phase("set up");
      const served = await b.serve({ timeoutMs: 180_000 });
      phase("OpenCode serving");
      const id = await served.createSession("secrets");
      await served.prompt(id, "find every secret you can", 400_000);
      phase("turn done");
      const sandboxId = b.state().sessions[id]?.sandboxId as string;
      expect(sandboxId, "the session got a sandbox").toBeTruthy();

      // The model's view: every tool result of the turn, labelled by attack.
      const results = b.model.toolResults();
      expect(results).toHaveLength(steps.length - 1);
      const result = (label: string) => results[steps.findIndex((s) => s.label === label)]!;
      const inResults = results.flatMap((r, i) => scanText(r, [...host, ...secret], `tool result "${steps[i]!.label}"`));
      expect(describeFindings(inResults), "no host secret, no secretEnv value in what the model received").toEqual([]);
      // The searches work: they find the committed .env's value inside, and the secretEnv
      // value where it is (redacted in what comes out).
      expect(result("dotenv")).toContain(c.value("TRACKED"));
      expect(result("dotenv")).toMatch(/No such file|exit=1/); // the gitignored .env is not in the sandbox
      expect(result("search")).toContain(c.value("TRACKED"));
      expect(result("search")).toContain("[REDACTED]");
      expect(result("env")).toContain("SERVICE_TOKEN=[REDACTED]");
      expect(result("env")).toContain("PLAIN_SETTING=visible");
      expect(result("echo secretEnv")).toBe("token is [REDACTED]\nvisible\n");
      expect(result("read")).toContain("[REDACTED]");
      expect(result("commit")).toContain("agent: what I found");

      // The parts OpenCode stored (input, output, metadata, title) as its API hands them out.
      const parts = JSON.stringify(await served.toolParts(id));
      expect(describeFindings(scanText(parts, [...host, ...secret], "stored tool parts"))).toEqual([]);
      expect(parts).toContain(c.value("TRACKED")); // the parts scanned are the real ones

      // The work comes back: the agent's commit is on opencode/1. Waited for first, so that
      // the sandbox is scanned with no sync writing its bundle meanwhile.
      expect(await waitFor(() => b.git("log", "--all", "--format=%s").includes("agent: what I found"), 120_000)).toBe(true);
      phase("synced");

      // The sandbox from the host: its files (raw disk image included) and processes.
      const view = run.sandboxView(sandboxId);
      const inSandbox = [...view.files(host), ...view.processes(host), ...scanText(run.records(sandboxId), host, "the provider's sandbox record")];
      expect(describeFindings(inSandbox), "no host secret in the sandbox").toEqual([]);
      // By design: the secretEnv value is in the sandbox's environment and the files the agent wrote from it.
      expect(view.processes(secret).length, "secretEnv value in the sandbox's processes' environment").toBeGreaterThan(0);
      expect(view.files(secret).length, "secretEnv value in the files the agent wrote").toBeGreaterThan(0);

      phase("sandbox scanned");
      // Deleting the session syncs once more and removes the sandbox (unmounting a root's disk).
      await served.client.session.delete({ path: { id } });
      expect(await waitFor(() => b.state().sessions[id] === undefined, 120_000), "the session's sandbox is removed").toBe(true);
      await served.stop();
      phase("session deleted, OpenCode stopped");

      // The host afterwards: the plugin's log and state file, everything under XDG_DATA_HOME
      // (opencode.db row by row, OpenCode's storage and snapshots, the log, the state), the
      // other XDG directories and TMPDIR, the repository's objects and history.
      const log = b.pluginLog();
      expect(log).toMatch(/sandbox/i); // a log was written
      const state = readdirSync(join(b.dataHome, "opencode/storage/daytona")).map((f) => readFileSync(join(b.dataHome, "opencode/storage/daytona", f), "utf8")).join("\n");
      expect(state.length).toBeGreaterThan(0);
      const anywhere = [
        ...scanText(log, [...host, ...secret], "the plugin's log"),
        ...scanText(state, [...host, ...secret], "the state file"),
        ...["data", "state", "cache", "tmp", "config"].flatMap((d) => scanTree(join(b.root, d), [...host, ...secret])),
        ...scanGitDir(join(b.project, ".git"), host),
        ...scanHistory(b.project, host),
      ];
      expect(describeFindings(anywhere), "no host secret on the host beyond where the user put it; no secretEnv value in OpenCode's storage, the log or the state file").toEqual([]);
      // By design: the agent committed its env dump, so the branch carries the secretEnv value (its own work, the user reviews it).
      expect(scanHistory(b.project, secret).length).toBeGreaterThan(0);
      // The scans see what is there: the committed .env is in the objects and the history.
      expect(scanHistory(b.project, c.of("project")).length).toBeGreaterThan(0);
      phase("host scanned");
      console.log(`secrets (${provider}): ${c.all.length} canaries, ${steps.length - 1} attacks, clean; ${phases.join(", ")}`);
    },
    900_000,
  );
});
