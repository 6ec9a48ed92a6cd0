/**
 * Everything the local provider made on this machine, once its sandboxes are deleted:
 * mounts below its root (disk images), its cgroups (the groups named for this root),
 * uid reservations and the root itself. Returns what it removed, for the face to tell.
 */
import { execFile } from "node:child_process";
import { readdir, readFile, rm, rmdir, stat } from "node:fs/promises";
import { join, sep } from "node:path";
import type { CgroupSupport } from "./cgroups.js";

/** Mount points at or below `root` (deepest first), from /proc/self/mountinfo. */
export async function mountsBelow(root: string): Promise<string[]> {
  const text = await readFile("/proc/self/mountinfo", "utf8").catch(() => "");
  // Field 5 is the mount point, with spaces and the like escaped as octal.
  const points = text
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  return points.filter((p) => p === root || p.startsWith(root + sep)).sort((a, b) => b.length - a.length);
}

const umount = (point: string) =>
  new Promise<boolean>((resolve) => execFile("umount", [point], (error) => resolve(!error)));

export async function uninstallLocal(root: string, support: CgroupSupport, ownGroup: (name: string) => boolean): Promise<string[]> {
  const removed: string[] = [];
  for (const point of await mountsBelow(root)) if (await umount(point)) removed.push(`mount ${point}`);
  for (const where of [support.memory, support.pids, support.cpu]) {
    if (!where) continue;
    for (const name of await readdir(where.base).catch(() => [] as string[])) {
      if (!ownGroup(name)) continue;
      const dir = join(where.base, name);
      if (await rmdir(dir).then(() => true, () => false)) removed.push(`cgroup ${dir}`);
    }
    // The shared base goes only when no other root's groups are left in it.
    if (await rmdir(where.base).then(() => true, () => false)) removed.push(`cgroup ${where.base}`);
  }
  if (await stat(root).then(() => true, () => false)) {
    await rm(root, { recursive: true, force: true, maxRetries: 3 });
    removed.push(`sandboxes and uid reservations ${root}`);
  }
  return removed;
}
