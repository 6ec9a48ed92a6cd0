/**
 * Cross-process exclusive locks on the host (two OpenCode processes on one project, a
 * CLI beside them): a file naming its holder by pid and start time, created whole by
 * link() — it exists only with its content, and only once. A holder that died (kill -9)
 * is seen at once and its lock taken over: no staleness timer to wait out, and a live
 * holder is never robbed however long it works.
 */
import { randomBytes } from "node:crypto";
import { link, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { namedFsError } from "./fs-error.js";
import { alive, ref, type ProcessRef } from "./process-ref.js";

export class LockTimeoutError extends Error {
  override readonly name = "LockTimeoutError";
}

export interface LockOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** Create the lock's directory when missing (default true); otherwise ENOENT is thrown. */
  createDir?: boolean;
}

/** A takeover lock older than this was left by a process killed within its few microseconds. */
const TAKEOVER_STALE_MS = 10_000;

type Holder = { kind: "none" } | { kind: "process"; ref: ProcessRef } | { kind: "unreadable"; mtimeMs: number };

async function holderOf(path: string): Promise<Holder> {
  try {
    const [text, st] = await Promise.all([readFile(path, "utf8"), stat(path)]);
    const parsed = JSON.parse(text) as ProcessRef;
    if (typeof parsed?.pid === "number" && typeof parsed?.start === "number") return { kind: "process", ref: parsed };
    return { kind: "unreadable", mtimeMs: st.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { kind: "none" };
    // A directory (an older version's lock) or garbage: never written by a live holder,
    // since holders create the file with its content in place.
    return { kind: "unreadable", mtimeMs: (await stat(path).catch(() => undefined))?.mtimeMs ?? 0 };
  }
}

const same = (a: Holder, b: Holder) =>
  a.kind === b.kind && (a.kind !== "process" || (b.kind === "process" && a.ref.pid === b.ref.pid && a.ref.start === b.ref.start)) &&
  (a.kind !== "unreadable" || (b.kind === "unreadable" && a.mtimeMs === b.mtimeMs));

/** Whether a live process holds the lock at `path`. */
export async function lockHeld(path: string): Promise<boolean> {
  const holder = await holderOf(path);
  return holder.kind === "process" && alive(holder.ref);
}

/** Creates the lock file from `ready` (its content already in place): link fails when it exists. */
async function tryCreate(path: string, ready: string): Promise<boolean> {
  try {
    await link(ready, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

/**
 * Removes a dead holder's lock. Removers are serialised by a takeover lock, and the
 * holder is checked again under it: no acquirer can create a lock while the dead one
 * exists, so what is removed is always the dead one.
 */
async function removeDead(path: string, seen: Holder): Promise<boolean> {
  const takeover = `${path}.takeover`;
  try {
    await writeFile(takeover, "", { flag: "wx", mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const st = await stat(takeover).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > TAKEOVER_STALE_MS) await rm(takeover, { force: true });
    return false; // another process is removing it
  }
  try {
    if (same(await holderOf(path), seen)) await rm(path, { recursive: true, force: true });
    return true;
  } finally {
    await rm(takeover, { force: true });
  }
}

/** Takes the lock at `path` (the lock file itself); returns its release. */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<() => Promise<void>> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (options.createDir ?? true) await mkdir(dirname(path), { recursive: true });
  const ready = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  await writeFile(ready, JSON.stringify(ref(process.pid)), { mode: 0o600 }).catch(async (error: NodeJS.ErrnoException) => {
    await rm(ready, { force: true });
    throw namedFsError(`Could not take the lock ${path}`, error);
  });
  try {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
      if (await tryCreate(path, ready)) return () => rm(path, { force: true }).catch(() => {});
      const holder = await holderOf(path);
      if (holder.kind === "none") continue; // released just now
      const dead = holder.kind === "unreadable" || !alive(holder.ref);
      if (dead && (await removeDead(path, holder))) continue;
      if (Date.now() > deadline) throw new LockTimeoutError(`Timed out after ${timeoutMs} ms waiting for lock ${path}`);
      await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
    }
  } finally {
    await rm(ready, { force: true });
  }
}

/** Runs `fn` holding the lock `${path}.lock` (the file `path` need not exist). */
export async function withLock<T>(path: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const release = await acquireLock(`${path}.lock`, options);
  try {
    return await fn();
  } finally {
    await release();
  }
}
