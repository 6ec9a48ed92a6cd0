import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Sandbox } from "../../.opencode/plugin/sandbox/providers/provider.js";
import type { Notice } from "../../.opencode/plugin/sandbox/service/notices.js";
import { PortWatch } from "../../.opencode/plugin/sandbox/tools/port-watch.js";
import { toldPortsIn } from "../../.opencode/plugin/sandbox/tools/told-ports.js";
import { nullLogger } from "./tools-sandbox-harness.js";

const dir = mkdtempSync(join(tmpdir(), "told-ports-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Only what PortWatch uses of a sandbox: its id and its links (a new host port per process, as the local provider's). */
const box = (process: number) => ({ id: "sb-1", previewUrl: async (port: number) => ({ url: `http://127.0.0.1:${40000 + process}/p${port}` }) }) as unknown as Sandbox;

describe("PortWatch across OpenCode processes", () => {
  it("a new process tells which ports an earlier one told no longer listen, and a server still running gets its new link", async () => {
    const notices: Notice[] = [];
    const first = new PortWatch({ log: nullLogger, notify: (n) => notices.push(n), store: toldPortsIn(dir) });
    expect(await first.observe(box(1), "ses", { before: [22], after: [22, 3000, 8000] })).toEqual([
      "Port 3000 is listening in the sandbox. The user can open it at http://127.0.0.1:40001/p3000",
      "Port 8000 is listening in the sandbox. The user can open it at http://127.0.0.1:40001/p8000",
    ]);
    expect(notices).toHaveLength(2);

    // The sandbox was started again by a new process: 8000 is gone, 3000 listens again (its link is new).
    const second = new PortWatch({ log: nullLogger, notify: (n) => notices.push(n), store: toldPortsIn(dir) });
    expect(await second.observe(box(2), "ses", { before: [22, 3000], after: [22, 3000] })).toEqual([
      "Port 3000 is listening in the sandbox. The user can open it at http://127.0.0.1:40002/p3000",
      "Port 8000 is no longer listening (its server ended, or the sandbox was started again): http://127.0.0.1:40001/p8000 does not answer until a server listens on it again.",
    ]);
    expect(await second.observe(box(2), "ses", { before: [22, 3000], after: [22, 3000] })).toEqual([]);
    expect(notices.map((n) => n.kind === "preview_ready" && n.url)).toEqual([
      "http://127.0.0.1:40001/p3000",
      "http://127.0.0.1:40001/p8000",
      "http://127.0.0.1:40002/p3000",
    ]);
  });

  it("without a store, or before any report, nothing is told as gone", async () => {
    const watch = new PortWatch({ log: nullLogger });
    expect(watch.known("sb-x")).toBeUndefined();
    expect(await watch.observe(box(1), "ses", { before: [5432], after: [5432] })).toEqual([]);
    expect(watch.known("sb-1")).toEqual([5432]);
  });
});
