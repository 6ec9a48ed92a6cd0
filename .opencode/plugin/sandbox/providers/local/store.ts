/**
 * On-disk layout of local sandboxes under the root (default `sandboxesDir()`):
 *
 *   <root>/.uids/<uid>               host uid → sandbox id (root only; O_EXCL allocation)
 *   <root>/.trash/<id>-<hex>/        a deleted sandbox's directory until it is removed (0700):
 *                                    what removal could not take stays here, and is tried again
 *   <root>/<id>/meta.json            id, labels, env, host uid (0600, never inside)
 *   <root>/<id>/owner.json           which process runs it now (pid+start time, bwrap, slirp, cgroups)
 *   <root>/<id>/start.lock           held while one process starts it
 *   <root>/<id>/agent.cjs            the agent script (bound read-only inside)
 *   <root>/<id>/runtime              empty mount point for the agent's runtime (root only)
 *   <root>/<id>/etc/                 generated passwd, group, hosts, resolv.conf
 *   <root>/<id>/project/             → PROJECT_DIR   (sandbox uid)
 *   <root>/<id>/home/                → SANDBOX_HOME  (sandbox uid)
 *   <root>/<id>/run/                 → RUN_DIR_INSIDE: where the agent binds its socket (sandbox uid)
 *   <root>/<id>/agent.sock           the agent's socket, moved here once it is up (socket.ts)
 *   <root>/<id>/last-active          when it last started or ended (ISO time): how long it has been unused
 *
 * Only project/, home/ and run/ are bound writable; the host-side files the
 * provider trusts (meta, owner, etc) are out of the sandbox's reach.
 */
import { randomBytes, randomInt } from "node:crypto";
import { chmod, lchown, mkdir, readdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SandboxError } from "../provider.js";
import { AGENT_SOURCE } from "./agent-source.js";
import { ID_PATTERN, UID_BASE, UID_RANGE } from "./constants.js";
import { removeTree, type Removal } from "./remove-tree.js";
import { acquireLock, lockHeld as lockHeldAt, LockTimeoutError } from "../../util/lock.js";
import type { ProcessRef } from "../../util/process-ref.js";
import { writeAtomic } from "../../util/write-atomic.js";

export interface Meta {
  version: 1;
  id: string;
  labels: Record<string, string>;
  env: Record<string, string>;
  uid: number;
  gid: number;
  createdAt: string;
}

export interface Owner {
  owner: ProcessRef;
  bwrap: ProcessRef;
  /** Host pid of the sandbox's init (namespaces live there). */
  init?: ProcessRef;
  slirp?: ProcessRef;
  cgroups: string[];
}

export class Store {
  constructor(readonly root: string) {}

  dir = (id: string) => join(this.root, id);
  metaPath = (id: string) => join(this.root, id, "meta.json");
  ownerPath = (id: string) => join(this.root, id, "owner.json");
  lockPath = (id: string) => join(this.root, id, "start.lock");
  /** Where the host connects: out of the sandbox's reach. */
  socketPath = (id: string) => join(this.root, id, "agent.sock");
  /** Where the agent binds before the host claims the socket. */
  boundSocketPath = (id: string) => join(this.root, id, "run", "agent.sock");

  static checkId(id: string) {
    if (!ID_PATTERN.test(id)) throw new SandboxError("bad_input", `Invalid sandbox id "${id}": letters, digits, '.', '_' and '-' only, at most 64`);
  }

  static newId() {
    return `sb-${randomBytes(6).toString("hex")}`;
  }

  async ensureRoot() {
    await mkdir(this.root, { recursive: true, mode: 0o755 });
  }

  /** Writes the agent script into the sandbox's directory (when changed); returns its host path. */
  async agentFile(id: string): Promise<string> {
    const file = join(this.dir(id), "agent.cjs");
    const existing = await readFile(file, "utf8").catch(() => null);
    if (existing !== AGENT_SOURCE) await writeAtomic(file, AGENT_SOURCE, { mode: 0o644 });
    return file;
  }

  async readMeta(id: string): Promise<Meta | null> {
    try {
      const meta = JSON.parse(await readFile(this.metaPath(id), "utf8")) as Meta;
      return meta && meta.id === id ? meta : null;
    } catch {
      return null;
    }
  }

  writeMeta(meta: Meta) {
    return writeAtomic(this.metaPath(meta.id), JSON.stringify(meta, null, 2), { mode: 0o600 });
  }

  async readOwner(id: string): Promise<Owner | null> {
    try {
      return JSON.parse(await readFile(this.ownerPath(id), "utf8")) as Owner;
    } catch {
      return null;
    }
  }

  writeOwner(id: string, owner: Owner) {
    return writeAtomic(this.ownerPath(id), JSON.stringify(owner), { mode: 0o600 });
  }

  removeOwner(id: string) {
    return unlink(this.ownerPath(id)).catch(() => {});
  }

  /** Notes that the sandbox starts or ends now (prune and retention measure disuse from it). */
  markActive(id: string) {
    // Not writeAtomic: it would make the directory again when a delete removed it meanwhile.
    return writeFile(join(this.dir(id), "last-active"), new Date().toISOString(), { mode: 0o644 }).catch(() => {});
  }

  async lastActive(id: string): Promise<string | undefined> {
    const text = (await readFile(join(this.dir(id), "last-active"), "utf8").catch(() => "")).trim();
    return Number.isFinite(Date.parse(text)) ? text : undefined;
  }

  async ids(): Promise<string[]> {
    const names = await readdir(this.root).catch(() => [] as string[]);
    return names.filter((n) => !n.startsWith(".") && ID_PATTERN.test(n));
  }

  /** Creates the sandbox's directories; the writable ones belong to its host uid. */
  async layout(id: string, uid: number, gid: number) {
    const dir = this.dir(id);
    // 0711: the sandbox uid must traverse to its binds, but not list the host-side files.
    await mkdir(dir, { recursive: true, mode: 0o711 });
    await chmod(dir, 0o711);
    await mkdir(join(dir, "etc"), { recursive: true, mode: 0o755 });
    // Mount point for binding the agent's runtime when it is not under /usr (root only).
    await writeFile(join(dir, "runtime"), "", { flag: "a", mode: 0o644 });
    for (const [name, mode] of [["project", 0o755], ["home", 0o700], ["run", 0o700]] as const) {
      const path = join(dir, name);
      const made = await mkdir(path, { mode }).then(() => true, (e: NodeJS.ErrnoException) => {
        if (e.code !== "EEXIST") throw e;
        return false;
      });
      // lchown: never follow a symlink the sandbox may have planted in a re-used directory.
      if (made && process.getuid?.() === 0) await lchown(path, uid, gid);
    }
  }

  /** A host uid no other sandbox and no account uses; persisted in meta, freed by delete. */
  async allocateUid(id: string): Promise<number> {
    const dir = join(this.root, ".uids");
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const taken = new Set<number>();
    try {
      for (const line of (await readFile("/etc/passwd", "utf8")).split("\n")) taken.add(Number(line.split(":")[2]));
    } catch {}
    for (let attempt = 0; attempt < 64; attempt++) {
      const uid = UID_BASE + randomInt(UID_RANGE);
      if (taken.has(uid)) continue;
      try {
        await writeFile(join(dir, String(uid)), id, { flag: "wx", mode: 0o600 });
        return uid;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
    }
    throw new SandboxError("quota", "Could not allocate a host uid for the sandbox");
  }

  freeUid(uid: number) {
    return unlink(join(this.root, ".uids", String(uid))).catch(() => {});
  }

  trashDir = () => join(this.root, ".trash");

  /**
   * The sandbox's whole directory, workspace included. It is first moved aside into
   * .trash (one rename: the id is gone at once, whatever the workspace holds), then
   * removed; never throws for what the sandbox made unremovable — that stays in .trash,
   * is returned, and is tried again by every later removal and `sweepTrash`.
   */
  async removeDir(id: string): Promise<Removal> {
    const retired = await this.retire(id);
    const removal = retired ? await removeTree(retired) : { removed: true as const };
    await this.sweepTrash();
    return removal;
  }

  /** Moves the sandbox's directory into .trash; its new path, or undefined when there was none. */
  private async retire(id: string): Promise<string | undefined> {
    await mkdir(this.trashDir(), { recursive: true, mode: 0o700 });
    const target = join(this.trashDir(), `${id}-${randomBytes(4).toString("hex")}`);
    try {
      await rename(this.dir(id), target);
      return target;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      // Not movable (a mount point in the way): removed where it is.
      return this.dir(id);
    }
  }

  /** Removes what earlier deletions left in .trash; returns what still could not be removed. */
  async sweepTrash(): Promise<{ path: string; why: string }[]> {
    const left: { path: string; why: string }[] = [];
    for (const name of await readdir(this.trashDir()).catch(() => [] as string[])) {
      const path = join(this.trashDir(), name);
      const r = await removeTree(path);
      if (!r.removed) left.push({ path, why: r.why });
    }
    return left;
  }

  /** Cross-process start lock; a holder that died (kill -9) is seen and its lock taken over. */
  async lock(id: string, timeoutMs = 30_000): Promise<() => Promise<void>> {
    try {
      return await acquireLock(this.lockPath(id), { timeoutMs, createDir: false });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new SandboxError("sandbox_not_found", `Sandbox ${id} not found`);
      if (e instanceof LockTimeoutError) throw new SandboxError("transient", `Sandbox ${id} is being started by another process`);
      throw e;
    }
  }
}

/** Someone alive is starting this sandbox right now (its records are in flux). */
export function lockHeld(store: Store, id: string): Promise<boolean> {
  return lockHeldAt(store.lockPath(id));
}
