/**
 * Git inside the sandbox: one `sh -c` script per step (one round trip on remote
 * providers). Values travel in environment variables, never spliced into the script,
 * so titles and refs cannot break the quoting. Results come back as `@@KEY value`
 * lines; everything else in the output is diagnostics.
 */
import type { Sandbox } from "../providers/provider.js";
import { GitSyncError } from "./errors.js";

/** Where bundles are put inside the sandbox's repository (never in the work tree). */
export const SANDBOX_DIR = ".git/opencode-sandboxed";
export const SANDBOX_BRANCH = "opencode";
/** The sandbox-side ref naming the commit a sync bundle carries. */
export const SANDBOX_SYNC_REF = "refs/opencode-sandboxed/sync";
export const SANDBOX_INCOMING_REF = "refs/opencode-sandboxed/incoming";

// The agent owns this repository: its hooks and config cannot reach the host, but
// hooks could block or alter our commits, and ownership checks differ per provider.
// Filter drivers the agent configured are blanked too: our commits record the files'
// bytes, and a driver cannot hang or fail a sync.
const PRELUDE = `set -u
fail() { echo "@@FAIL $*"; exit 1; }
cd "$OC_DIR" || fail "no project directory $OC_DIR"
FX=""
# One git call (no sed/sort): every process counts on a sync's critical path.
for k in $(git -c safe.directory='*' config --name-only --get-regexp '^filter[.]' 2>/dev/null); do
  k=\${k#filter.}; k=\${k%.*}
  FX="$FX -c filter.$k.smudge= -c filter.$k.clean= -c filter.$k.process= -c filter.$k.required=false"
done
G() { git -c safe.directory='*' -c core.hooksPath=/dev/null -c commit.gpgSign=false -c core.fsmonitor=false -c gc.auto=0 $FX "$@"; }
`;

// Commit everything outstanding (the session's message); prints @@HEAD <sha> or @@HEAD none.
// A sync killed midway (its host process died with the exec) leaves git's lock files;
// our marker's pid being dead means the locks newer than it are ours to remove.
const COMMIT_ALL = `
[ -e .git ] || fail "the sandbox's project directory is not a git repository any more"
mkdir -p "${SANDBOX_DIR}"
M="${SANDBOX_DIR}/running"
if [ -f "$M" ]; then
  P=""; read -r P < "$M" 2>/dev/null
  if [ -z "$P" ] || ! kill -0 "$P" 2>/dev/null; then find .git -name '*.lock' -newer "$M" -exec rm -f {} + 2>/dev/null; fi
fi
echo $$ > "$M"
trap 'rm -f "$M"' EXIT
G add -A >"${SANDBOX_DIR}/add.log" 2>&1 || { cat "${SANDBOX_DIR}/add.log"; fail "git add failed"; }
if [ -e .git/MERGE_HEAD ] || [ -e .git/CHERRY_PICK_HEAD ] || [ -e .git/REVERT_HEAD ]; then
  # An operation in progress: git commit records it (e.g. a merge's second parent).
  if ! G diff --cached --quiet 2>/dev/null; then
    G -c user.name="$OC_NAME" -c user.email="$OC_EMAIL" commit -q --no-verify -m "$OC_MSG" >"${SANDBOX_DIR}/commit.log" 2>&1 \\
      || { cat "${SANDBOX_DIR}/commit.log"; fail "git commit failed"; }
    echo "@@COMMITTED"
  fi
  H=$(G rev-parse -q --verify 'HEAD^{commit}') || { echo "@@HEAD none"; exit 0; }
else
  # Plumbing: git commit would stat the whole work tree again after add did; on a
  # large repository that doubles a sync's time in here.
  T=$(G write-tree) || fail "git write-tree failed"
  set -- $(G log -1 --format='%H %T' 2>/dev/null) "" ""
  P=$1
  H=$P
  # Unborn HEAD with nothing staged (the empty tree): nothing to commit, as git commit says.
  [ -z "$P" ] && [ "$T" = 4b825dc642cb6eb9a060e54bf8d69288fbee4904 ] && { echo "@@HEAD none"; exit 0; }
  if [ "$T" != "$2" ]; then
    H=$(G -c user.name="$OC_NAME" -c user.email="$OC_EMAIL" commit-tree "$T" \${P:+-p "$P"} -m "$OC_MSG") || fail "git commit-tree failed"
    G update-ref -m "commit: $OC_MSG" HEAD "$H" "$P" || fail "git update-ref HEAD failed"
    echo "@@COMMITTED"
  fi
fi
[ -n "$H" ] || { echo "@@HEAD none"; exit 0; }
echo "@@HEAD $H"
`;

export const SEED_SCRIPT =
  PRELUDE +
  `
G init -q . >/dev/null 2>&1 || fail "git init failed (is git installed in the sandbox?)"
G config user.name "$OC_NAME" && G config user.email "$OC_EMAIL" || fail "git config failed"
G fetch -q --no-tags "$OC_BUNDLE" "+$OC_REF:refs/opencode-sandboxed/base" 2>&1 || fail "git fetch from the seed bundle failed"
G checkout -q -f -B "${SANDBOX_BRANCH}" refs/opencode-sandboxed/base 2>&1 || fail "git checkout failed"
# Ignored files the user opted into: into the working tree, then out of the index again,
# so they stay ignored and no commit here carries them.
if [ -n "\${OC_IGNORED_REF:-}" ]; then
  G fetch -q --no-tags "$OC_BUNDLE" "+$OC_IGNORED_REF:refs/opencode-sandboxed/ignored" 2>&1 || fail "git fetch of the ignored files failed"
  G checkout -q refs/opencode-sandboxed/ignored -- . 2>&1 && G reset -q 2>&1 || fail "git checkout of the ignored files failed"
  # Ignored on the host perhaps by a rule the sandbox lacks (.git/info/exclude, a global file): name each here.
  mkdir -p .git/info
  G -c core.quotePath=false diff --name-only refs/opencode-sandboxed/base refs/opencode-sandboxed/ignored | sed -e 's/[][*?!#\\\\ ]/\\\\&/g' -e 's|^|/|' >> .git/info/exclude
  G update-ref -d refs/opencode-sandboxed/ignored
fi
rm -f "$OC_BUNDLE"
echo "@@HEAD $(G rev-parse HEAD)"
`;

/**
 * Sync step inside: commit, then bundle HEAD minus what the host has ($OC_BASE, when
 * the sandbox still has it). @@KNOWN: HEAD is already contained in the base (no bundle).
 * A small bundle comes back in the answer itself (@@INLINE, base64): one round trip.
 */
/** Bundles up to this size travel inside the sync command's answer. */
export const INLINE_BUNDLE_BYTES = 48 * 1024;

export const SYNC_SCRIPT =
  PRELUDE +
  COMMIT_ALL +
  `
[ "$H" = "\${OC_BASE:-}" ] && { echo "@@KNOWN"; exit 0; }
G update-ref "${SANDBOX_SYNC_REF}" "$H" || fail "git update-ref failed"
# Each sync writes its own file (a killed host's sync may still be running here);
# bundles the host did not come back for are swept once they are old.
find "${SANDBOX_DIR}" -name '*.bundle*' -mmin +2 -exec rm -f {} + 2>/dev/null
EXCL=""
[ -n "\${OC_BASE:-}" ] && EXCL="^$OC_BASE"
if ! G bundle create "$OC_BUNDLE" "${SANDBOX_SYNC_REF}" $EXCL >"${SANDBOX_DIR}/bundle.log" 2>&1; then
  # HEAD is contained in the base (the agent reset back): the host has it already.
  grep -q "empty bundle" "${SANDBOX_DIR}/bundle.log" && { echo "@@KNOWN"; exit 0; }
  # The base is gone here (gc'd after a reset): bundle everything.
  EXCL=""
  G bundle create "$OC_BUNDLE" "${SANDBOX_SYNC_REF}" >"${SANDBOX_DIR}/bundle.log" 2>&1 || { cat "${SANDBOX_DIR}/bundle.log"; fail "git bundle create failed"; }
fi
echo "@@BUNDLE $EXCL"
S=$(wc -c < "$OC_BUNDLE")
echo "@@SIZE $S"
if [ $S -le ${INLINE_BUNDLE_BYTES} ]; then
  printf '@@INLINE '; base64 < "$OC_BUNDLE" | tr -d '\n'; echo
  rm -f "$OC_BUNDLE"
fi
`;

/** Merge a bundle from the host into the sandbox's HEAD; on conflict list files, abort. */
export const MERGE_SCRIPT =
  PRELUDE +
  COMMIT_ALL +
  `
if [ -n "\${OC_BUNDLE:-}" ]; then
  G fetch -q --no-tags "$OC_BUNDLE" "+$OC_REF:${SANDBOX_INCOMING_REF}" >"${SANDBOX_DIR}/fetch.log" 2>&1 || { cat "${SANDBOX_DIR}/fetch.log"; echo "@@FETCHFAIL"; exit 0; }
  rm -f "$OC_BUNDLE"
  T=${SANDBOX_INCOMING_REF}
else
  G cat-file -e "$OC_COMMIT^{commit}" 2>/dev/null || { echo "@@FETCHFAIL"; exit 0; }
  T=$OC_COMMIT
fi
if G -c user.name="$OC_NAME" -c user.email="$OC_EMAIL" merge --no-verify --no-edit -m "$OC_MSG" "$T" >"${SANDBOX_DIR}/merge.log" 2>&1; then
  echo "@@MERGED $(G rev-parse HEAD)"
else
  U=$(G diff --name-only --diff-filter=U -z | tr '\\0' '\\n')
  if [ -z "$U" ]; then cat "${SANDBOX_DIR}/merge.log"; G merge --abort >/dev/null 2>&1; fail "git merge failed"; fi
  printf '%s\\n' "$U" | while IFS= read -r f; do [ -n "$f" ] && echo "@@CONFLICT $f"; done
  G merge --abort >/dev/null 2>&1 || G reset -q --merge >/dev/null 2>&1
  echo "@@ABORTED"
fi
`;

export interface ScriptResult {
  /** `@@KEY value` lines, key → values in order. */
  marks: Map<string, string[]>;
  output: string;
}

export function parseMarks(output: string): Map<string, string[]> {
  const marks = new Map<string, string[]>();
  for (const line of output.split("\n")) {
    const m = /^@@([A-Z]+)(?: (.*))?$/.exec(line);
    if (!m) continue;
    const list = marks.get(m[1]) ?? [];
    list.push(m[2] ?? "");
    marks.set(m[1], list);
  }
  return marks;
}

export async function runScript(
  sandbox: Sandbox,
  script: string,
  env: Record<string, string>,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<ScriptResult> {
  const result = await sandbox.exec(script, {
    cwd: sandbox.projectDir,
    env: { OC_DIR: sandbox.projectDir, GIT_TERMINAL_PROMPT: "0", LC_ALL: "C", ...env },
    timeoutMs: options.timeoutMs ?? 10 * 60_000,
    signal: options.signal,
  });
  const marks = parseMarks(result.output);
  const failed = marks.get("FAIL");
  if (result.exitCode !== 0 || failed) {
    const why = result.timedOut ? "timed out" : result.aborted ? "was aborted" : failed?.[0] ?? `exit ${result.exitCode}`;
    const details = result.output
      .split("\n")
      .filter((l) => l && !l.startsWith("@@"))
      .slice(-8)
      .join("\n");
    throw new GitSyncError("sandbox_failed", `git in the sandbox: ${why}${details ? `\n${details}` : ""}`);
  }
  return { marks, output: result.output };
}

export const sandboxPath = (sandbox: Sandbox, name: string) => `${sandbox.projectDir.replace(/\/+$/, "")}/${SANDBOX_DIR}/${name}`;
