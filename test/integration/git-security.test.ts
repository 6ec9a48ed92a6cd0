/** Nothing the agent writes into the sandbox's repository executes on the host. */
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cleanupAll, git, harness, makeRepo, tempDir } from "./git-support.js";
import { disposeProviders, providerCases } from "./git-providers.js";

afterAll(async () => {
  await disposeProviders();
  await cleanupAll();
});

describe.each(providerCases())("a malicious sandbox repository on $name", { timeout: 180_000 }, ({ make }) => {
  it("runs no hook, fsmonitor or filter driver on the host — also when the branch is checked out and fast-forwards", async () => {
    const repo = await makeRepo({ "f.txt": "original\n" });
    const marks = await tempDir("markers-");
    const m = (name: string) => join(marks, name);
    // Drivers the host's own config defines (as git-lfs would): an attribute from the
    // sandbox naming them is the only way sandbox content could run something here.
    git(repo, "config", "filter.evil.smudge", `sh -c 'touch ${m("host-smudge")}; cat'`);
    git(repo, "config", "filter.evil.clean", `sh -c 'touch ${m("host-clean")}; cat'`);
    git(repo, "config", "filter.evilp.process", `sh -c 'touch ${m("host-process")}; exit 1'`);
    git(repo, "config", "diff.evil.textconv", `sh -c 'touch ${m("host-textconv")}; cat'`);

    const h = await harness(repo, { provider: await make() });
    await h.open("ses_evil");
    const hooks = ["pre-commit", "post-commit", "post-checkout", "post-merge", "reference-transaction", "pre-auto-gc", "post-rewrite", "fsmonitor-watchman"];
    const hookScript = (name: string) => `#!/bin/sh\ntouch ${m(`hook-${name}`)}\n`;
    const setup = [
      ...hooks.map((n) => `printf '%s' '${hookScript(n)}' > .git/hooks/${n} && chmod +x .git/hooks/${n}`),
      `git config core.fsmonitor "touch ${m("sbx-fsmonitor")}"`,
      `git config filter.evil.smudge "sh -c 'touch ${m("sbx-smudge")}; cat'"`,
      `git config filter.evil.clean "sh -c 'touch ${m("sbx-clean")}; cat'"`,
      `git config core.hooksPath .git/hooks`,
      `git config core.pager "touch ${m("sbx-pager")}"`,
      `printf '* filter=evil diff=evil\\n*.p filter=evilp\\n' > .gitattributes`,
      `printf '[submodule "x"]\\n\\tpath = x\\n\\turl = ./x\\n\\tupdate = !touch ${m("sbx-submodule")}\\n' > .gitmodules`,
      `echo changed > f.txt && echo data > data.p`,
    ].join(" && ");
    await h.sh("ses_evil", setup);
    rmSync(marks, { recursive: true, force: true }); // whatever the agent's own git did in the sandbox
    const { mkdirSync } = await import("node:fs");
    mkdirSync(marks);

    git(repo, "checkout", "-q", "opencode/1"); // checked out and clean
    // .gitattributes and .gitmodules configure git on the host: the checkout does not
    // follow by itself (git-autorun.test.ts); the work waits for review.
    const r = await h.gitSync.sync("ses_evil", "idle");
    expect(r.kind === "synced" && r.outcome.kind).toBe("held");
    expect(existsSync(join(repo, ".gitattributes"))).toBe(false);
    expect(readFileSync(join(repo, "f.txt"), "utf8")).toBe("original\n");
    expect((await import("node:fs")).readdirSync(marks)).toEqual([]);
    // The user takes it (with the host's drivers off: their own git would run them),
    // so that the syncs below fast-forward a work tree whose attributes name the drivers.
    const off = ["evil", "evilp"].flatMap((d) => ["-c", `filter.${d}.smudge=`, "-c", `filter.${d}.clean=`, "-c", `filter.${d}.process=`, "-c", `filter.${d}.required=false`]);
    git(repo, ...off, "merge", "-q", "--ff-only", "opencode/1-review");
    expect(readFileSync(join(repo, "f.txt"), "utf8")).toBe("changed\n");
    expect(readFileSync(join(repo, "data.p"), "utf8")).toBe("data\n");
    expect(readFileSync(join(repo, ".gitattributes"), "utf8")).toContain("filter=evil");
    rmSync(marks, { recursive: true, force: true });
    mkdirSync(marks);

    // A second sync over the now-attributed work tree (status/refresh read .gitattributes).
    await h.sh("ses_evil", "echo again > f.txt");
    const r2 = await h.gitSync.sync("ses_evil", "idle");
    expect(r2.kind === "synced" && r2.outcome.kind).toBe("advanced");
    expect(readFileSync(join(repo, "f.txt"), "utf8")).toBe("again\n");
    // And a seed of a new session from this checkout (temp-index add reads attributes too).
    await h.open("ses_evil2");

    expect(existsSync(marks) ? (await import("node:fs")).readdirSync(marks) : []).toEqual([]);

    // Control: the trap is live — the user's own plain git does run the host driver.
    rmSync(join(repo, "f.txt"));
    try {
      git(repo, "checkout", "--", "f.txt");
    } catch {
      // The process driver fails the checkout after running: the marker is what counts.
    }
    expect(existsSync(m("host-smudge")) || existsSync(m("host-process"))).toBe(true);
  });
});

describe("a crafted bundle", () => {
  it("with extra refs is refused before git fetches it", async () => {
    const { parseBundleHeader, expectSingleRef } = await import("../../.opencode/plugin/sandbox/git/bundle.js");
    const sha = "a".repeat(40);
    const header = parseBundleHeader(Buffer.from(`# v2 git bundle\n${sha} refs/opencode-sandboxed/sync\n${sha} refs/heads/main\n\nPACK`));
    expect(() => expectSingleRef(header, "refs/opencode-sandboxed/sync", sha)).toThrow(/exactly/);
    writeFileSync(join(await tempDir(), "x"), "");
  });
});
