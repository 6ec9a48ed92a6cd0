/**
 * Turns the port reports of `bash` calls into links: a port that starts listening gets
 * its preview link, told once (a notice for the user, a line for the model) and again
 * only when the link changes; a port that was told and no longer listens is told too
 * (its server ended, or the sandbox was started again). One per plugin instance.
 */
import type { Logger } from "../core/logger.js";
import type { Sandbox } from "../providers/provider.js";
import type { Notify } from "../service/notices.js";
import type { PortReport } from "./port-probe.js";
import type { ToldPorts } from "./told-ports.js";

interface Seen {
  /** Ports listening at the last report: only ports that start listening after it are servers to tell about. */
  listening: Set<number>;
  /** Ports told about, with the link told. */
  told: Map<number, string>;
  /** Told ports that listened at the last report. */
  serving: Set<number>;
}

export class PortWatch {
  private readonly sandboxes = new Map<string, Seen>();

  constructor(private readonly o: { log: Logger; notify?: Notify; store?: ToldPorts }) {}

  /** The ports the last report of this sandbox saw (undefined before its first). */
  known(sandboxId: string): number[] | undefined {
    const seen = this.sandboxes.get(sandboxId);
    return seen && [...seen.listening];
  }

  /** Lines for the tool's output (empty when nothing changed). */
  async observe(box: Sandbox, sessionID: string, report: PortReport): Promise<string[]> {
    let seen = this.sandboxes.get(box.id);
    if (!seen) {
      // The first report of a sandbox in this process: what listened before its command is the sandbox's own
      // (a daemon, a server of an earlier process); what an earlier process told is checked again.
      const told = (await this.o.store?.load(box.id)) ?? new Map<number, string>();
      seen = this.sandboxes.get(box.id) ?? { listening: new Set(report.before), told, serving: new Set(told.keys()) };
      this.sandboxes.set(box.id, seen);
    }
    const toldBefore = JSON.stringify([...seen.told]);
    const now = new Set(report.after);
    const lines: string[] = [];
    for (const port of report.after) {
      if (seen.listening.has(port) && !seen.serving.has(port)) continue;
      let url: string;
      try {
        url = (await box.previewUrl(port)).url; // cached by the provider: no request once it has the link
      } catch (error) {
        this.o.log.warn(`no preview link for port ${port}: ${(error as Error).message}`, sessionID);
        continue;
      }
      if (seen.told.get(port) !== url) {
        seen.told.set(port, url);
        lines.push(`Port ${port} is listening in the sandbox. The user can open it at ${url}`);
        this.o.notify?.({ kind: "preview_ready", sessionID, port, url });
      } else if (!seen.serving.has(port)) {
        lines.push(`Port ${port} is listening again: ${url}`);
      }
      seen.serving.add(port);
    }
    for (const port of [...seen.serving].filter((p) => !now.has(p))) {
      seen.serving.delete(port);
      lines.push(
        `Port ${port} is no longer listening (its server ended, or the sandbox was started again): ${seen.told.get(port)} does not answer until a server listens on it again.`,
      );
    }
    seen.listening = now;
    if (this.o.store && JSON.stringify([...seen.told]) !== toldBefore)
      await this.o.store.save(box.id, seen.told).catch((error) => this.o.log.warn(`told ports not saved: ${(error as Error).message}`, sessionID));
    return lines;
  }
}
