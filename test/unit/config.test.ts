import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, resolveProvider } from "../../.opencode/plugin/sandbox/config.js";

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function dirWithEnv(content: string) {
  const dir = await mkdtemp(join(tmpdir(), "cfg-"));
  dirs.push(dir);
  await writeFile(join(dir, ".env"), content);
  return dir;
}

describe("config precedence", () => {
  it("uses defaults when nothing is set", () => {
    const c = loadConfig({ env: {} });
    expect(c.provider).toBe("auto");
    expect(c.local.network).toBe("isolated");
    expect(c.sync.branchPrefix).toBe("opencode");
    expect(resolveProvider(c)).toBe("local");
  });

  it("plugin options > environment > .env > defaults", async () => {
    const directory = await dirWithEnv("DAYTONA_API_URL=http://from-dotenv/api\nDAYTONA_TARGET=eu\nDAYTONA_API_KEY=dotenv-key\n");
    const env = { DAYTONA_API_URL: "http://from-env/api", DAYTONA_API_KEY: "env-key" };
    const c = loadConfig({ directory, env, options: { daytona: { apiKey: "option-key" } } });
    expect(c.daytona.apiKey).toBe("option-key");
    expect(c.daytona.apiUrl).toBe("http://from-env/api");
    expect(c.daytona.target).toBe("eu");
  });

  it("reads only known keys from .env and leaves process.env alone", async () => {
    const directory = await dirWithEnv("UNRELATED_SECRET=x\nDAYTONA_API_KEY=k123456\n");
    const c = loadConfig({ directory, env: {} });
    expect(c.daytona.apiKey).toBe("k123456");
    expect(process.env.UNRELATED_SECRET).toBeUndefined();
    expect(process.env.DAYTONA_API_KEY).toBeUndefined();
  });

  it.each([
    [{}, "local"],
    [{ daytona: { apiKey: "k" } }, "daytona"],
    [{ provider: "local", daytona: { apiKey: "k" } }, "local"],
    [{ provider: "daytona" }, "daytona"],
  ])("auto resolves %j to %s", (options, expected) => {
    expect(resolveProvider(loadConfig({ options, env: {} }))).toBe(expected);
  });
});

describe("bad values name the option, the value and what is accepted", () => {
  it.each([
    [{ provider: "docker" }, 'option "provider" is "docker"; expected one of "auto", "daytona", "local"'],
    [{ local: { network: "host" } }, 'option "local.network" is "host"; expected one of "isolated", "allowlist", "none"'],
    [{ local: { memoryMb: -5 } }, 'option "local.memoryMb" is -5; expected a number > 0'],
    [{ local: { maxProcesses: "many" } }, 'option "local.maxProcesses" is "many"; expected a number'],
    [{ daytona: { apiUrl: "ftp://x" } }, 'option "daytona.apiUrl" is "ftp://x"; expected an http(s) URL'],
    [{ sync: { branchPrefix: "bad name" } }, 'option "sync.branchPrefix" is "bad name"; expected a git branch name such as opencode'],
    [{ allowHostTools: "bash" }, 'option "allowHostTools" is "bash"; expected an array'],
    [{ sandboxEnv: { "1X": "v" } }, 'option "sandboxEnv.1X"'],
    [{ sync: { enabled: "yes" } }, 'option "sync.enabled" is "yes"; expected a boolean'],
    [{ bogus: 1 }, 'unknown option "bogus"'],
    [{ local: { netwrok: "none" } }, 'unknown option "local.netwrok"'],
  ])("%j", (options, message) => {
    let error: unknown;
    try {
      loadConfig({ options, env: {} });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(message);
  });

  it("reports a bad environment variable by the option it sets", () => {
    expect(() => loadConfig({ env: { OPENCODE_SANDBOX_PROVIDER: "vm" } })).toThrow('option "provider" is "vm"');
  });

  it("lists every problem at once", () => {
    expect(() => loadConfig({ options: { provider: "x", local: { network: "y" } }, env: {} })).toThrow(/provider.*; option "local.network"/);
  });
});
