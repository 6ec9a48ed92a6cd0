/**
 * Repositories served over a real git URL on loopback: `git daemon` (git's own server,
 * the git:// protocol) exporting every repository under a base directory. Nothing
 * beyond loopback is needed.
 */
import { spawn } from "node:child_process";
import { connect, createServer } from "node:net";
import { until } from "./until.js";

export interface GitDaemon {
  /** The git:// URL of `<base>/<name>`. */
  url(name: string): string;
  close(): Promise<void>;
}

/** A port nothing listens on right now (the daemon binds it next; a clash fails the start loudly). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function serveGitDaemon(base: string): Promise<GitDaemon> {
  const port = await freePort();
  const child = spawn("git", ["daemon", "--export-all", "--reuseaddr", "--listen=127.0.0.1", `--port=${port}`, `--base-path=${base}`, base], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
  let exited = false;
  child.once("exit", () => (exited = true));
  const url = (name: string) => `git://127.0.0.1:${port}/${name}`;
  // Ready when it accepts connections (the bound only catches a hang).
  await until(() => {
    if (exited) throw new Error(`git daemon ended: ${stderr}`);
    return accepts(port);
  }, "git daemon listens");
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** Whether something accepts TCP connections on the port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}
