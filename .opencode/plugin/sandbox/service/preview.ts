/**
 * A preview: a fresh sandbox holding a repository's branch, an optional setup command,
 * a server started in the background and a link once its port listens. Also a fresh
 * link to a port of a sandbox that already runs. Returns outcomes with typed errors; a
 * face renders them.
 *
 * The branch always travels into the sandbox as a git bundle, as seeding does. A URL is
 * cloned on the host first (hardened git, no prompt), not inside the sandbox: the
 * sandbox then needs no route to the repository (a local sandbox's `isolated` egress
 * refuses private and host addresses by design) and never holds the user's git
 * credentials, which a private repository needs; and a URL that cannot be cloned fails
 * before any sandbox exists.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { LABEL_PLUGIN } from "../core/session-manager.js";
import { findRepo, HostGit } from "../git/host-git.js";
import type { PreviewLink, Sandbox, SandboxProvider } from "../providers/provider.js";
import { shq } from "../util/shell.js";

export type PreviewErrorKind = "bad_input" | "not_a_repository" | "no_branch" | "fetch_failed" | "setup_failed" | "server_ended" | "no_port";

export class PreviewError extends Error {
  override readonly name = "PreviewError";
  constructor(
    readonly kind: PreviewErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/** Labels of preview sandboxes: this installation's (the provider adds that), never a project's sessions'. */
export const PREVIEW_LABELS = { plugin: LABEL_PLUGIN, role: "preview" } as const;

export interface PreviewRequest {
  /** A repository URL (https, ssh, git) or a local path. */
  source: string;
  /** Default: the local repository's current branch; the remote's default branch. */
  branch?: string;
  setup?: string;
  start: string;
  port: number;
  /** Upper bound for setup, and again for the port to listen (a hang, not a speed claim). */
  waitMs?: number;
  /** Progress for the face ("cloning…"). */
  progress?: (line: string) => void;
}

export interface PreviewResult {
  sandbox: Sandbox;
  link: PreviewLink;
  /** The background process serving the port. */
  processId: string;
  branch: string;
}

const URL_LIKE = /^(https?|ssh|git):\/\/|^[\w.-]+@[\w.-]+:/;
const tail = (text: string, lines = 20) => text.trim().split("\n").slice(-lines).join("\n");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new PreviewError("bad_input", `Port ${port} is not a TCP port (1-65535).`);
  return port;
}

/** A local repository's branch as a bundle file on the host (hardened git, see host-git.ts). */
interface Bundle {
  file: string;
  ref: string;
  branch: string;
  cleanup: () => Promise<void>;
}

async function bundleOf(path: string, branch: string | undefined): Promise<Bundle> {
  const dir = resolve(path);
  if (!(await stat(dir).then((s) => s.isDirectory(), () => false))) throw new PreviewError("bad_input", `${path} is neither a repository URL nor a directory.`);
  const repo = await findRepo(dir);
  if (!repo) throw new PreviewError("not_a_repository", `${dir} is not a git repository.`);
  const git = new HostGit(repo.top);
  const name = branch ?? (await git.run(["symbolic-ref", "-q", "--short", "HEAD"], { allowFail: true })).stdout.trim();
  if (!name) throw new PreviewError("no_branch", `${repo.top} has no branch checked out: name one with --branch.`);
  const ref = `refs/heads/${name}`;
  if (!(await git.resolve(ref))) throw new PreviewError("no_branch", `${repo.top} has no branch "${name}".`);
  const tmp = await mkdtemp(join(tmpdir(), "opencode-preview-"));
  const file = join(tmp, "preview.bundle");
  await git.run(["bundle", "create", file, ref]);
  return { file, ref, branch: name, cleanup: () => rm(tmp, { recursive: true, force: true }) };
}

/** Only network transports for a URL: never `ext::` (runs a command) nor a local file path in disguise. */
const CLONE_PROTOCOLS = ["protocol.allow=never", ...["https", "http", "ssh", "git"].map((p) => `protocol.${p}.allow=always`)];

/**
 * A URL's branch as a bundle file on the host: a bare single-branch clone (whole
 * history: a shallow clone's bundle would lack the parents it names) in a temporary
 * directory, removed again whatever happens.
 */
async function cloneBundle(url: string, branch: string | undefined, waitMs: number): Promise<Bundle> {
  const tmp = await mkdtemp(join(tmpdir(), "opencode-preview-"));
  const cleanup = () => rm(tmp, { recursive: true, force: true });
  try {
    const bare = join(tmp, "repo.git");
    const flags = CLONE_PROTOCOLS.flatMap((c) => ["-c", c]);
    const pick = branch ? ["--branch", branch] : [];
    const cloned = await new HostGit(tmp).run([...flags, "clone", "-q", "--bare", "--single-branch", "--no-tags", ...pick, "--", url, bare], {
      allowFail: true,
      timeoutMs: waitMs,
    });
    if (cloned.code !== 0) throw new PreviewError("fetch_failed", `Cloning ${url} failed (exit ${cloned.code}):\n${tail(cloned.stderr || cloned.stdout)}`);
    const git = new HostGit(bare);
    const name = branch ?? (await git.run(["symbolic-ref", "-q", "--short", "HEAD"], { allowFail: true })).stdout.trim();
    const ref = `refs/heads/${name}`;
    if (!name || !(await git.resolve(ref))) throw new PreviewError("no_branch", `${url} has no branch ${name ? `"${name}"` : "checked out as its default: name one with --branch"}.`);
    const file = join(tmp, "preview.bundle");
    await git.run(["bundle", "create", file, ref]);
    return { file, ref, branch: name, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** The branch to preview as a bundle on the host: cloned from a URL, or taken from a local repository. */
function bundleFor(request: PreviewRequest, waitMs: number): Promise<Bundle> {
  return URL_LIKE.test(request.source) ? cloneBundle(request.source, request.branch, waitMs) : bundleOf(request.source, request.branch);
}

/** Fills the sandbox's project directory with the bundle's branch; returns the branch checked out. */
async function fetchInto(sandbox: Sandbox, bundle: Bundle, waitMs: number): Promise<string> {
  const remote = `/tmp/opencode-preview-${randomBytes(4).toString("hex")}.bundle`;
  await sandbox.writeFile(remote, await readFile(bundle.file));
  const r = await sandbox.exec(
    `git init -q . && git fetch -q --no-tags --update-head-ok ${shq(remote)} ${shq(`${bundle.ref}:${bundle.ref}`)} && git checkout -q ${shq(bundle.branch)}; c=$?; rm -f ${shq(remote)}; exit $c`,
    { cwd: sandbox.projectDir, timeoutMs: waitMs },
  );
  if (r.exitCode !== 0) throw new PreviewError("fetch_failed", `Checking out ${bundle.branch} inside the sandbox failed:\n${tail(r.output)}`);
  return bundle.branch;
}

/** Whether `port` listens in the sandbox (tcp or tcp6, any address), polled inside for up to `seconds`. */
async function listens(sandbox: Sandbox, port: number, seconds: number): Promise<boolean> {
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  const check = `grep -qE '^ *[0-9]+: [0-9A-F]+:${hex} [0-9A-F]+:[0-9A-F]+ 0A ' /proc/net/tcp /proc/net/tcp6 2>/dev/null`;
  const r = await sandbox.exec(`i=0; while [ $i -lt ${seconds * 4} ]; do ${check} && exit 0; sleep 0.25; i=$((i+1)); done; ${check}`, { cwd: "/" });
  return r.exitCode === 0;
}

/** Waits until the port listens, failing early when the server ended; upper bound `waitMs`. */
async function waitForPort(sandbox: Sandbox, processId: string, port: number, waitMs: number): Promise<void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (await listens(sandbox, port, 5)) return;
    const p = await sandbox.readProcess(processId);
    if (!p.running) throw new PreviewError("server_ended", `The start command ended (exit ${p.exitCode ?? "?"}) before port ${port} listened:\n${tail(p.output)}`);
    if (Date.now() > deadline) throw new PreviewError("no_port", `Nothing listens on port ${port} after ${Math.round(waitMs / 1000)} s; the server printed:\n${tail(p.output)}`);
    await sleep(250);
  }
}

/**
 * Creates the preview's sandbox and everything in it. A failure deletes the sandbox
 * again (nothing of a failed preview is left).
 */
export async function startPreview(provider: SandboxProvider, request: PreviewRequest): Promise<PreviewResult> {
  checkPort(request.port);
  if (!request.start.trim()) throw new PreviewError("bad_input", "The start command is empty.");
  const waitMs = request.waitMs ?? 10 * 60_000;
  const say = request.progress ?? (() => {});
  // Before any sandbox exists: a repository that cannot be read leaves nothing behind.
  say(`Fetching ${request.source}${request.branch ? ` (${request.branch})` : ""}…`);
  const bundle = await bundleFor(request, waitMs);
  try {
    say(`Creating a ${provider.name} sandbox…`);
    return await startIn(provider, await provider.create({ labels: { ...PREVIEW_LABELS } }), bundle, request, waitMs);
  } finally {
    await bundle.cleanup();
  }
}

async function startIn(provider: SandboxProvider, sandbox: Sandbox, bundle: Bundle, request: PreviewRequest, waitMs: number): Promise<PreviewResult> {
  const say = request.progress ?? (() => {});
  try {
    const branch = await fetchInto(sandbox, bundle, waitMs);
    if (request.setup?.trim()) {
      say(`Running ${request.setup}…`);
      const r = await sandbox.exec(request.setup, { timeoutMs: waitMs });
      if (r.exitCode !== 0) throw new PreviewError("setup_failed", `The setup command failed (${r.timedOut ? "timed out" : `exit ${r.exitCode}`}):\n${tail(r.output)}`);
    }
    say(`Starting ${request.start}…`);
    const { id: processId } = await sandbox.startProcess(request.start);
    await waitForPort(sandbox, processId, request.port, waitMs);
    return { sandbox, link: await sandbox.previewUrl(request.port), processId, branch };
  } catch (error) {
    await provider.delete(sandbox.id).catch(() => {});
    throw error;
  }
}

/** A fresh link to a port of a running sandbox; PreviewError `no_port` when nothing listens there. */
export async function linkTo(sandbox: Sandbox, port: number): Promise<PreviewLink> {
  checkPort(port);
  if (!(await listens(sandbox, port, 0))) throw new PreviewError("no_port", `Nothing listens on port ${port} in sandbox ${sandbox.id}.`);
  return sandbox.previewUrl(port);
}
