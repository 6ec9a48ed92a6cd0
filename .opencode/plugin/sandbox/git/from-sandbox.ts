/**
 * The sandbox side of a sync: commit everything outstanding and bundle what the host
 * lacks (one script, one round trip; a small bundle comes back in its answer), else
 * download the bundle to a host temp file.
 */
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import type { Sandbox } from "../providers/provider.js";
import { reach, type PhaseHook } from "../util/phases.js";
import { overBudget } from "./apply.js";
import { GitSyncError } from "./errors.js";
import { runScript, sandboxPath, SYNC_SCRIPT } from "./sandbox-git.js";
import type { Identity } from "./snapshot.js";

export interface FromSandbox {
  /** The sandbox's HEAD after its commit. */
  head: string;
  /** The host temp file holding the bundle; none when the host has HEAD already. */
  bundle?: string;
  bytes: number;
  /** The sync made a commit of outstanding work. */
  committed: boolean;
  sandboxMs: number;
  downloadMs: number;
}

export interface FromSandboxInput {
  sandbox: Sandbox;
  /** The commit the host is known to have; none: a full bundle. */
  base: string | undefined;
  message: string;
  identity: Identity;
  /** A fresh host temp path for the bundle. */
  tmp: () => Promise<string>;
  /** Bytes one sync may download (`sync.sizeBudgetMb`); default: no bound. */
  budgetBytes?: number;
  phases?: PhaseHook;
}

export async function fromSandbox(input: FromSandboxInput): Promise<FromSandbox> {
  const { sandbox, identity } = input;
  const t0 = performance.now();
  const remote = sandboxPath(sandbox, `sync-${randomBytes(6).toString("hex")}.bundle`);
  const { marks } = await runScript(sandbox, SYNC_SCRIPT, {
    OC_BASE: input.base ?? "",
    OC_BUNDLE: remote,
    OC_MSG: input.message,
    OC_NAME: identity.name,
    OC_EMAIL: identity.email,
  });
  const head = marks.get("HEAD")?.[0];
  if (!head || head === "none" || !/^[0-9a-f]{40,64}$/.test(head))
    throw new GitSyncError("sandbox_failed", "the sandbox's repository has no commit to sync");
  const committed = marks.has("COMMITTED");
  const sandboxMs = performance.now() - t0;
  await reach(input.phases, "sync:bundled");
  if (!marks.has("BUNDLE")) return { head, bytes: 0, committed, sandboxMs, downloadMs: 0 };
  // A large bundle is downloaded and left for the next sync to sweep (no extra round trip).
  const inline = marks.get("INLINE")?.[0];
  const budget = input.budgetBytes;
  const told = Number(marks.get("SIZE")?.[0]?.trim());
  // Refused before the download when the sandbox tells its size, and after it when it lied.
  if (budget !== undefined && told > budget) throw overBudget("is a bundle of", told, budget);
  const bytes = inline !== undefined ? Buffer.from(inline, "base64") : await sandbox.readFile(remote);
  if (budget !== undefined && bytes.length > budget) throw overBudget("is a bundle of", bytes.length, budget);
  const downloadMs = performance.now() - t0 - sandboxMs;
  const local = await input.tmp();
  await writeFile(local, bytes);
  await reach(input.phases, "sync:downloaded");
  return { head, bundle: local, bytes: bytes.length, committed, sandboxMs, downloadMs };
}
