/**
 * Small helpers shared by bash/glob/grep/webfetch: shell quoting, the built-in's
 * "contains" and external-directory permission check.
 */
import * as path from "node:path";
import type { ToolContext } from "@opencode-ai/plugin";
import { isInside } from "./paths.js";

/** Single-quote for sh: the only safe way to put untrusted text into a command line. */
export { shq } from "../util/shell.js";

/** The built-in's Instance "contains": inside the directory, or inside the worktree unless it is "/". */
export function containsPath(ctx: Pick<ToolContext, "directory" | "worktree">, filepath: string): boolean {
  if (isInside(ctx.directory, filepath)) return true;
  if (!ctx.worktree || ctx.worktree === "/") return false;
  return isInside(ctx.worktree, filepath);
}

/** Same as the built-in Tool.assertExternalDirectory: ask before touching paths outside the project. */
export async function assertExternalDirectory(
  ctx: ToolContext,
  target: string | undefined,
  kind: "file" | "directory" = "file",
): Promise<boolean> {
  if (!target) return false;
  if (containsPath(ctx, target)) return false;
  const parentDir = kind === "directory" ? target : path.dirname(target);
  const glob = path.join(parentDir, "*").replaceAll("\\", "/");
  await ctx.ask({
    permission: "external_directory",
    patterns: [glob],
    always: [glob],
    metadata: { filepath: target, parentDir },
  });
  return true;
}

/** A random marker that file names or command output cannot predict. */
export function nonce(): string {
  return `__ocsbx_${Math.random().toString(36).slice(2)}${Date.now().toString(36)}__`;
}
