/**
 * What "the host is untouched" means, measured: a fingerprint of the user's repository
 * working tree, of its `.git` (files, and refs as git lists them) and of directories
 * around it (the home directory, a folder beside the project). Two fingerprints are
 * compared with an explicit list of the refs a case may change; everything else must
 * be identical, byte for byte, mode for mode, link target for link target.
 *
 * New objects under `.git/objects/` are not differences (a sync adds the sandbox's
 * commits as objects; content-addressed, they change nothing already there): objects
 * present before must still be present after, with the same bytes. The reflogs of the
 * expected refs, and the repository lock the sync takes, are left out with those refs.
 */
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join, relative } from "node:path";

/** path (relative to its root) → a digest of what is there. */
export type Tree = Map<string, string>;

function walk(root: string, skip: (rel: string) => boolean, into: Tree = new Map(), dir = root): Tree {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    into.set(relative(root, dir) || ".", "unreadable-dir");
    return into;
  }
  for (const name of names.sort()) {
    const path = join(dir, name);
    const rel = relative(root, path);
    if (skip(rel)) continue;
    const st = lstatSync(path);
    const mode = (st.mode & 0o7777).toString(8);
    if (st.isSymbolicLink()) into.set(rel, `link ${readlinkSync(path)}`);
    else if (st.isDirectory()) {
      into.set(rel, `dir ${mode}`);
      walk(root, skip, into, path);
    } else if (st.isFile()) into.set(rel, `file ${mode} ${createHash("sha256").update(readFileSync(path)).digest("hex")}`);
    else into.set(rel, `special ${st.mode.toString(8)} ${st.rdev}`);
  }
  return into;
}

export interface HostPrint {
  /** The working tree, `.git` left out. */
  tree: Tree;
  /** `.git` without refs and objects (compared by their own rules). */
  git: Tree;
  /** Every object file and pack under `.git/objects`. */
  objects: Tree;
  /** `refname → sha` for every ref, HEAD included (symbolic HEAD as `ref: …`). */
  refs: Map<string, string>;
  /** Other directories: label → tree. */
  dirs: Map<string, Tree>;
}

const GIT_VOLATILE = /^(refs|objects)(\/|$)|^packed-refs$|^opencode-sandboxed\.lock$|^FETCH_HEAD$/;

function refsOf(repo: string): Map<string, string> {
  const out = execFileSync("git", ["-C", repo, "for-each-ref", "--format=%(refname) %(objectname)"], { encoding: "utf8" });
  const refs = new Map(out.split("\n").filter(Boolean).map((l) => l.split(" ") as [string, string]));
  refs.set("HEAD", readFileSync(join(repo, ".git", "HEAD"), "utf8").trim());
  return refs;
}

/** Fingerprints the repository at `repo` (a plain checkout with `.git` a directory) and `dirs`. */
export function hostPrint(repo: string, dirs: Record<string, string> = {}): HostPrint {
  const gitDir = join(repo, ".git");
  return {
    tree: walk(repo, (rel) => rel === ".git"),
    git: walk(gitDir, (rel) => GIT_VOLATILE.test(rel)),
    objects: walk(join(gitDir, "objects"), () => false),
    refs: refsOf(repo),
    dirs: new Map(Object.entries(dirs).map(([label, dir]) => [label, walk(dir, () => false)])),
  };
}

function diffTrees(label: string, before: Tree, after: Tree, out: string[]) {
  for (const [k, v] of before) if (after.get(k) !== v) out.push(`${label}: ${k} ${after.has(k) ? "changed" : "removed"}`);
  for (const k of after.keys()) if (!before.has(k)) out.push(`${label}: ${k} added`);
}

/**
 * What differs between two prints, apart from `expectedRefs` (refs a case may create,
 * move or delete — each given by its full name, e.g. refs/heads/opencode/1). An empty
 * list: the host is untouched. An entry ending in `*` stands for every ref it begins.
 */
export function hostChanges(before: HostPrint, after: HostPrint, expectedRefs: readonly string[] = []): string[] {
  const out: string[] = [];
  diffTrees("work tree", before.tree, after.tree, out);
  // An entry ending in "*" stands for every ref it begins (e.g. a side branch opencode/1-*).
  const expected = (ref: string) => expectedRefs.some((r) => (r.endsWith("*") ? ref.startsWith(r.slice(0, -1)) : ref === r));
  const reflog = (k: string) => k.startsWith("logs/") && expected(k.slice("logs/".length));
  // Reflogs count, but those of the expected refs (and the folders holding them).
  const kept = (p: HostPrint) =>
    new Map([...p.git].filter(([k]) => !reflog(k) && !(k.startsWith("logs/") && expectedRefs.some((r) => `logs/${r}`.startsWith(`${k}/`)))));
  diffTrees(".git", kept(before), kept(after), out);
  for (const [k, v] of before.objects) if (after.objects.get(k) !== v) out.push(`.git/objects: ${k} ${after.objects.has(k) ? "changed" : "removed"}`);
  const refs = new Set([...before.refs.keys(), ...after.refs.keys()]);
  for (const r of refs) {
    if (expected(r)) continue;
    if (before.refs.get(r) !== after.refs.get(r)) out.push(`ref ${r}: ${before.refs.get(r) ?? "(none)"} → ${after.refs.get(r) ?? "(none)"}`);
  }
  for (const [label, tree] of before.dirs) diffTrees(label, tree, after.dirs.get(label) ?? new Map(), out);
  return out;
}
