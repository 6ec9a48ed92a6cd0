/**
 * A disk of its own for each sandbox (root only): a sparse ext4 image of a fixed size
 * and inode count, loop-mounted on the host, holding the workspace and HOME. Writing
 * past it gives ENOSPC inside; the host's disk loses at most the image's size.
 * Ordinary users have no way to mount one (nor project quotas on these kernels): their
 * sandboxes' disk use is not capped, and the limits report says so.
 *
 *   <dir>/disk.img           the image (0600 root; never bound inside)
 *   <dir>/disk/              its mount point (stays mounted across stop/start; delete unmounts)
 *   <dir>/disk/project|home  the workspace and HOME (sandbox uid)
 *   <dir>/project, home      symlinks to them, so the host-side layout reads as before
 *
 * Sandboxes made before images existed keep their plain directories (uncapped).
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { chmod, lchown, lstat, mkdir, rmdir, symlink, unlink, writeFile, truncate } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { SandboxError } from "../provider.js";
import { which } from "./preflight.js";

const run = promisify(execFile);
const ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" };
const MiB = 1024 * 1024;

export const IMAGE = "disk.img";
export const MOUNT = "disk";
/** nosuid/nodev: nothing the sandbox writes is a set-uid program or a device on the host. */
const MOUNT_OPTIONS = "loop,nosuid,nodev,noatime,noinit_itable";

export interface VolumeSpec {
  sizeMiB: number;
  inodes: number;
}

/** Why this process cannot give sandboxes a disk of their own, or undefined when it can. */
export function volumeUnsupported(): string | undefined {
  if (process.getuid?.() !== 0) return `mounting a size-capped filesystem needs root (OpenCode runs as uid ${process.getuid?.()})`;
  for (const tool of ["mkfs.ext4", "mount", "umount"]) if (!which(tool)) return `${tool} is missing (Debian: apt-get install e2fsprogs mount)`;
  if (!existsSync("/dev/loop-control")) return "no loop devices (/dev/loop-control is missing)";
  return undefined;
}

export const hasVolume = (dir: string) => existsSync(join(dir, IMAGE));

/** Decodes mountinfo's octal escapes (a space is \040). */
const unescape = (field: string) => field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));

export function isMounted(path: string): boolean {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return false;
  }
  const table = readFileSync("/proc/self/mountinfo", "utf8");
  return table.split("\n").some((line) => line && unescape(line.split(" ")[4] ?? "") === real);
}

async function exec(command: string, args: string[], what: string) {
  try {
    await run(command, args, { env: ENV });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new SandboxError("unavailable", `${what} failed: ${(err.stderr || err.message).trim()}`);
  }
}

/** Mounts the sandbox's image when it has one that is not mounted (after a reboot, say); returns the mount point. */
export async function mountVolume(dir: string): Promise<string | undefined> {
  if (!hasVolume(dir)) return undefined;
  const mountPoint = join(dir, MOUNT);
  if (!isMounted(mountPoint)) {
    await mkdir(mountPoint, { recursive: true, mode: 0o700 });
    await exec("mount", ["-t", "ext4", "-o", MOUNT_OPTIONS, join(dir, IMAGE), mountPoint], `mounting the disk image of ${dir}`);
  }
  return realpathSync(mountPoint);
}

/**
 * Unmounts the sandbox's image (delete calls this before removing the directory). A
 * filesystem still in use is detached lazily: it goes, with its loop device, once
 * the last process using it has.
 */
export async function unmountVolume(dir: string): Promise<void> {
  const mountPoint = join(dir, MOUNT);
  if (!isMounted(mountPoint)) return;
  await exec("umount", [mountPoint], `unmounting ${mountPoint}`).catch(() => exec("umount", ["-l", mountPoint], `unmounting ${mountPoint}`));
  if (isMounted(mountPoint)) throw new SandboxError("unavailable", `${mountPoint} is still mounted`);
}

/**
 * Makes and mounts the image of a new sandbox, then points its workspace and HOME at
 * it. Lazy inode tables (never zeroed: a sparse file reads as zeros) keep this at a
 * few tens of milliseconds whatever the size. Undone completely when it fails.
 */
export async function createVolume(dir: string, uid: number, gid: number, spec: VolumeSpec): Promise<void> {
  const image = join(dir, IMAGE);
  try {
    await writeFile(image, "", { flag: "wx", mode: 0o600 });
    await truncate(image, spec.sizeMiB * MiB);
    // -m 0: no blocks kept for root (nothing of root's lives there); -N: the inode cap.
    await exec("mkfs.ext4", ["-F", "-q", "-m", "0", "-N", String(spec.inodes), "-E", "lazy_itable_init=1,lazy_journal_init=1,nodiscard", "-L", "ocsb-disk", image], "mkfs.ext4");
    const mountPoint = (await mountVolume(dir))!;
    // Its root stays root's; only the two directories bound inside are the sandbox's.
    await chmod(mountPoint, 0o711);
    for (const [name, mode] of [["project", 0o755], ["home", 0o700]] as const) {
      await mkdir(join(mountPoint, name), { mode });
      await lchown(join(mountPoint, name), uid, gid);
      // The empty directory the layout made gives way to a link into the image.
      const old = join(dir, name);
      if ((await lstat(old).catch(() => null))?.isDirectory()) await rmdir(old);
      await symlink(join(MOUNT, name), old);
    }
  } catch (e) {
    await unmountVolume(dir).catch(() => {});
    await unlink(image).catch(() => {});
    for (const name of ["project", "home"]) {
      const path = join(dir, name);
      if ((await lstat(path).catch(() => null))?.isSymbolicLink()) await unlink(path);
    }
    throw e instanceof SandboxError ? e : new SandboxError("unavailable", `Could not make the disk image of ${dir}: ${(e as Error).message}`);
  }
}

/**
 * The run directory is the one other host directory bound writable inside: the agent
 * binds its socket there at start, then the host moves the socket out. Handed to
 * the sandbox's uid for the start only, and taken back once the agent is up, so
 * nothing inside can fill the host's disk through it.
 */
export async function lendRunDir(dir: string, uid: number, gid: number) {
  await lchown(join(dir, "run"), uid, gid);
  await chmod(join(dir, "run"), 0o700);
}

export async function takeBackRunDir(dir: string) {
  await lchown(join(dir, "run"), 0, 0);
  await chmod(join(dir, "run"), 0o755);
}

/** The image file behind a loop device (mountinfo's major:minor), " (deleted)" appended once it was removed. */
function backingFile(devno: string): string | undefined {
  try {
    return readFileSync(`/sys/dev/block/${devno}/loop/backing_file`, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** A local sandbox's disk mounted at `mountPoint` from the loop device `devno`: its image is `<dir>/disk.img`, there or deleted. */
function isSandboxDisk(mountPoint: string, devno: string): boolean {
  if (basename(mountPoint) !== MOUNT) return false;
  const image = join(dirname(mountPoint), IMAGE);
  const backing = backingFile(devno);
  return backing === image || backing === `${image} (deleted)`;
}

/**
 * Sandbox disks still mounted whose sandbox is gone — unmounted, so they no longer
 * hold a loop device and the space of their image:
 *  - under `root`, a disk whose sandbox directory lost its meta.json (removed by hand);
 *  - anywhere on the host, a sandbox disk (a loop device on `<dir>/disk.img` mounted at
 *    `<dir>/disk`) whose `<dir>` holds no meta.json any more: its sandbox's directory was
 *    removed without a delete (a killed process's temporary root, `rm -rf`). A live
 *    sandbox always has its meta.json (written before its disk is made), so none is touched.
 */
export async function unmountOrphans(root: string, log: { warn(message: string): void }): Promise<void> {
  if (process.getuid?.() !== 0) return;
  let real: string | undefined;
  try {
    real = realpathSync(root);
  } catch {
    real = undefined;
  }
  const table = readFileSync("/proc/self/mountinfo", "utf8");
  for (const line of table.split("\n")) {
    const fields = line.split(" ");
    const mountPoint = unescape(fields[4] ?? "");
    if (basename(mountPoint) !== MOUNT) continue;
    const dir = dirname(mountPoint);
    const underRoot = real !== undefined && dirname(dir) === real;
    if (!underRoot && !isSandboxDisk(mountPoint, fields[2] ?? "")) continue;
    if (existsSync(join(dir, "meta.json"))) continue;
    log.warn(`local sandbox disk ${mountPoint}: its sandbox is gone — unmounting it`);
    await unmountVolume(dir).catch((e: Error) => log.warn(e.message));
  }
}
