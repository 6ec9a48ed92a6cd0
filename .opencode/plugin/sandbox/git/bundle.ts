/**
 * Bundle headers, parsed on the host before git sees the file: a bundle from the
 * sandbox must carry exactly the one ref we asked for, so a crafted bundle cannot
 * smuggle other refs (or odd names) into a fetch.
 */
import { open } from "node:fs/promises";
import { GitSyncError } from "./errors.js";

export interface BundleHeader {
  version: 2 | 3;
  prerequisites: string[];
  refs: { sha: string; name: string }[];
}

const SHA = /^[0-9a-f]{40}([0-9a-f]{24})?$/;
const MAX_HEADER = 64 * 1024;

export function parseBundleHeader(bytes: Uint8Array): BundleHeader {
  const text = Buffer.from(bytes.subarray(0, Math.min(bytes.length, MAX_HEADER))).toString("latin1");
  const end = text.indexOf("\n\n");
  if (end < 0) throw new GitSyncError("bad_bundle", "not a git bundle (no header end)");
  const lines = text.slice(0, end).split("\n");
  const signature = lines.shift();
  const version = signature === "# v2 git bundle" ? 2 : signature === "# v3 git bundle" ? 3 : undefined;
  if (!version) throw new GitSyncError("bad_bundle", "not a git bundle (bad signature)");
  const header: BundleHeader = { version, prerequisites: [], refs: [] };
  for (const line of lines) {
    if (version === 3 && line.startsWith("@")) continue; // capabilities (object-format, filter)
    if (line.startsWith("-")) {
      const sha = line.slice(1).split(" ")[0];
      if (!SHA.test(sha)) throw new GitSyncError("bad_bundle", "bad prerequisite line in bundle");
      header.prerequisites.push(sha);
      continue;
    }
    const space = line.indexOf(" ");
    const sha = line.slice(0, space);
    const name = line.slice(space + 1);
    if (space < 0 || !SHA.test(sha) || !name) throw new GitSyncError("bad_bundle", "bad ref line in bundle");
    header.refs.push({ sha, name });
  }
  return header;
}

export async function readBundleHeader(path: string): Promise<BundleHeader> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(MAX_HEADER);
    const { bytesRead } = await handle.read(buffer, 0, MAX_HEADER, 0);
    return parseBundleHeader(buffer.subarray(0, bytesRead));
  } finally {
    await handle.close();
  }
}

/** The bundle must name `ref` at `sha` and nothing else. */
export function expectSingleRef(header: BundleHeader, ref: string, sha: string): void {
  if (header.refs.length !== 1 || header.refs[0].name !== ref || header.refs[0].sha !== sha)
    throw new GitSyncError(
      "bad_bundle",
      `the sandbox's bundle does not carry exactly ${ref} at ${sha.slice(0, 12)} (got ${header.refs.map((r) => `${r.name}@${r.sha.slice(0, 12)}`).join(", ") || "no refs"})`,
    );
}
