/**
 * What the stand-in sees on the wire and what it breaks on purpose:
 * - RequestLog: every request that reaches the socket (API, toolbox, preview, the SDK's
 *   own retries and its socket.io upgrade attempts), with the status it got (0 when the
 *   connection was dropped without an answer).
 * - Faults: per-test rules, applied BEFORE the handler runs (it then never runs) or AFTER
 *   it ran (the work is done — a command executed, a file written — but the client sees
 *   the fault instead of the real answer). Optional probability with a seeded generator,
 *   so a "10 % of requests fail" run is reproducible.
 */
import { seededRandom } from "../../support/seeded-random.js";

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/api/sandbox/<id>` or `/toolbox/<id>/process/execute`. */
  path: string;
  /** Path with the query string. */
  url: string;
  /** HTTP status answered; 0 = connection dropped without an answer; undefined = still running. */
  status?: number;
  /** A WebSocket upgrade attempt (socket.io, log streaming, preview websockets). */
  upgrade?: boolean;
  /** The fault applied to this request, if any. */
  fault?: string;
}

export class RequestLog {
  readonly entries: RecordedRequest[] = [];

  open(method: string, url: string, upgrade = false): RecordedRequest {
    const path = url.split("?")[0] ?? url;
    const entry: RecordedRequest = { method, path, url, ...(upgrade ? { upgrade } : {}) };
    this.entries.push(entry);
    return entry;
  }

  reset(): void {
    this.entries.length = 0;
  }

  /** Requests matching `method` and `path` (a RegExp or an exact path). */
  count(method: string, path: RegExp | string): number {
    return this.entries.filter((e) => e.method === method && (typeof path === "string" ? e.path === path : path.test(e.path))).length;
  }
}

export type Fault =
  /** Answer with this status instead (500, 408, 429 with `retryAfter` seconds, …). */
  | { status: number; body?: unknown; retryAfter?: number }
  /** Wait this long, then go on as usual (a slow server / slow network). */
  | { delayMs: number }
  /** Destroy the socket without answering (a dropped connection). */
  | { drop: true }
  /** Delete the addressed sandbox underneath (backing sandbox gone), then go on as usual. */
  | { vanish: true };

export interface FaultRule {
  match?: {
    method?: string;
    /** Tested against the path without the query string (see RecordedRequest.path). */
    path?: RegExp | string;
  };
  /** "before": the handler never runs. "after": it runs, then the fault replaces its answer. Default "before". */
  when?: "before" | "after";
  /** How many matching requests get the fault (default 1; Infinity for all). */
  times?: number;
  /** Chance a matching request gets the fault (default 1), drawn from the seeded generator. */
  probability?: number;
  fault: Fault;
}

export interface FaultHandle {
  /** How often this rule was applied. */
  readonly hits: number;
  remove(): void;
}

interface LiveRule extends FaultRule {
  left: number;
  hits: number;
}

export function describeFault(fault: Fault): string {
  if ("status" in fault) return `status ${fault.status}`;
  if ("delayMs" in fault) return `delay ${fault.delayMs} ms`;
  if ("drop" in fault) return "drop";
  return "vanish";
}

export class Faults {
  private rules: LiveRule[] = [];
  private random: () => number;

  constructor(seed = 1) {
    this.random = seededRandom(seed);
  }

  /** Re-seeds the generator used by `probability`. */
  seed(seed: number): void {
    this.random = seededRandom(seed);
  }

  add(rule: FaultRule): FaultHandle {
    const live: LiveRule = { ...rule, left: rule.times ?? 1, hits: 0 };
    this.rules.push(live);
    return {
      get hits() {
        return live.hits;
      },
      remove: () => {
        this.rules = this.rules.filter((r) => r !== live);
      },
    };
  }

  clear(): void {
    this.rules = [];
  }

  /** The fault to apply to this request at this moment, consuming one use of its rule. */
  take(when: "before" | "after", method: string, path: string): Fault | undefined {
    for (const rule of this.rules) {
      if ((rule.when ?? "before") !== when || rule.left <= 0) continue;
      const m = rule.match ?? {};
      if (m.method && m.method.toUpperCase() !== method) continue;
      if (m.path !== undefined && !(typeof m.path === "string" ? m.path === path : m.path.test(path))) continue;
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      rule.left--;
      rule.hits++;
      return rule.fault;
    }
    return undefined;
  }
}
