/**
 * The opt-in retention (config.retention), run by the plugin when it starts: this
 * project's sandboxes unused for longer than maxAgeDays, then the least recently used
 * ones while all together take more than maxTotalGiB. Each session's work is synced to
 * its branch first and a sandbox whose sync fails is kept; nothing is ever forced, a
 * session this process uses is never touched, and an unmapped sandbox goes only when it
 * is older than the age and holds no work a branch lacks.
 */
import type { Config } from "../config.js";
import type { Logger } from "../core/logger.js";
import { LABEL_PLUGIN } from "../core/session-manager.js";
import type { ProjectService } from "./project.js";
import { Pruner, type PruneCandidate, type PruneOutcome } from "./prune.js";

const DAY_MS = 86_400_000;
/** The size bound never takes a sandbox used within this: another OpenCode may be using it. */
const SIZE_MIN_IDLE_MS = 60 * 60_000;
const GRACE_MS = 10 * 60_000;

const usedAt = (c: PruneCandidate) => Date.parse(c.lastUsedAt ?? "") || 0;

export async function applyRetention(service: ProjectService, retention: Config["retention"], log: Logger): Promise<PruneOutcome[]> {
  const provider = await service.provider();
  const pruner = new Pruner({
    service,
    provider,
    labels: { plugin: LABEL_PLUGIN, project: service.projectId },
    isLive: (id) => service.manager.isLive(id),
  });
  const outcomes: PruneOutcome[] = [];
  const prune = async (c: PruneCandidate, policy: { graceMs: number; unusedForMs?: number }) => {
    const o = await pruner.prune(c, policy);
    if (o.kind === "deleted") log.info(`retention: deleted sandbox ${c.sandbox.id}${c.session ? ` of session ${c.session}` : ""}${o.branch ? `; its work is on ${o.branch}` : ""}`);
    else log.warn(`retention: ${o.kind} sandbox ${c.sandbox.id}: ${o.why}`);
    outcomes.push(o);
  };
  if (retention.maxAgeDays !== undefined) {
    const maxAge = retention.maxAgeDays * DAY_MS;
    const policy = { graceMs: Math.max(GRACE_MS, maxAge), unusedForMs: maxAge };
    for (const c of await pruner.plan(policy)) if (!c.spared) await prune(c, policy);
  }
  if (retention.maxTotalGiB !== undefined && provider.diskUsage) {
    const limit = retention.maxTotalGiB * 2 ** 30;
    const sizes = new Map<string, number>();
    for (const info of await provider.list({ plugin: LABEL_PLUGIN, project: service.projectId })) {
      const disk = await provider.diskUsage(info.id).catch(() => undefined);
      sizes.set(info.id, disk?.usedBytes ?? disk?.allocatedBytes ?? 0);
    }
    let total = [...sizes.values()].reduce((a, b) => a + b, 0);
    const policy = { graceMs: GRACE_MS, unusedForMs: SIZE_MIN_IDLE_MS };
    const oldestFirst = (await pruner.plan(policy)).filter((c) => !c.spared && c.reason === "unused").sort((a, b) => usedAt(a) - usedAt(b));
    for (const c of oldestFirst) {
      if (total <= limit) break;
      await prune(c, policy);
      if (outcomes.at(-1)?.kind === "deleted") total -= sizes.get(c.sandbox.id) ?? 0;
    }
    if (total > limit) log.warn(`retention: this project's sandboxes still take ${Math.round(total / 2 ** 20)} MiB (limit ${retention.maxTotalGiB} GiB)`);
  }
  return outcomes;
}
