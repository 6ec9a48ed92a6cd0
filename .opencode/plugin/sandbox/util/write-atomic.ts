/** Files a reader sees whole or not at all, also across a crash: temp file, fsync, rename. */
import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { namedFsError } from "./fs-error.js";
import { reach, type PhaseHook } from "./phases.js";

const tempPrefix = (path: string) => `.${basename(path)}.`;

export async function writeAtomic(path: string, data: string | Uint8Array, options: { mode?: number; phases?: PhaseHook } = {}): Promise<void> {
  try {
    await write(path, data, options);
  } catch (error) {
    throw namedFsError(`Could not write ${path}`, error);
  }
}

async function write(path: string, data: string | Uint8Array, options: { mode?: number; phases?: PhaseHook }) {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `${tempPrefix(path)}${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const handle = await open(tmp, "w", options.mode ?? 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  await reach(options.phases, "state:written");
  await rename(tmp, path);
}

/**
 * Temp files of `path` left by a writer killed before its rename. Call only while
 * holding the file's lock: every writer holds it while its temp file exists.
 */
export async function removeStaleTemps(path: string): Promise<void> {
  const prefix = tempPrefix(path);
  const ours = (n: string) => n.startsWith(prefix) && /^\d+\.[0-9a-f]{8}\.tmp$/.test(n.slice(prefix.length));
  const names = await readdir(dirname(path)).catch(() => [] as string[]);
  await Promise.all(names.filter(ours).map((n) => rm(join(dirname(path), n), { force: true })));
}
