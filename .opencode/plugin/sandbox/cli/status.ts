/** `status [--json]`: the project's sessions, their sandboxes (and each one's state) and branches. */
import { Command } from "commander";
import { filesReposDir, portsDir } from "../core/paths.js";
import { GLOBAL_PROJECT } from "../core/project-key.js";
import type { SessionRecord } from "../core/state-store.js";
import { findRepo } from "../git/host-git.js";
import { privateRepoPath } from "../git/private-repo.js";
import { isSandboxError, type DiskUsage, type SandboxProvider } from "../providers/provider.js";
import { toldPortsIn } from "../tools/told-ports.js";
import { withContext, type CliContext } from "./context.js";
import { bytes, json, out, short } from "./output.js";

export interface SessionStatus {
  session: string;
  title?: string;
  provider: string;
  sandbox: string;
  /** The provider's word for it; "gone" when the provider no longer has it; "unknown (…)" when it could not be asked. */
  state: string;
  branch?: string;
  sideBranch?: string;
  baseCommit?: string;
  lastSyncedCommit?: string;
  lastSyncedAt?: string;
  createdAt: string;
  lastUsedAt: string;
  /**
   * Where the session's work is: on `branch` in the project's repository, or — a folder
   * without git — kept aside in the project's private repository, for the user to review
   * and apply (then `branch` names a branch there, not in the folder).
   */
  work: WorkPlace;
  /** Subagent sessions sharing this session's sandbox. */
  subagents: string[];
  /** What the sandbox takes on disk; absent when it could not be measured. */
  disk?: DiskUsage;
  /** The links last told for its servers (a local link lives as long as the process that opened it). */
  previews: { port: number; url: string }[];
}

export type WorkPlace =
  | { where: "repository"; branch?: string }
  | { where: "kept_aside"; branch?: string; privateRepository: string; review?: string; apply?: string };

/** A folder without git keeps its sessions' work in its private repository (git/private-repo.ts). */
async function keptAsideIn(ctx: CliContext): Promise<string | undefined> {
  if (ctx.project.id === GLOBAL_PROJECT || (await findRepo(ctx.project.directory))) return undefined;
  return privateRepoPath({ dir: filesReposDir(), key: ctx.project.id });
}

function workPlace(branch: string | undefined, privateRepository: string | undefined): WorkPlace {
  if (!privateRepository) return { where: "repository", branch };
  if (!branch) return { where: "kept_aside", privateRepository };
  return { where: "kept_aside", branch, privateRepository, review: `opencode-sandboxed diff ${branch}`, apply: `opencode-sandboxed apply ${branch}` };
}

async function diskOf(record: SessionRecord, provider: SandboxProvider | Error): Promise<DiskUsage | undefined> {
  if (provider instanceof Error || provider.name !== record.provider || !provider.diskUsage) return undefined;
  return provider.diskUsage(record.sandboxId).catch(() => undefined);
}

async function stateOf(record: SessionRecord, provider: SandboxProvider | Error): Promise<string> {
  if (provider instanceof Error) return `unknown (${provider.message})`;
  if (provider.name !== record.provider) return `unknown (the configured provider is ${provider.name})`;
  try {
    return (await provider.get(record.sandboxId)).state;
  } catch (error) {
    return isSandboxError(error, "sandbox_not_found") ? "gone" : `unknown (${(error as Error).message})`;
  }
}

export async function sessionStatuses(ctx: CliContext): Promise<SessionStatus[]> {
  const sessions = Object.entries((await ctx.store.read()).sessions);
  if (!sessions.length) return [];
  const provider = await ctx.providerNow().catch((error: Error) => error);
  const roots = sessions.filter(([, r]) => !r.parentId).sort(([, a], [, b]) => b.lastUsedAt.localeCompare(a.lastUsedAt));
  const told = toldPortsIn(portsDir());
  const aside = await keptAsideIn(ctx);
  return Promise.all(
    roots.map(async ([session, r]) => ({
      session,
      title: r.title,
      provider: r.provider,
      sandbox: r.sandboxId,
      state: await stateOf(r, provider),
      branch: r.branch,
      sideBranch: r.sideBranch,
      baseCommit: r.baseCommit,
      lastSyncedCommit: r.lastSyncedCommit,
      lastSyncedAt: r.lastSyncedAt,
      createdAt: r.createdAt,
      lastUsedAt: r.lastUsedAt,
      work: workPlace(r.sideBranch ?? r.branch, aside),
      subagents: sessions.filter(([, c]) => c.parentId === session).map(([id]) => id),
      disk: await diskOf(r, provider),
      previews: [...(await told.load(r.sandboxId))].sort(([a], [b]) => a - b).map(([port, url]) => ({ port, url })),
    })),
  );
}

function render(s: SessionStatus): void {
  out(`${s.session}${s.title ? `  "${s.title}"` : ""}`);
  out(`  sandbox   ${s.provider} ${s.sandbox} (${s.state})`);
  if (s.work.where === "kept_aside")
    // Not a branch of this folder: say where the work is and what the user can do with it.
    out(
      s.work.branch
        ? `  work      kept aside as ${s.work.branch} (not in this folder) — review: ${s.work.review} · apply: ${s.work.apply}`
        : "  work      none kept yet",
    );
  else out(`  branch    ${s.branch ?? "none yet"}${s.sideBranch ? ` (latest work on ${s.sideBranch})` : ""}`);
  const synced = s.lastSyncedCommit ? `${short(s.lastSyncedCommit)}${s.lastSyncedAt ? ` at ${s.lastSyncedAt}` : ""}` : "never";
  out(`  synced    ${synced}${s.baseCommit ? ` (started from ${short(s.baseCommit)})` : ""}`);
  out(`  used      ${s.lastUsedAt} (created ${s.createdAt})`);
  out(`  disk      ${diskWords(s.disk)}`);
  for (const p of s.previews) out(`  preview   ${p.port} → ${p.url}${s.provider === "local" ? " (while the OpenCode that opened it runs)" : ""}`);
  if (s.subagents.length) out(`  subagents ${s.subagents.join(", ")}`);
}

export function diskWords(disk: DiskUsage | undefined): string {
  if (disk?.usedBytes !== undefined) return `${bytes(disk.usedBytes)} used`;
  if (disk?.allocatedBytes !== undefined) return `${bytes(disk.allocatedBytes)} allocated (use n/a)`;
  return "n/a";
}

export function statusCommand(): Command {
  return new Command("status")
    .description("list this project's sessions: sandbox and its state, branch, last sync, disk use, preview links")
    .option("--json", "print as JSON")
    .action(
      withContext(async (ctx, opts: { json?: boolean }) => {
        const sessions = await sessionStatuses(ctx);
        if (opts.json) return json({ project: ctx.project.id, worktree: ctx.project.worktree, stateFile: ctx.store.path, sessions });
        if (!sessions.length) return out(`No session of this project has a sandbox yet (project ${ctx.project.id}).`);
        sessions.forEach((s, i) => {
          if (i) out();
          render(s);
        });
      }),
    );
}
