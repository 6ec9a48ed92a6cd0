/**
 * session.deleted → final sync (work is never lost by deleting a session) → delete
 * the sandbox and its mapping. The local branch stays.
 */
import type { Hooks } from "@opencode-ai/plugin";
import { sessionOf, type PluginContext } from "./context.js";

export interface FinalSync {
  (sessionID: string): Promise<unknown>;
}

export function sessionCleanupPlugin(ctx: PluginContext, finalSync?: FinalSync): Hooks {
  const pending = new Set<Promise<void>>();

  async function cleanup(sessionID: string) {
    const record = await ctx.manager.existing(sessionID).catch(() => undefined);
    if (!record) return; // never used a tool: nothing to sync or delete
    if (!record.parentId && finalSync) {
      try {
        await finalSync(sessionID);
      } catch (error) {
        // Keep the sandbox: deleting it now would lose the unsynced work.
        ctx.log.error(`final sync failed, sandbox kept: ${(error as Error).message}`, sessionID);
        ctx.toast.show(`Could not sync the deleted session's work; its sandbox was kept. See daytona.log.`, "error");
        return;
      }
    }
    await ctx.manager.delete(sessionID);
  }

  return {
    async event({ event }) {
      if (event.type !== "session.deleted") return;
      const { id } = sessionOf(event);
      if (!id) return;
      const p = cleanup(id)
        .catch((error) => ctx.log.error(`deleting the sandbox failed: ${(error as Error).message}`, id))
        .finally(() => pending.delete(p));
      pending.add(p);
    },
    async dispose() {
      await Promise.allSettled([...pending]);
    },
  };
}
