/**
 * Child process for git sync tests (run with `node --import tsx`):
 *   sync <json>      — one sync of a session on a directory sandbox; prints READY first
 *   allocate <repo> <count> — allocates branches, prints their numbers as JSON
 */
import { readFile, writeFile } from "node:fs/promises";
import { ConfigSchema } from "../../.opencode/plugin/sandbox/config.js";
import { withLock } from "../../.opencode/plugin/sandbox/core/lock.js";
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import type { SessionRecord } from "../../.opencode/plugin/sandbox/core/state-store.js";
import { HostGit } from "../../.opencode/plugin/sandbox/git/host-git.js";
import { allocateBranch } from "../../.opencode/plugin/sandbox/git/refs.js";
import { GitSync } from "../../.opencode/plugin/sandbox/git/service.js";
import { DirProvider } from "../support/dir-provider.js";

/** A JSON-file store shared with the parent (locked read-modify-write). */
export function fileStore(path: string) {
  const read = async () => JSON.parse(await readFile(path, "utf8")) as Record<string, SessionRecord>;
  return {
    async get(id: string) {
      return (await read())[id];
    },
    async patch(id: string, patch: Partial<SessionRecord>) {
      return withLock(path, async () => {
        const all = await read();
        if (!all[id]) return undefined;
        all[id] = { ...all[id], ...patch };
        await writeFile(`${path}.tmp`, JSON.stringify(all));
        const { rename } = await import("node:fs/promises");
        await rename(`${path}.tmp`, path);
        return all[id];
      });
    },
  };
}

const [mode, ...args] = process.argv.slice(2);
if (mode === "sync") {
  const { repo, base, sandboxId, sessionID, storePath } = JSON.parse(args[0]) as Record<string, string>;
  const sandbox = await new DirProvider(base).create({ labels: {}, id: sandboxId });
  const gitSync = new GitSync({
    directory: repo,
    config: ConfigSchema.parse({}),
    log: silentLogger,
    toast: { show() {}, flush: async () => {} },
    store: fileStore(storePath),
    sandboxFor: async () => sandbox,
  });
  console.log("READY");
  const result = await gitSync.sync(sessionID, "manual");
  console.log(`RESULT ${JSON.stringify(result)}`);
} else if (mode === "allocate") {
  const [repo, count] = args;
  const git = new HostGit(repo);
  const head = await git.out(["rev-parse", "HEAD"]);
  const got: number[] = [];
  for (let i = 0; i < Number(count); i++) got.push((await allocateBranch(git, "opencode", head, "test")).branchNumber);
  console.log(`RESULT ${JSON.stringify(got)}`);
}
