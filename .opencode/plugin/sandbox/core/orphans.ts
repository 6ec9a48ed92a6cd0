/**
 * Sandboxes of this project that no session uses: left by a process killed between
 * creating and recording one, or by a lost state file. Reported, never deleted unasked
 * (one may be another OpenCode process's, created a moment ago).
 */
import type { SandboxProvider } from "../providers/provider.js";
import type { StateStore } from "./state-store.js";

export async function findOrphans(provider: SandboxProvider, store: Pick<StateStore, "read">, labels: Record<string, string>): Promise<string[]> {
  const used = new Set(Object.values((await store.read()).sessions).map((s) => s.sandboxId));
  return (await provider.list(labels)).map((s) => s.id).filter((id) => !used.has(id));
}
