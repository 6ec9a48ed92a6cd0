/**
 * The one SDK client of a provider, imported only when Daytona is used. The SDK's
 * constructor reads `.env` and `.env.local` of the working directory (it can throw on
 * a bad one, and may turn on OpenTelemetry from it) and writes warnings to the
 * console, which in OpenCode is the user's terminal. So it is built synchronously
 * inside an empty private directory — no other JavaScript can run in between — with
 * its console warnings routed to our log; every setting it would look up is passed.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Daytona } from "@daytonaio/sdk";
import type { ProviderLog } from "../provider.js";

export type Sdk = typeof import("@daytonaio/sdk");

export interface ClientOptions {
  apiKey: string;
  apiUrl: string;
  target?: string;
  /** Bound for control-plane requests; commands wait as long as their own timeout. */
  requestTimeoutMs: number;
  log: ProviderLog;
}

export async function createClient(options: ClientOptions): Promise<{ sdk: Sdk; daytona: Daytona }> {
  const sdk = await import("@daytonaio/sdk");
  const empty = mkdtempSync(join(tmpdir(), "opencode-daytona-"));
  const cwd = process.cwd();
  const warn = console.warn;
  try {
    // Not allowed in a worker thread: there the SDK reads the real working directory.
    try {
      process.chdir(empty);
    } catch {}
    console.warn = (...args: unknown[]) => options.log.warn(`Daytona SDK: ${args.map(String).join(" ")}`);
    const daytona = new sdk.Daytona({
      apiKey: options.apiKey,
      apiUrl: options.apiUrl,
      target: options.target,
      requestTimeoutMs: options.requestTimeoutMs,
      otelEnabled: false,
      // State changes are polled: no extra WebSocket per plugin instance.
      useDeprecatedPolling: true,
    });
    return { sdk, daytona };
  } finally {
    console.warn = warn;
    process.chdir(cwd);
    rmSync(empty, { recursive: true, force: true });
  }
}
