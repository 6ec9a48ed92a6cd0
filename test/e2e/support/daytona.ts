/**
 * Helpers for driving OpenCode against the Daytona stand-in: which sandboxes exist,
 * and what each scripted tool call cost on the wire (the stand-in's request log is
 * read when the model is asked for the next step — by then the previous call is done).
 */
import type { DaytonaStandin, RecordedRequest, StandinSandbox } from "../../standin/daytona/index.js";
import type { ScriptItem, Step } from "./model-server.js";

/** Sandboxes the stand-in still holds (not destroyed). */
export function liveSandboxes(standin: DaytonaStandin): StandinSandbox[] {
  return [...standin.sandboxes.values()].filter((s) => s.state !== "destroyed" && standin.sandbox(s.id) !== undefined);
}

/** `POST /api/sandbox` requests seen so far: sandbox creations asked for. */
export const creates = (standin: DaytonaStandin) => standin.countRequests("POST", "/api/sandbox");

/** A request as one short line: `POST toolbox process/execute 200`. */
export function brief(r: RecordedRequest): string {
  // A listing shows its query (which labels it looked for).
  if (r.path === "/api/sandbox" && r.method === "GET") return `GET /api/sandbox?${decodeURIComponent(r.url.split("?")[1] ?? "")} ${r.status ?? "…"}${r.fault ? ` [${r.fault}]` : ""}`;
  const path = r.path.replace(/^\/toolbox\/[^/]+\//, "toolbox ").replace(/^\/api\/sandbox\/[^/]+/, "api sandbox/{id}");
  return `${r.method} ${path} ${r.status ?? "…"}${r.fault ? ` [${r.fault}]` : ""}`;
}

export interface Tracked {
  /** Wraps a script: each entry is [label for the cost table, step]. */
  script(entries: [string | undefined, Step][]): ScriptItem[];
  /** [label, requests made between this step being handed out and the next request]. */
  windows: { label: string; requests: RecordedRequest[] }[];
}

export function tracked(standin: DaytonaStandin): Tracked {
  const marks: { label: string | undefined; at: number }[] = [];
  const windows: Tracked["windows"] = [];
  const close = () => {
    const last = marks.at(-1);
    if (last?.label !== undefined) windows.push({ label: last.label, requests: standin.requests.slice(last.at) });
  };
  return {
    windows,
    script: (entries) =>
      entries.map(([label, step]) => () => {
        close();
        marks.push({ label, at: standin.requests.length });
        return step;
      }),
  };
}

/** Per window: how many requests, and which. */
export function costs(t: Tracked): { label: string; count: number; requests: string[] }[] {
  return t.windows.map((w) => ({ label: w.label, count: w.requests.length, requests: w.requests.map(brief) }));
}
