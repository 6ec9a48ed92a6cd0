/**
 * Hostile input on the git side, as data: what the agent can do to the sandbox's
 * repository before a sync (a corrupted `.git`, crafted objects that travel in the
 * bundle to the host, odd ref names inside), and refs the model passes to
 * `sandbox_merge`. Each case runs through the real sync (or merge) path of the
 * project's service; `expect` matches the outcome rendered as one line:
 * `synced <outcome kind>`, `skipped <why>`, `merged …`/`conflict …` or
 * `error <GitSyncError kind>: <message>`. `refs` lists the host refs the case may
 * change (a sync moves the session's private ref refs/opencode-sandboxed/sessions/<id>
 * too) — any other change to the host's repository, .git or home fails it.
 * `@O` is a folder beside the project: a marker written there would be a command run
 * on the host.
 */

export interface GitCase {
  class: string;
  name: string;
  /** Shell run in the sandbox's project directory (as the agent would) before the sync. */
  setup?: string;
  /** Instead of a sync: sandbox_merge with this ref. */
  mergeRef?: string;
  expect: RegExp;
  /** Host refs this case may create or move. */
  refs?: string[];
  /** The case leaves the sandbox's repository sound (no restore from the copy taken before it). */
  keep?: boolean;
}

/** A tree holding `name` (any bytes but NUL and `/`), crafted with hash-object --literally: git's own commands refuse such names. */
const craftedTree = (name: string, mode = "100644") =>
  `B=$(echo planted | git hash-object -w --stdin) && ` +
  `T=$(python3 -c 'import sys,binascii; sys.stdout.buffer.write(sys.argv[1].encode()+b" "+sys.argv[2].encode()+b"\\0"+binascii.unhexlify(sys.argv[3]))' '${mode}' '${name}' "$B" | git hash-object -t tree -w --literally --stdin) && ` +
  `C=$(git commit-tree "$T" -p HEAD -m crafted) && git update-ref HEAD "$C"`;

export const GIT_CASES: GitCase[] = [
  // ── a corrupted .git inside the sandbox: the sync fails, naming it; the host is untouched
  { class: "corrupted .git", name: ".git removed", setup: "rm -rf .git", expect: /^error sandbox_failed: .*not a git repository any more/ },
  { class: "corrupted .git", name: "HEAD holds garbage", setup: "echo 'garbage' > .git/HEAD", expect: /^error sandbox_failed: / },
  { class: "corrupted .git", name: ".git is a file pointing at /etc", setup: "rm -rf .git && echo 'gitdir: /etc' > .git", expect: /^error sandbox_failed: / },
  { class: "corrupted .git", name: ".git is a symlink to /", setup: "rm -rf .git && ln -s / .git", expect: /^error sandbox_failed: / },
  { class: "corrupted .git", name: "every object deleted", setup: "find .git/objects -type f -delete", expect: /^error sandbox_failed: / },
  { class: "corrupted .git", name: "the index is random bytes", setup: "head -c 4096 /dev/urandom > .git/index", expect: /^error sandbox_failed: .*(index|git add)/s },
  { class: "corrupted .git", name: "the config is not a config", setup: "printf '[[[not a config\\n' > .git/config", expect: /^error sandbox_failed: .*(config|git add)/s },
  { class: "corrupted .git", name: "an index.lock left behind", setup: "touch .git/index.lock && echo x >> a.txt", expect: /^error sandbox_failed: .*index\.lock/s },
  { class: "corrupted .git", name: "HEAD names a tree, not a commit", setup: "T=$(git rev-parse 'HEAD^{tree}') && echo $T > .git/HEAD", expect: /^error sandbox_failed: / },
  { class: "corrupted .git", name: "HEAD on an unborn branch, nothing staged", setup: "git symbolic-ref HEAD refs/heads/nothing-here && git rm -rq --cached . && git clean -fdxq", expect: /^error sandbox_failed: .*no commit to sync/ },

  // ── crafted objects that travel in the bundle: refused by the host's checks before any ref moves
  { class: "crafted bundle content", name: "a tree entry named .git", setup: craftedTree(".git"), expect: /^error bad_bundle: .*hasDotgit/ },
  { class: "crafted bundle content", name: "a tree entry named ..", setup: craftedTree(".."), expect: /^error bad_bundle: .*hasDotdot/ },
  { class: "crafted bundle content", name: "a tree entry named .GIT (case-folding file systems)", setup: craftedTree(".GIT"), expect: /^error bad_bundle: .*hasDotgit/ },
  { class: "crafted bundle content", name: "a tree entry with an empty name", setup: craftedTree(""), expect: /^error sandbox_failed: .*empty filename in tree entry/s },
  { class: "crafted bundle content", name: "a .gitmodules whose url is an option", setup: "printf '[submodule \"x\"]\\n\\tpath = x\\n\\turl = --upload-pack=touch @O/pwned\\n' > .gitmodules", expect: /^error bad_bundle: .*gitmodulesUrl/ },
  // The test's budget is 8 MB (sync.sizeBudgetMb): a bundle of a few KB that unpacks to 24 MB.
  { class: "crafted bundle content", name: "24 MB of zeros (a zip bomb of a blob)", setup: "head -c 24000000 /dev/zero > zeros.bin", expect: /^error over_budget: / },
  { class: "crafted bundle content", name: "a tree entry named GIT~1 (the NTFS short name of .git)", setup: craftedTree("GIT~1"), expect: /^error bad_bundle: .*hasDotgit/ },

  // ── ref names: inside the sandbox they never reach the host; from the model they are refs, never options
  { class: "malicious ref name", name: "sandbox_merge of --upload-pack=<command>", mergeRef: "--upload-pack=touch @O/pwned", expect: /^error git_failed: not a ref: "--upload-pack=/ },
  { class: "malicious ref name", name: "sandbox_merge of -h", mergeRef: "-h", expect: /^error git_failed: not a ref: "-h"/ },
  { class: "malicious ref name", name: "sandbox_merge of main; touch", mergeRef: "main; touch @O/pwned", expect: /^error git_failed: no commit named "main; touch/ },
  { class: "malicious ref name", name: "sandbox_merge of $(touch)", mergeRef: "$(touch @O/pwned)", expect: /^error git_failed: no commit named "\$\(touch/ },
  { class: "malicious ref name", name: "sandbox_merge of ../../../etc/passwd", mergeRef: "../../../etc/passwd", expect: /^error git_failed: no commit named "\.\.\/\.\.\/\.\.\/etc\/passwd"/ },
  { class: "malicious ref name", name: "sandbox_merge of a refspec main:refs/heads/evil", mergeRef: "main:refs/heads/evil", expect: /^error git_failed: no commit named "main:refs\/heads\/evil"/ },
  { class: "malicious ref name", name: "sandbox_merge of a ref with a newline and an option", mergeRef: "main\n--exec=touch @O/pwned", expect: /^error git_failed: not a ref: "main\\n--exec/ },
  { class: "malicious ref name", name: "sandbox_merge of a 1 MiB ref", mergeRef: `main${"~".repeat(1 << 20)}`, expect: /^error git_failed: not a ref: "main~{73}\.\.\."$/ },
  { class: "malicious ref name", name: "sandbox_merge of a ref with a NUL", mergeRef: "main\u0000--upload-pack=touch @O/pwned", expect: /^error git_failed: not a ref: "main\\u0000--upload-pack=/ },
  {
    class: "malicious ref name",
    name: "the sandbox's HEAD on a branch named --upload-pack=…",
    setup: "git checkout -q -b '--upload-pack=touch @O/pwned' 2>/dev/null || git symbolic-ref HEAD 'refs/heads/--upload-pack=touch' && echo more >> a.txt",
    // Forward only: onto opencode/1, or beside it on a side branch when its history differs.
    expect: /^synced (advanced|diverted)$/,
    refs: ["refs/heads/opencode/1", "refs/heads/opencode/1-*", "refs/opencode-sandboxed/sessions/ses_hostile_git"],
    keep: true,
  },
  {
    class: "malicious ref name",
    name: "refs in the sandbox named like the host's branches",
    setup: "git update-ref refs/heads/main HEAD && git update-ref refs/remotes/origin/main HEAD && git update-ref refs/opencode-sandboxed/sync HEAD && git tag -f v-evil && echo again >> a.txt",
    // Forward only: onto opencode/1, or beside it on a side branch when its history differs.
    expect: /^synced (advanced|diverted)$/,
    refs: ["refs/heads/opencode/1", "refs/heads/opencode/1-*", "refs/opencode-sandboxed/sessions/ses_hostile_git"],
    keep: true,
  },
];
