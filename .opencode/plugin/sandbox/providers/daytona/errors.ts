/**
 * The SDK's errors as the seam's typed errors, and which of them are worth another
 * try. The SDK keeps the HTTP status and headers on its DaytonaError; connection
 * failures and client-side timeouts have no status.
 */
import { SandboxError } from "../provider.js";
import type { Verdict } from "../retry.js";

interface SdkError extends Error {
  statusCode?: number;
  headers?: { get?(name: string): unknown } & Record<string, unknown>;
}

const sdkError = (error: unknown): SdkError | undefined =>
  error instanceof Error && (error.name.startsWith("Daytona") || "statusCode" in error) ? (error as SdkError) : undefined;

export function statusOf(error: unknown): number | undefined {
  return sdkError(error)?.statusCode;
}

/** No answer came back: the request may or may not have reached the server. */
export function isNoAnswer(error: unknown): boolean {
  const e = sdkError(error);
  return !!e && e.statusCode === undefined && /Connection|Timeout/.test(e.name);
}

/**
 * The toolbox of a sandbox that is not started (stopped behind the plugin's back, by
 * auto-stop or another client): Daytona's runner finds the sandbox's container without
 * an address and answers 400 "… Is the Sandbox started?". The request never reached the
 * sandbox, so it is safe to send again once the sandbox is started — not by retrying.
 */
export function isNotStarted(error: unknown): boolean {
  const e = sdkError(error);
  return !!e && e.statusCode === 400 && /Is the Sandbox started\?/i.test(e.message);
}

function retryAfterMs(error: SdkError): number | undefined {
  const raw = error.headers?.get?.("retry-after") ?? error.headers?.["retry-after"];
  if (raw === undefined || raw === null) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(String(raw));
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/** For requests that are safe to send again: server errors, rate limits, no answer. */
export function transient(error: unknown): Verdict {
  const e = sdkError(error);
  if (!e || isNotStarted(e)) return { retry: false };
  if (e.statusCode === undefined) return { retry: isNoAnswer(e) };
  if (e.statusCode === 429) return { retry: true, afterMs: retryAfterMs(e) };
  return { retry: e.statusCode >= 500 || e.statusCode === 408 };
}

export interface ErrorContext {
  apiUrl: string;
  /** What was being done, for the message ("create a sandbox", "run a command in abc"). */
  doing: string;
}

/** The seam's error for an SDK error: one clear message that says what to do. */
export function toSandboxError(error: unknown, { apiUrl, doing }: ErrorContext): unknown {
  if (error instanceof SandboxError) return error;
  const e = sdkError(error);
  if (!e) return error;
  const detail = e.message.split("\n")[0];
  const status = e.statusCode;
  if (status === 401 || status === 403)
    return new SandboxError("auth", `Daytona refused the API key (HTTP ${status}) at ${apiUrl} — check DAYTONA_API_KEY (and DAYTONA_API_URL for a self-hosted Daytona): ${detail}`, { cause: error });
  if (status === 404) return new SandboxError("sandbox_not_found", `Daytona: not found while trying to ${doing}: ${detail}`, { cause: error });
  if (isNotStarted(e)) return new SandboxError("not_running", `Daytona: the sandbox is not running (stopped behind the plugin's back?) while trying to ${doing}: ${detail}`, { cause: error });
  if (status === 400 && /(limit|quota) exceeded/i.test(e.message))
    return new SandboxError("quota", `Daytona quota reached while trying to ${doing}: ${detail}`, { cause: error });
  if (status === 400 || status === 422) return new SandboxError("bad_input", `Daytona rejected the request to ${doing}: ${detail}`, { cause: error });
  if (status === undefined && !isNoAnswer(e)) return new SandboxError("transient", `Daytona: could not ${doing}: ${detail}`, { cause: error });
  return new SandboxError("transient", `Daytona did not answer while trying to ${doing} (${status ? `HTTP ${status}` : "no answer"}) at ${apiUrl}: ${detail}`, { cause: error });
}
