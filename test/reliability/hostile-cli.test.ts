/**
 * The CLI part of the hostile-input corpus (hostile/corpus-cli.ts), through the BUILT
 * CLI (`npm run build` first; npm test does) in the world's repository with the world's
 * HOME and XDG directories: the exit code and message each case expects, and the host
 * untouched (no marker beside the project, repository, .git and home as they were).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cli, cliEnv, paths, projectIdOf } from "../cli/cli-kit.js";
import { CLI_CASES, type CliCase } from "./hostile/corpus-cli.js";
import { makeWorld, type World } from "./hostile/world.js";

const world: World = await makeWorld("hostile-cli");
const env = cliEnv({ data: world.data, config: `${world.base}/config` }, { HOME: world.home });
const stateFile = () => `${paths(world.data).stateDir}/${projectIdOf(world.repo)}.json`;

function writeState(kind: CliCase["state"]) {
  mkdirSync(dirname(stateFile()), { recursive: true });
  const sessions =
    kind === "hostile-branch"
      ? {
          ses_x: {
            provider: "local",
            sandboxId: "sb-nope",
            createdAt: "2026-01-01T00:00:00Z",
            lastUsedAt: "2026-01-01T00:00:00Z",
            branch: world.fill("--output=@O/pwned"),
            lastSyncedCommit: world.fill("--upload-pack=touch @O/pwned"),
            branchTip: world.fill("--output=@O/pwned"),
          },
        }
      : {};
  writeFileSync(stateFile(), JSON.stringify({ version: 1, projectId: projectIdOf(world.repo), worktree: world.repo, sessions }));
}

afterAll(() => world.close());

describe("hostile input to the CLI", () => {
  it.each(CLI_CASES.map((c) => [`[${c.class}] ${c.name}`, c] as const))("%s", async (_name, c: CliCase) => {
    writeState(c.state);
    const before = world.print();
    const r = await cli(world.fill(c.args), { cwd: world.repo, env });
    const text = `${r.stderr}${r.stdout}`;
    expect(r.code, text.slice(0, 2000)).toBe(c.code);
    expect(text).toMatch(world.fill(c.expect.source) === c.expect.source ? c.expect : new RegExp(world.fill(c.expect.source), c.expect.flags));
    expect(text).not.toMatch(/^\s+at .*\(.*:\d+:\d+\)$/m); // no stack trace
    expect(world.leaked(text)).toEqual([]);
    expect(world.changes(before)).toEqual([]);
  }, 60_000);
});
