/**
 * The sign the guard (guard/opencode-sandboxed-guard.ts) looks for: this plugin loaded
 * for a directory in this OpenCode process. A global, because the guard is a separate,
 * dependency-free module; counted per directory, because `opencode serve` runs several
 * instances (and may reload one) in one process.
 */
export const LOADED_MARKER = Symbol.for("opencode-sandboxed.loaded");

/** Marks `directory` as sandboxed; the returned function takes the mark back (at dispose). */
export function markLoaded(directory: string, global: Record<symbol, unknown> = globalThis as Record<symbol, unknown>): () => void {
  const existing = global[LOADED_MARKER];
  const loaded = existing instanceof Map ? (existing as Map<string, number>) : new Map<string, number>();
  global[LOADED_MARKER] = loaded;
  loaded.set(directory, (loaded.get(directory) ?? 0) + 1);
  let marked = true;
  return () => {
    if (!marked) return;
    marked = false;
    const left = (loaded.get(directory) ?? 1) - 1;
    if (left > 0) loaded.set(directory, left);
    else loaded.delete(directory);
  };
}
