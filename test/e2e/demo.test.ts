/**
 * `npm run demo` as a user runs it (the script itself, in a child process): real
 * OpenCode, the scripted model, the local sandbox. Its output says the preview link
 * answered with the app's page, and the repository it keeps (--keep) holds the app on
 * opencode/1 while main is untouched. As this user, and — when this is root — as an
 * ordinary user (uid 65534, no root anywhere). An ordinary user without bubblewrap is
 * told the one command to run, and nothing starts.
 */
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { REPO } from "../../harness/opencode.js";
import { APP_FILES, INDEX_HTML, PORT } from "../../scripts/demo/app.js";
import { lacks, missingBwrap, missingCommand, missingRoot } from "../support/prereq.js";

const TSX = join(REPO, "node_modules/.bin/tsx");
const DEMO = join(REPO, "scripts/demo/main.ts");
const USER = 65534;
/** An upper bound for a hung demo on a loaded machine, never its expected duration. */
const HANG_MS = 600_000;
/** setpriv by its path: the child's PATH may lack it. */
const SETPRIV = execFileSync("sh", ["-c", "command -v setpriv || true"], { encoding: "utf8" }).trim();

/** git in a kept repository, which belongs to uid 65534 after the ordinary user's run. */
const git = (cwd: string, ...args: string[]) => execFileSync("git", ["-c", "safe.directory=*", ...args], { cwd, encoding: "utf8" }).trim();

const cleanup: string[] = [];
afterEach(() => {
  for (const dir of cleanup.splice(0)) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  output: string;
}

/** The demo with `args`; as uid 65534 when `asUser` (from a home of its own). */
function demo(args: string[], { asUser = false, path = process.env.PATH } = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { PATH: path, LANG: "C.UTF-8" };
  let command = [TSX, DEMO, ...args];
  if (asUser) {
    const home = mkdtempSync(join(tmpdir(), "ocs-demo-user-"));
    cleanup.push(home);
    chmodSync(home, 0o755);
    chownSync(home, USER, USER);
    Object.assign(env, { HOME: home, TMPDIR: home });
    command = [SETPRIV, `--reuid=${USER}`, `--regid=${USER}`, "--clear-groups", "--", ...command];
  } else Object.assign(env, { HOME: process.env.HOME, TMPDIR: process.env.TMPDIR });
  return new Promise((resolve) => {
    const child = spawn(command[0]!, command.slice(1), { cwd: REPO, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), HANG_MS);
    child.on("error", (e) => resolve({ code: -1, output: `${command[0]} could not start: ${e.message}` }));
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** What a successful demo showed, and what its kept repository holds. */
async function expectWorkingDemo(run: Run) {
  const { code, output } = run;
  expect(code, output).toBe(0);
  expect(output).toMatch(new RegExp(`✔ the server listens on port ${PORT} in the sandbox; preview link: http://127\\.0\\.0\\.1:\\d+`));
  // The link answered with the page the agent wrote inside the sandbox.
  expect(output).toContain(`✔ the link answers: ${INDEX_HTML.split("\n")[0]}`);
  expect(output).toContain("session idle; its work is synced to opencode/1");
  expect(output).toMatch(/✔ session deleted: its sandbox sb-\S+ is gone/);
  expect(output).toMatch(/\nDone in \d+\.\d s\./);
  // The diff it printed shows both files as new.
  const diff = output.slice(output.indexOf("── git diff main...opencode/1"));
  for (const name of Object.keys(APP_FILES)) expect(diff).toContain(`+++ b/${name}`);

  const project = /^ {2}kept: (\S+)/m.exec(output)?.[1];
  expect(project, output).toBeDefined();
  cleanup.push(dirname(project!));
  for (const [name, content] of Object.entries(APP_FILES)) expect(git(project!, "show", `opencode/1:${name}`)).toBe(content.trim());
  // The user's branch and checkout are untouched: one commit, nothing of the app.
  expect(git(project!, "rev-list", "--count", "main")).toBe("1");
  expect(git(project!, "status", "--porcelain")).toBe("");
  expect(git(project!, "ls-files")).toBe("README.md");
}

describe("npm run demo: as this user", () => {
  if (lacks(missingBwrap(), missingCommand("slirp4netns"), missingCommand("git"))) return;

  it("the link answers with the app's page; opencode/1 in the kept repository holds the app; main is untouched", async () => {
    await expectWorkingDemo(await demo(["--keep"]));
  }, HANG_MS + 30_000);
});

describe("npm run demo: as an ordinary user (uid 65534)", () => {
  if (lacks(missingRoot(), missingCommand("setpriv"), missingBwrap())) return;

  it("the same, with no root anywhere (network none where /dev/net/tun is closed to the user)", async () => {
    await expectWorkingDemo(await demo(["--keep"], { asUser: true }));
  }, HANG_MS + 30_000);
});

describe("npm run demo: an ordinary user without bubblewrap", () => {
  if (lacks(missingCommand("apt-get"))) return;

  it("is told the one sudo command to run, and nothing starts", async () => {
    // A PATH with what the demo itself needs, and no bwrap or slirp4netns.
    const bin = mkdtempSync(join(tmpdir(), "ocs-demo-bin-"));
    cleanup.push(bin);
    chmodSync(bin, 0o755);
    symlinkSync(process.execPath, join(bin, "node"));
    for (const tool of ["git", "apt-get"]) symlinkSync(`/usr/bin/${tool}`, join(bin, tool));
    const { code, output } = await demo([], { asUser: process.getuid?.() === 0, path: bin });
    expect(code, output).toBe(1);
    // slirp4netns too where the user may open /dev/net/tun (network "isolated"); else network "none" needs none.
    expect(output).toMatch(/✖ the local sandbox needs bubblewrap(, slirp4netns)?, which (is|are) not installed\. Run:/);
    expect(output).toMatch(/^ {4}sudo apt-get install -y bubblewrap( slirp4netns)?$/m);
    expect(output).not.toContain("✔ throw-away git repository");
    expect(output).not.toContain("serving on");
  }, 120_000);
});
