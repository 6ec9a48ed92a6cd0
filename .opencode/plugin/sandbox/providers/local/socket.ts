/**
 * Where the host reaches the agent. The agent binds its socket in the run directory
 * the sandbox shares (it can write nowhere else); as soon as it says it is ready —
 * before any command has run inside — the host renames that socket into the
 * sandbox's host-side directory, which is never bound into the sandbox (and, as
 * root, not writable by its uid). A unix socket stays reachable under its new name
 * (connect finds it by inode), and from then on nothing inside can unlink it, listen
 * in its place, or swap it for a symlink to another sandbox's socket.
 */
import { lstat, rename, unlink } from "node:fs/promises";
import { SandboxError } from "../provider.js";

export async function claimSocket(bound: string, hostPath: string): Promise<void> {
  await unlink(hostPath).catch(() => {});
  await rename(bound, hostPath);
  // rename moves a symlink itself: make sure what arrived is a socket, not a pointer elsewhere.
  const st = await lstat(hostPath);
  if (!st.isSocket()) {
    await unlink(hostPath).catch(() => {});
    throw new SandboxError("unavailable", "the agent's socket is not a socket");
  }
}
