/**
 * The OpenCode face's voice: notices and errors as toasts (client.tui.showToast) and
 * log lines. Never awaited on a tool's critical path, harmless without a TUI, and
 * told once per key.
 */
import type { PluginInput } from "@opencode-ai/plugin";
import type { Logger } from "../core/logger.js";
import { words, type Level, type Notice } from "../service/notices.js";

export type ToastVariant = Level;

export interface Toaster {
  /** `key` deduplicates: the same key is shown once per plugin instance. Omit it to always show. */
  show(message: string, variant: ToastVariant, key?: string): void;
  /** Resolves when every toast requested so far was delivered or failed. */
  flush(): Promise<void>;
}

type ToastClient = Pick<PluginInput["client"], "tui">;

export function createToaster(client: ToastClient | undefined, log: Logger, title = "Sandbox"): Toaster {
  const shown = new Set<string>();
  const pending = new Set<Promise<void>>();
  return {
    show(message, variant, key) {
      if (key !== undefined) {
        if (shown.has(key)) return;
        shown.add(key);
      }
      if (!client) return;
      const p = Promise.resolve()
        .then(() => client.tui.showToast({ body: { title, message, variant } }))
        .then(
          () => {},
          (error) => log.debug(`toast not shown: ${(error as Error).message}`),
        )
        .finally(() => pending.delete(p));
      pending.add(p);
    },
    async flush() {
      await Promise.all([...pending]);
    },
  };
}

/** Renders a notice: a toast, and a log line for warnings and errors. */
export function renderNotice(toast: Toaster, log: Logger, notice: Notice): void {
  const w = words(notice);
  if (!w) return;
  const sessionID = "sessionID" in notice ? notice.sessionID : undefined;
  if (w.level === "warning") log.warn(w.text, sessionID);
  else if (w.level === "error") log.error(w.text, sessionID);
  toast.show(w.text, w.level, w.once);
}
