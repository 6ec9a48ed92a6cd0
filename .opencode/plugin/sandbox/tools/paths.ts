/**
 * Path mapping between the model's frame (the host project path it sees in its context)
 * and the sandbox. Pure functions: no filesystem access on either side.
 *
 * - A host path inside the project directory (after normalising `..`) is the same
 *   relative path under the sandbox's project directory.
 * - A relative path resolves against the project directory (so it lands in the sandbox's).
 * - Any other absolute path is the sandbox's own (`/tmp/x` stays `/tmp/x`, `/etc/passwd`
 *   is the sandbox's `/etc/passwd`) — never a host file, since tools only talk to the sandbox.
 *
 * Outputs shown to the model stay in its frame (`display`), exactly as the built-ins print
 * them, so a differential test against the built-in only has to normalise the project path.
 */
import * as path from "node:path";

/** How the built-in turns a relative `filePath` into an absolute one (read/apply_patch resolve, edit/write join). */
export type RelativeMode = "resolve" | "join";

export interface ToolPath {
  /** The path as the built-in would print it: absolute input kept verbatim, relative input made absolute. */
  display: string;
  /** `display` normalised (no `..`, no trailing slash): the host-frame identity of the file. */
  host: string;
  /** Where the file is inside the sandbox. */
  sandbox: string;
  /** Whether `host` is the project directory or inside it. */
  inProject: boolean;
}

/** Thrown for paths no filesystem accepts; the message goes back to the model. */
export class InvalidPathError extends Error {
  override readonly name = "InvalidPathError";
}

/** NUL bytes cannot be part of a path; reject before any provider call sees them. */
export function assertValidPath(p: string): void {
  if (typeof p !== "string") throw new InvalidPathError("Invalid path: expected a string");
  if (p.includes("\0")) throw new InvalidPathError(`Invalid path (contains a NUL byte): ${JSON.stringify(p)}`);
}

/** `child` is `parent` or below it (both absolute, normalised here). */
export function isInside(parent: string, child: string): boolean {
  const rel = path.posix.relative(path.posix.resolve(parent), path.posix.resolve(child));
  return rel === "" || (rel !== ".." && !rel.startsWith("../") && !path.posix.isAbsolute(rel));
}

/** Absolute host-frame path → absolute sandbox path. */
export function hostToSandbox(hostPath: string, hostDir: string, sandboxDir: string): string {
  const abs = path.posix.resolve(hostDir, hostPath);
  if (!isInside(hostDir, abs)) return abs;
  const rel = path.posix.relative(path.posix.resolve(hostDir), abs);
  return rel ? path.posix.join(sandboxDir, rel) : path.posix.normalize(sandboxDir);
}

/** Absolute sandbox path → the path the model would use (inverse of hostToSandbox inside the project). */
export function sandboxToHost(sandboxPath: string, hostDir: string, sandboxDir: string): string {
  const abs = path.posix.resolve(sandboxDir, sandboxPath);
  if (!isInside(sandboxDir, abs)) return abs;
  const rel = path.posix.relative(path.posix.resolve(sandboxDir), abs);
  return rel ? path.posix.join(hostDir, rel) : path.posix.resolve(hostDir);
}

/**
 * Map a model-supplied path. `hostDir` is the project directory the model sees
 * (ToolDeps.directory); `sandboxDir` is Sandbox.projectDir.
 */
export function resolveToolPath(
  input: string,
  hostDir: string,
  sandboxDir: string,
  mode: RelativeMode = "resolve",
): ToolPath {
  assertValidPath(input);
  const display = path.posix.isAbsolute(input)
    ? input
    : mode === "join"
      ? path.posix.join(hostDir, input)
      : path.posix.resolve(hostDir, input);
  const host = path.posix.resolve(display);
  return {
    display,
    host,
    sandbox: hostToSandbox(host, hostDir, sandboxDir),
    inProject: isInside(hostDir, host),
  };
}

/** Same file, the path relative to `base` with forward slashes (titles and permission patterns). */
export function relativeTo(base: string, target: string): string {
  return path.posix.relative(base, target);
}
