/**
 * The host a hostile-input test attacks: a temp "machine" with a home directory, the
 * user's repository, a folder beside it, canaries in each (and in the environment and
 * on the host's loopback), and the plugin's data directory elsewhere. HOME and
 * XDG_DATA_HOME point here for the whole test file (set before the plugin's modules
 * load: xdg-basedir reads them once). Nothing of the real home is read or written.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { hostChanges, hostPrint, type HostPrint } from "../support/host-hash.js";

export const CANARIES = {
  home: "HOSTILE-HOME-CANARY-5d1f",
  outside: "HOSTILE-OUTSIDE-CANARY-8e2a",
  dotenv: "HOSTILE-DOTENV-CANARY-77b0",
  env: "HOSTILE-ENV-CANARY-c3a9",
  loopback: "HOSTILE-LOOPBACK-CANARY-41fe",
};

export interface World {
  base: string;
  home: string;
  repo: string;
  outside: string;
  data: string;
  port: number;
  print(): HostPrint;
  /** What changed on the host since `before`, apart from `expectedRefs`. */
  changes(before: HostPrint, expectedRefs?: readonly string[]): string[];
  /** Which canaries `text` holds (none, for a sound host). */
  leaked(text: string): string[];
  /** `@P`, `@H`, `@O`, `@ONAME`, `@PORT` filled in, in strings and nested values. */
  fill<T>(value: T, extra?: Record<string, string>): T;
  close(): Promise<void>;
}

const sh = (cwd: string, script: string) => execFileSync("sh", ["-c", script], { cwd, stdio: "pipe" });

export async function makeWorld(prefix: string): Promise<World> {
  const base = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const home = join(base, "home");
  const repo = join(base, "repo");
  const outside = join(base, "outside");
  const data = join(base, "data");
  for (const d of [home, repo, outside, data]) mkdirSync(d, { recursive: true });
  mkdirSync(join(home, ".ssh"), { mode: 0o700 });
  writeFileSync(join(home, ".ssh", "id_rsa"), `${CANARIES.home}\n`, { mode: 0o600 });
  writeFileSync(join(home, ".bashrc"), "# the user's\n");
  writeFileSync(join(home, ".gitconfig"), "[user]\n\tname = Host User\n\temail = host@example.com\n");
  writeFileSync(join(outside, "secret.txt"), `${CANARIES.outside}\n`);
  sh(repo, "git init -q -b main && git config user.name u && git config user.email u@e");
  writeFileSync(join(repo, "a.txt"), "hello\n");
  writeFileSync(join(repo, ".gitignore"), ".env\n");
  writeFileSync(join(repo, ".env"), `SECRET=${CANARIES.dotenv}\n`);
  sh(repo, "git add -A && git commit -q -m initial");
  process.env.HOME = home;
  process.env.XDG_DATA_HOME = data;
  process.env.XDG_CONFIG_HOME = join(base, "config");
  process.env.HOSTILE_ENV_CANARY = CANARIES.env;
  for (const k of Object.keys(process.env)) if (/^(DAYTONA_|OPENCODE_SANDBOX_)/.test(k)) delete process.env[k];

  const server: Server = createServer((_req, res) => res.writeHead(200, { "content-type": "text/plain" }).end(CANARIES.loopback));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const dirs = { home, outside };

  const fillString = (s: string, extra: Record<string, string>) => {
    let out = s;
    for (const [k, v] of Object.entries(extra)) out = out.split(k).join(v);
    return out.replaceAll("@ONAME", basename(outside)).replaceAll("@PORT", String(port)).replaceAll("@P", repo).replaceAll("@H", home).replaceAll("@O", outside);
  };
  const fill = <T>(value: T, extra: Record<string, string> = {}): T => {
    if (typeof value === "string") {
      // A whole-value "@PORT" stays a number (preview_url's argument).
      if (value === "@PORT") return port as T;
      return fillString(value, extra) as T;
    }
    if (Array.isArray(value)) return value.map((v) => fill(v, extra)) as T;
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, extra)])) as T;
    return value;
  };

  return {
    base,
    home,
    repo,
    outside,
    data,
    port,
    print: () => hostPrint(repo, dirs),
    changes: (before, expectedRefs = []) => hostChanges(before, hostPrint(repo, dirs), expectedRefs),
    leaked: (text) => Object.entries(CANARIES).filter(([, c]) => text.includes(c)).map(([k]) => k),
    fill,
    async close() {
      server.close();
      // A root sandbox's disk stays mounted if its deletion failed: only ours, under base.
      const mounts = readFileSync("/proc/mounts", "utf8").split("\n").map((l) => l.split(" ")[1]).filter((m) => m?.startsWith(`${base}/`));
      for (const m of mounts.reverse()) spawnSync("umount", ["-l", m]);
      rmSync(base, { recursive: true, force: true });
    },
  };
}
