/** The machine and versions a report was measured on. */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as os from "node:os";
import { join } from "node:path";

const version = (cmd: string, args: string[]): string => {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).split("\n")[0]!.trim();
  } catch {
    return "not found";
  }
};

const pkgVersion = (repo: string, name: string): string => {
  try {
    return (JSON.parse(readFileSync(join(repo, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "not installed";
  }
};

export interface Machine {
  date: string;
  commit: string;
  rows: [string, string][];
}

export function describeMachine(repo: string): Machine {
  const commit = version("git", ["-C", repo, "rev-parse", "--short", "HEAD"]);
  const dirty = version("git", ["-C", repo, "status", "--porcelain", "--untracked-files=no"]) ? " (with uncommitted changes)" : "";
  const cpus = os.cpus();
  return {
    date: new Date().toISOString(),
    commit: commit + dirty,
    rows: [
      ["CPU", `${cpus.length} × ${cpus[0]?.model ?? "unknown"}`],
      ["Memory", `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`],
      ["Kernel", `${os.type()} ${os.release()} ${os.arch()}`],
      ["Running as", process.getuid?.() === 0 ? "root" : `uid ${process.getuid?.()}`],
      ["Node.js", process.version],
      ["OpenCode", `opencode-ai ${pkgVersion(repo, "opencode-ai")} (Bun inside)`],
      ["@daytonaio/sdk", pkgVersion(repo, "@daytonaio/sdk")],
      ["bubblewrap", version("bwrap", ["--version"])],
      ["git", version("git", ["--version"])],
      ["Load average at start", os.loadavg().map((l) => l.toFixed(2)).join(", ")],
    ],
  };
}
