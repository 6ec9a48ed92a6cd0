/**
 * The project the current directory belongs to, found as OpenCode finds it
 * (packages/opencode/src/project/project.ts), so the CLI reads the plugin's state file:
 * the id cached in `.git/opencode`, else the first sorted root commit of HEAD; the
 * worktree is the main checkout (a linked worktree shares its project); "global" with
 * worktree "/" outside a repository or before the first commit.
 */
import { readFile, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { rawGit } from "../git/host-git.js";

export interface ProjectLocation {
  id: string;
  worktree: string;
  /** Where the CLI was started (OpenCode's `directory`). */
  directory: string;
}

async function findUp(start: string, name: string): Promise<string | undefined> {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    if (await stat(join(dir, name)).then(() => true, () => false)) return join(dir, name);
    if (dirname(dir) === dir) return undefined;
  }
}

const cachedId = (gitDir: string) => readFile(join(gitDir, "opencode"), "utf8").then((t) => t.trim() || undefined, () => undefined);

export async function locateProject(directory: string): Promise<ProjectLocation> {
  const dotgit = await findUp(directory, ".git");
  if (!dotgit) return { id: "global", worktree: "/", directory };
  const top = dirname(dotgit);
  let id = await cachedId(dotgit);
  const common = await rawGit(["rev-parse", "--git-common-dir"], top).catch(() => undefined);
  if (!common || common.code !== 0) return { id: id ?? "global", worktree: top, directory };
  const commonDir = common.stdout.trim();
  const absolute = isAbsolute(commonDir) ? commonDir : resolve(top, commonDir);
  const worktree = absolute === top ? top : dirname(absolute);
  id ??= await cachedId(join(worktree, ".git"));
  if (!id) {
    const roots = await rawGit(["rev-list", "--max-parents=0", "HEAD"], top).catch(() => undefined);
    id = roots?.code === 0 ? roots.stdout.split("\n").map((l) => l.trim()).filter(Boolean).sort()[0] : undefined;
  }
  return { id: id ?? "global", worktree, directory };
}
