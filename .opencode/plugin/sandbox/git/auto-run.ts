/**
 * Paths that run code or configure tools on the host by themselves once they are in
 * the user's working tree (OpenCode loads `.opencode/plugin/*.ts` on its next start,
 * direnv runs `.envrc`, editors honour `.vscode/`, git honours `.gitattributes`
 * filters …). Work from a sandbox that touches one of them is never written into the
 * user's checkout without the user asking for it.
 */
import { posix } from "node:path";

/** Directory names that, at any depth, hold host-side configuration. */
const AUTO_RUN_DIRS = new Set([".opencode", ".vscode", ".idea", ".husky", ".githooks", ".devcontainer"]);

/** File names that, at any depth, configure or run something on the host. */
const AUTO_RUN_FILES = new Set([
  "opencode.json",
  "opencode.jsonc",
  ".envrc",
  ".gitattributes",
  ".gitmodules",
  ".npmrc",
  ".yarnrc",
  ".yarnrc.yml",
  ".pnpmfile.cjs",
]);

/**
 * Why `path` (repository-relative, `/`-separated) runs or configures something on the
 * host by itself; undefined when it does not. Compared case-insensitively: on a
 * case-insensitive file system `.VSCode/` is `.vscode/`.
 */
export function autoRunReason(path: string): string | undefined {
  const parts = path.toLowerCase().split("/").filter(Boolean);
  const file = parts.at(-1);
  const dir = parts.slice(0, -1).find((p) => AUTO_RUN_DIRS.has(p));
  if (dir) return `${dir}/ configures tools on the host`;
  if (file && AUTO_RUN_DIRS.has(file)) return `${file}/ configures tools on the host`;
  if (file && AUTO_RUN_FILES.has(file)) return `${file} configures or runs tools on the host`;
  return undefined;
}

/**
 * Whether a symlink at `linkPath` (repository-relative) whose target is `target`
 * points outside the repository: absolute targets always do; relative ones when they
 * climb above the repository's root.
 */
export function symlinkEscapes(linkPath: string, target: string): boolean {
  if (target.startsWith("/") || target === "" || target.includes("\0")) return true;
  const resolved = posix.normalize(posix.join(posix.dirname(linkPath), target));
  return resolved === ".." || resolved.startsWith("../");
}
