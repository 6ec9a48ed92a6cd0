/**
 * git/quarantine.ts with real git: a sandbox's bundle is fetched once into a throwaway
 * repository; it reaches the user's object store only when it fits the budget, and a
 * refused one (too big, or its base missing) leaves the user's objects exactly as they
 * were. (Hostile objects are refused there too: test/reliability/hostile-git and git-security.)
 */
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { HostGit } from "../../.opencode/plugin/sandbox/git/host-git.js";
import { fetchQuarantined } from "../../.opencode/plugin/sandbox/git/quarantine.js";
import { cleanupAll, git, makeRepo, tempDir } from "./git-support.js";

const REF = "refs/opencode-sandboxed/sync";

afterAll(cleanupAll);

/** Every file under the repository's objects directory (loose objects and packs). */
function objectFiles(repo: string): string[] {
  const root = join(repo, ".git", "objects");
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) e.isDirectory() ? walk(join(dir, e.name)) : out.push(join(dir, e.name).slice(root.length));
  };
  walk(root);
  return out.sort();
}

/** A host repository, a clone of it that commits `files` new files, and the bundle of that commit. */
async function world(files: Record<string, string>) {
  const host = await makeRepo();
  const agent = join(await tempDir("git-agent-"), "a");
  git(host, "clone", "-q", host, agent);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(agent, name), content);
  git(agent, "add", "-A");
  git(agent, "commit", "-q", "-m", "work");
  git(agent, "update-ref", REF, "HEAD");
  const bundle = join(await tempDir("git-bundle-"), "sync.bundle");
  git(agent, "bundle", "create", "-q", bundle, REF, "^origin/main");
  return { host, bundle, head: git(agent, "rev-parse", "HEAD") };
}

async function quarantine(host: string, bundle: string, budget: number) {
  const hostGit = new HostGit(host);
  return fetchQuarantined({
    bundle,
    ref: REF,
    objectsDir: join(host, ".git", "objects"),
    scratch: `${bundle}.q`,
    hasPrerequisites: true,
    flags: await hostGit.hardening(),
    check: ({ bytes }) => {
      if (bytes > budget) throw new Error(`over budget: ${bytes}`);
    },
  });
}

describe("fetching a sandbox's bundle through the quarantine", () => {
  it.each([
    ["a few objects", 3],
    ["150 objects", 150],
  ] as const)("%s: admitted when it fits (as the pack git made of the bundle), every object readable in the user's repository", async (_name, count) => {
    const files = Object.fromEntries(Array.from({ length: count }, (_, i) => [`new${i}.txt`, `content ${i}\n`]));
    const { host, bundle, head } = await world(files);
    const before = objectFiles(host);
    expect(await quarantine(host, bundle, 1 << 30)).toBe("admitted");
    const after = objectFiles(host);
    const packs = after.filter((f) => f.endsWith(".pack") && !before.includes(f));
    // A fetch from a bundle always keeps a pack (index-pack; no unpacking into loose objects).
    expect(packs.length).toBe(1);
    // Every object of the commit is here, connected: a full check of the new commit passes.
    expect(git(host, "cat-file", "-t", head)).toBe("commit");
    expect(git(host, "rev-list", "--objects", "--missing=error", head).split("\n").length).toBeGreaterThan(count);
    expect(git(host, "fsck", "--connectivity-only", "--no-dangling")).toBe("");
    expect(existsSync(`${bundle}.q`)).toBe(false);
  });

  it("over the budget: refused, and the user's objects are exactly as they were", async () => {
    const { host, bundle } = await world({ "zeros.bin": "\0".repeat(4 << 20) });
    const before = objectFiles(host);
    await expect(quarantine(host, bundle, 1 << 20)).rejects.toThrow(/over budget: \d+/);
    expect(objectFiles(host)).toEqual(before);
    expect(existsSync(`${bundle}.q`)).toBe(false);
  });

  it("a bundle whose base the user lacks: need_full, nothing added", async () => {
    const { bundle } = await world({ "b.txt": "b\n" });
    const stranger = await makeRepo({ "other.txt": "unrelated\n" });
    const before = objectFiles(stranger);
    expect(await quarantine(stranger, bundle, 1 << 30)).toBe("need_full");
    expect(objectFiles(stranger)).toEqual(before);
  });
});
