/**
 * Which sandboxes of this project can go, and letting them go without losing work:
 * - unmapped: no session record maps it (a process killed before recording it, a lost
 *   state file). Spared while younger than a grace period (another process may be
 *   setting it up). It may still hold commits: its HEAD is checked against the host's
 *   refs, and unknown work is never dropped unless forced.
 * - unused: a session's sandbox not used for longer than an age. Its work is synced to
 *   its branch first; when that fails (or sync is off) it is kept.
 * Returns outcomes; a face (the CLI, the plugin's retention) renders them.
 */
import type { SessionRecord } from "../core/state-store.js";
import { isSandboxError, type SandboxInfo, type SandboxProvider } from "../providers/provider.js";
import type { ProjectService } from "./project.js";

export type PruneReason = "unmapped" | "unused" | "preview";

export interface PruneCandidate {
  sandbox: SandboxInfo;
  reason: PruneReason;
  /** The session that maps it (unused), or the one it was made for (unmapped, from its labels). */
  session?: string;
  /** Where a mapped session's work goes (its branch). */
  branch?: string;
  /** When it was last used, as far as the state file and the provider know (ISO). */
  lastUsedAt?: string;
  /** Set when it stays: why (too young, in use in this process). */
  spared?: string;
}

export type PruneOutcome =
  | { kind: "deleted"; candidate: PruneCandidate; /** The branch that holds its work. */ branch?: string }
  | { kind: "kept"; candidate: PruneCandidate; why: string }
  | { kind: "failed"; candidate: PruneCandidate; why: string };

export interface PrunePolicy {
  /** Unmapped sandboxes younger than this are spared. */
  graceMs: number;
  /** Also sessions' sandboxes unused for longer than this (synced first). */
  unusedForMs?: number;
  /** Delete even what holds work no branch has, or could not be synced. */
  force?: boolean;
  /** Every sandbox, whatever its age or use (uninstalling): still synced first, still checked. */
  all?: boolean;
  now?: number;
}

/** What deleting an unmapped sandbox would lose; empty when nothing. */
export interface WorkCheck {
  lost: string[];
}

const time = (iso: string | undefined) => {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(ms) ? ms : undefined;
};

const latest = (...isos: (string | undefined)[]) =>
  isos.filter((t) => time(t) !== undefined).sort((a, b) => time(b!)! - time(a!)!)[0];

// Read-only, inside the sandbox: its HEAD and how many paths differ from it.
const WORK_SCRIPT = `cd "$OC_DIR" 2>/dev/null || { echo "@@NODIR"; exit 0; }
if [ -e .git ]; then
  G() { git -c safe.directory='*' -c core.fsmonitor=false "$@"; }
  echo "@@HEAD $(G rev-parse -q --verify 'HEAD^{commit}' 2>/dev/null || echo none)"
  echo "@@CHANGES $(G status --porcelain --untracked-files=normal 2>/dev/null | wc -l)"
else
  echo "@@FILES $(ls -A | wc -l)"
fi`;

export class Pruner {
  constructor(
    private readonly o: {
      service: ProjectService;
      provider: SandboxProvider;
      /** Labels every sandbox of this project carries. */
      labels: Record<string, string>;
      /** A session this process uses right now (never pruned). */
      isLive?: (sessionID: string) => boolean;
    },
  ) {}

  /** Every sandbox that the policy would let go, each with why it is spared, if it is. */
  async plan(policy: PrunePolicy): Promise<PruneCandidate[]> {
    const { provider, service } = this.o;
    const now = policy.now ?? Date.now();
    const sessions = Object.entries((await service.store.read()).sessions);
    const bySandbox = new Map(sessions.filter(([, r]) => !r.parentId && r.provider === provider.name).map(([id, r]) => [r.sandboxId, [id, r] as const]));
    const mapped = new Set(sessions.map(([, r]) => r.sandboxId));
    const out: PruneCandidate[] = [];
    for (const info of await provider.list(this.o.labels)) {
      const root = bySandbox.get(info.id);
      if (info.labels.role === "preview") {
        // A preview holds a copy of a repository's branch, nothing of its own.
        out.push({ sandbox: info, reason: "preview", lastUsedAt: info.lastActivityAt ?? info.createdAt });
        continue;
      }
      if (!mapped.has(info.id)) {
        const made = time(info.createdAt);
        const young = !policy.all && made !== undefined && made > now - policy.graceMs;
        out.push({
          sandbox: info,
          reason: "unmapped",
          session: info.labels.session,
          lastUsedAt: info.lastActivityAt ?? info.createdAt,
          spared: young ? `younger than ${Math.round(policy.graceMs / 60_000)} min: another OpenCode may be setting it up` : undefined,
        });
        continue;
      }
      if (!root || (policy.unusedForMs === undefined && !policy.all)) continue;
      const [session, record] = root;
      const lastUsedAt = latest(record.lastUsedAt, info.lastActivityAt);
      if (!policy.all && time(lastUsedAt)! > now - policy.unusedForMs!) continue;
      out.push({
        sandbox: info,
        reason: "unused",
        session,
        branch: record.sideBranch ?? record.branch,
        lastUsedAt,
        spared: this.o.isLive?.(session) ? "in use by this OpenCode" : undefined,
      });
    }
    return out;
  }

  /**
   * What an unmapped sandbox holds that no branch of the user's repository has: its
   * HEAD when no host ref contains it, uncommitted changes, files outside git. A
   * stopped sandbox is started to look (it is about to be deleted anyway).
   */
  async unsyncedWork(info: SandboxInfo): Promise<WorkCheck> {
    const { provider, service } = this.o;
    if (info.state !== "started") await provider.start(info.id);
    const sandbox = await provider.connect(info.id);
    const r = await sandbox.exec(WORK_SCRIPT, { env: { OC_DIR: sandbox.projectDir }, timeoutMs: 120_000 });
    if (r.exitCode !== 0) throw new Error(`could not look into it: ${r.output.trim().slice(-300) || `exit ${r.exitCode}`}`);
    const mark = (key: string) => new RegExp(`^@@${key} (\\S+)$`, "m").exec(r.output)?.[1];
    const lost: string[] = [];
    const files = Number(mark("FILES") ?? 0);
    if (files) lost.push(`${files} file(s) in a project directory without git`);
    const changes = Number(mark("CHANGES") ?? 0);
    if (changes) lost.push(`${changes} uncommitted change(s)`);
    const head = mark("HEAD");
    if (head && head !== "none" && !(await this.hostHas(head))) lost.push(`commit ${head.slice(0, 12)}, which no branch of this repository contains`);
    return { lost };
  }

  /** Some ref of the user's repository contains `commit`. */
  private async hostHas(commit: string): Promise<boolean> {
    const found = await this.o.service.gitSync.host.find();
    if (!found || !/^[0-9a-f]{40,64}$/.test(commit) || !(await found.git.hasCommit(commit))) return false;
    const refs = await found.git.run(["for-each-ref", "--count=1", "--format=%(refname)", "--contains", commit], { allowFail: true });
    return refs.code === 0 && refs.stdout.trim() !== "";
  }

  /** Lets one candidate go (its spared reason is the caller's to honour), never losing work unless forced. */
  async prune(candidate: PruneCandidate, policy: PrunePolicy): Promise<PruneOutcome> {
    try {
      if (candidate.reason === "preview") {
        await this.o.provider.delete(candidate.sandbox.id);
        return { kind: "deleted", candidate };
      }
      return candidate.reason === "unmapped" ? await this.pruneUnmapped(candidate, policy) : await this.pruneUnused(candidate, policy);
    } catch (error) {
      return { kind: "failed", candidate, why: (error as Error).message };
    }
  }

  private async mapping(sandboxId: string): Promise<[string, SessionRecord] | undefined> {
    return Object.entries((await this.o.service.store.read()).sessions).find(([, r]) => r.sandboxId === sandboxId);
  }

  private async pruneUnmapped(candidate: PruneCandidate, policy: PrunePolicy): Promise<PruneOutcome> {
    const { provider } = this.o;
    const id = candidate.sandbox.id;
    if (!policy.force) {
      let check: WorkCheck;
      try {
        check = await this.unsyncedWork(candidate.sandbox);
      } catch (error) {
        if (isSandboxError(error, "sandbox_not_found")) return { kind: "kept", candidate, why: "it is gone already" };
        return { kind: "kept", candidate, why: `could not check it for unsynced work (${(error as Error).message}); --force deletes it unchecked` };
      }
      if (check.lost.length) return { kind: "kept", candidate, why: `it holds work no branch has: ${check.lost.join(", ")}; --force deletes it anyway` };
    }
    // Recorded since the listing (a session that just started): it is in use.
    if (await this.mapping(id)) return { kind: "kept", candidate, why: "a session uses it now" };
    await provider.delete(id);
    return { kind: "deleted", candidate };
  }

  private async pruneUnused(candidate: PruneCandidate, policy: PrunePolicy): Promise<PruneOutcome> {
    const { service } = this.o;
    const session = candidate.session!;
    const before = await service.store.get(session);
    if (!before || before.sandboxId !== candidate.sandbox.id) return { kind: "kept", candidate, why: "its session changed since it was listed" };
    // Used since the listing (another OpenCode notes use in the record): it is in use.
    if (!policy.all && time(latest(before.lastUsedAt, candidate.lastUsedAt)) !== time(candidate.lastUsedAt)) return { kind: "kept", candidate, why: "it was used again meanwhile" };
    // This process took it up since the listing (a tool call resumed the session).
    if (this.o.isLive?.(session)) return { kind: "kept", candidate, why: "in use by this OpenCode" };
    let branch = before.sideBranch ?? before.branch;
    try {
      const synced = await service.sync(session, "delete");
      if (synced.kind === "skipped" && !policy.force) return { kind: "kept", candidate, why: `its work could not be synced (${synced.why}); --force deletes it anyway` };
      if (synced.kind === "synced") branch = synced.outcome.branch;
    } catch (error) {
      if (!policy.force) return { kind: "kept", candidate, why: `syncing its work failed (${(error as Error).message}); kept — --force deletes it anyway` };
    }
    // (The sync itself notes a use in the record: only the mapping is checked again.)
    const now = await service.store.get(session);
    if (!now || now.sandboxId !== candidate.sandbox.id) return { kind: "kept", candidate, why: "its session changed while its work was synced" };
    await service.manager.delete(session);
    return { kind: "deleted", candidate, branch };
  }
}
