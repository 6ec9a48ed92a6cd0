/**
 * Removing a tree a sandbox wrote, which it may have shaped to resist: thousands of
 * levels deep (Node's fs.rm builds whole paths and fails with ENAMETOOLONG), directories
 * without permissions, symlinks to host files. coreutils `rm` walks with openat (no depth
 * limit) and never follows a symlink. Anything still mounted below the tree (an unmount
 * step comes first) leaves the tree untouched and is reported: `--one-file-system` alone
 * would walk into a bind mount of the same file system and delete the host's files.
 * One job: callers decide what a leftover means.
 */
import { spawn } from "node:child_process";
import { lstat, readFile, realpath } from "node:fs/promises";

export type Removal = { removed: true } | { removed: false; why: string };

function run(command: string, args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    // Bounded: a tree of a million unremovable files must not fill the host's memory.
    child.stderr.on("data", (chunk: Buffer) => {
      if (stderr.length < 4096) stderr += chunk.toString("utf8");
    });
    child.on("error", (error) => resolve({ code: -1, stderr: error.message }));
    child.on("close", (code) => resolve({ code: code ?? -1, stderr }));
  });
}

const exists = (path: string) => lstat(path).then(() => true, () => false);

/** Decodes mountinfo's octal escapes (a space is \040). */
const unescape = (field: string) => field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

/** Mount points at or below `path` (as this process sees them). */
export async function mountsBelow(path: string): Promise<string[]> {
  const real = await realpath(path).catch(() => path);
  const info = await readFile("/proc/self/mountinfo", "utf8").catch(() => "");
  const points = info.split("\n").map((line) => unescape(line.split(" ")[4] ?? "")).filter(Boolean);
  return points.filter((p) => p === real || p.startsWith(`${real}/`));
}

/** Removes `path` and everything below it; what could not be removed is said in `why`. */
export async function removeTree(path: string): Promise<Removal> {
  if (!(await exists(path))) return { removed: true };
  const mounted = await mountsBelow(path);
  if (mounted.length) return { removed: false, why: `still mounted: ${mounted.slice(0, 3).join(", ")}` };
  let r = await run("rm", ["-rf", "--one-file-system", "--", path]);
  const link = await lstat(path).then((s) => s.isSymbolicLink(), () => false);
  if (r.code !== 0 && !link && (await exists(path))) {
    // Directories made unreadable or unwritable (chmod 000, Go's read-only module cache)
    // stop rm for a non-root owner: open them up, without following symlinks (chmod -R
    // does not follow those it meets below the top), and try once more.
    await run("chmod", ["-R", "u+rwX", "--", path]);
    r = await run("rm", ["-rf", "--one-file-system", "--", path]);
  }
  if (!(await exists(path))) return { removed: true };
  const why = r.stderr.split("\n").filter(Boolean).slice(0, 3).join("; ") || `rm exited ${r.code}`;
  return { removed: false, why };
}
