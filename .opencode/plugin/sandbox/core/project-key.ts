/**
 * The key a project's state (its session map, its sandboxes' labels, a private
 * repository) is filed under. OpenCode gives every directory outside a git repository
 * with commits the one shared project "global": such a directory is keyed by its real
 * path instead, so two folders never share sessions, sandboxes or kept work.
 */
import { createHash } from "node:crypto";
import { realpath } from "node:fs/promises";
import { resolve } from "node:path";

export const GLOBAL_PROJECT = "global";

/** `id` as OpenCode gave it, unless it is the shared "global": then `dir-<hash of the real path>`. */
export async function projectKey(id: string | undefined, directory: string): Promise<string> {
  if (id && id !== GLOBAL_PROJECT) return id;
  const real = await realpath(directory).catch(() => resolve(directory));
  // Short and label-safe (Daytona labels, file names); 64 bits keep distinct folders apart.
  return `dir-${createHash("sha256").update(real).digest("hex").slice(0, 16)}`;
}
