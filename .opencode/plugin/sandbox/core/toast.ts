/**
 * Toasts through client.tui.showToast: never awaited on a tool's critical path,
 * harmless without a TUI, and shown once per event key.
 */
import type { Logger } from "./logger.js";

export type ToastVariant = "info" | "success" | "warning" | "error";

export interface ToastClient {
  tui: {
    showToast(options: { body: { title?: string; message: string; variant: ToastVariant; duration?: number } }): Promise<unknown>;
  };
}

export interface Toaster {
  /** `key` deduplicates: the same key is shown once per plugin instance. Omit it to always show. */
  show(message: string, variant: ToastVariant, key?: string): void;
  /** Resolves when every toast requested so far was delivered or failed. */
  flush(): Promise<void>;
}

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
