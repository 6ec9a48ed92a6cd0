/**
 * What a crashed owner left behind: its sandboxes' processes, helpers, cgroups,
 * sockets and owner records. Workspaces are never touched here (only delete removes one);
 * what a delete could not remove (.trash) is tried again.
 */
import { unlink } from "node:fs/promises";
import type { ProviderLog } from "../provider.js";
import { alive } from "../../util/process-ref.js";
import { pruneEmptyCgroups, removeCgroups, type CgroupSupport } from "./cgroups.js";
import { killRef, pidsOfUid } from "./proc.js";
import { lockHeld, type Meta, type Owner, type Store } from "./store.js";

const isRoot = () => process.getuid?.() === 0;

/** Leftovers of a sandbox whose owner is gone: processes, helpers, cgroups, socket. */
export async function cleanupDead(store: Store, id: string, owner: Owner, meta: Meta | null) {
  killRef(owner.bwrap);
  killRef(owner.init);
  killRef(owner.slirp);
  // As root the uid is this sandbox's alone, so anything still running under it is a leftover.
  if (isRoot() && meta && meta.uid !== 0) killUid(meta.uid);
  await removeCgroups(owner.cgroups);
  await unlink(store.socketPath(id)).catch(() => {});
  await unlink(store.boundSocketPath(id)).catch(() => {});
  await store.removeOwner(id);
}

export function killUid(uid: number) {
  for (const pid of pidsOfUid(uid))
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
}

/** Every sandbox under `store` whose owner died and that nobody is (re)starting: cleaned. */
export async function cleanupStale(store: Store, busy: (id: string) => boolean, support: CgroupSupport, log: ProviderLog) {
  for (const id of await store.ids()) {
    const owner = await store.readOwner(id);
    if (owner && alive(owner.owner)) continue; // another live process runs it
    if (busy(id)) continue;
    if (await lockHeld(store, id)) continue; // another process is (re)starting it
    if (owner) {
      log.info(`local sandbox ${id}: cleaning up after a process that ended without stopping it`);
      await cleanupDead(store, id, owner, await store.readMeta(id));
    } else await unlink(store.socketPath(id)).catch(() => {});
  }
  await pruneEmptyCgroups(support).catch(() => {});
  for (const left of await store.sweepTrash().catch(() => []))
    log.warn(`a deleted local sandbox's files could not all be removed (${left.why}); left in ${left.path}, tried again at the next start`);
}
