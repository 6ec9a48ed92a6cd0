/**
 * Sandboxes of this project that no session uses: left by a process killed between
 * creating and recording one, or by a lost state file. Reported, never deleted unasked
 * (one may be another OpenCode process's, created a moment ago).
 */
import type { SandboxInfo, SandboxProvider } from "../providers/provider.js";
import type { StateStore } from "./state-store.js";

/** The orphans as the provider describes them (state, labels). */
export async function findOrphanInfos(provider: SandboxProvider, store: Pick<StateStore, "read">, labels: Record<string, string>): Promise<SandboxInfo[]> {
  const used = new Set(Object.values((await store.read()).sessions).map((s) => s.sandboxId));
  return (await provider.list(labels)).filter((s) => !used.has(s.id));
}

export async function findOrphans(provider: SandboxProvider, store: Pick<StateStore, "read">, labels: Record<string, string>): Promise<string[]> {
  return (await findOrphanInfos(provider, store, labels)).map((s) => s.id);
}
