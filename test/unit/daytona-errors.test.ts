/** How the SDK's errors become the seam's, and which are tried again (table-driven). */
import { describe, expect, it } from "vitest";
import { toSandboxError, transient } from "../../.opencode/plugin/sandbox/providers/daytona/errors.js";
import { PreviewLinks } from "../../.opencode/plugin/sandbox/providers/daytona/preview.js";
import { SandboxError } from "../../.opencode/plugin/sandbox/providers/provider.js";

/** The shape the SDK gives its errors: a Daytona* name, the status and headers kept. */
function sdkError(name: string, message: string, statusCode?: number, headers: Record<string, string> = {}) {
  return Object.assign(new Error(message), { name, statusCode, headers });
}

/** What Daytona's runner answers (HTTP 400) for the toolbox of a sandbox that is not started. */
const NOT_STARTED = "bad request: failed to resolve container IP after 3 attempts: no IP address found. Is the Sandbox started?";

describe("Daytona errors", () => {
  it.each([
    ["a 500", sdkError("DaytonaInternalServerError", "boom", 500), { retry: true }],
    ["a 502", sdkError("DaytonaBadGatewayError", "bad gateway", 502), { retry: true }],
    ["a 429 with Retry-After", sdkError("DaytonaRateLimitError", "slow down", 429, { "retry-after": "3" }), { retry: true, afterMs: 3000 }],
    ["a dropped connection", sdkError("DaytonaConnectionError", "socket hang up"), { retry: true }],
    ["a client timeout", sdkError("DaytonaConnectionTimeoutError", "timeout of 120000ms exceeded"), { retry: true }],
    ["a 401", sdkError("DaytonaAuthenticationError", "Unauthorized", 401), { retry: false }],
    ["a 404", sdkError("DaytonaNotFoundError", "not found", 404), { retry: false }],
    ["a 400", sdkError("DaytonaBadRequestError", "bad", 400), { retry: false }],
    ["not the SDK's", new Error("TypeError somewhere"), { retry: false }],
    // Not a network failure: retrying cannot help until the sandbox is started again.
    ["a stopped sandbox's toolbox", sdkError("DaytonaBadRequestError", NOT_STARTED, 400), { retry: false }],
  ])("%s → %j", (_name, error, verdict) => {
    expect(transient(error)).toEqual(verdict);
  });

  it.each([
    [sdkError("DaytonaAuthenticationError", "Unauthorized", 401), "auth", /refused the API key \(HTTP 401\) at http:\/\/d\/api — check DAYTONA_API_KEY/],
    [sdkError("DaytonaForbiddenError", "Forbidden", 403), "auth", /DAYTONA_API_KEY/],
    [sdkError("DaytonaNotFoundError", "Sandbox x not found", 404), "sandbox_not_found", /not found while trying to run a test: Sandbox x not found/],
    [sdkError("DaytonaBadRequestError", "Total memory limit exceeded. Maximum allowed: 20GiB.\nUpgrade...", 400), "quota", /quota reached while trying to run a test: Total memory limit exceeded\. Maximum allowed: 20GiB\.$/],
    [sdkError("DaytonaBadRequestError", "invalid label", 400), "bad_input", /rejected the request to run a test: invalid label/],
    [sdkError("DaytonaBadRequestError", NOT_STARTED, 400), "not_running", /the sandbox is not running .* while trying to run a test: .*Is the Sandbox started\?/],
    // A gateway error is not the runner's answer for a stopped sandbox, whatever it says.
    [sdkError("DaytonaBadGatewayError", "sandbox x is not running (stopped)", 502), "transient", /HTTP 502/],
    [sdkError("DaytonaInternalServerError", "boom", 500), "transient", /did not answer while trying to run a test \(HTTP 500\) at http:\/\/d\/api/],
    [sdkError("DaytonaConnectionError", "ECONNREFUSED"), "transient", /\(no answer\)/],
  ])("%s → %s", (error, kind, message) => {
    const typed = toSandboxError(error, { apiUrl: "http://d/api", doing: "run a test" });
    expect(typed).toBeInstanceOf(SandboxError);
    expect(typed).toMatchObject({ kind, message: expect.stringMatching(message), cause: error });
  });
});

describe("preview links of a private sandbox", () => {
  it("are cached, and renewed once half their lifetime has passed; a failure is not cached", async () => {
    let now = 0;
    let made = 0;
    let fail = false;
    const links = new PreviewLinks({
      link: async (port) => {
        if (fail) throw new Error("down");
        return { url: `https://p/${port}/${++made}` };
      },
      lifetimeMs: 60_000,
      now: () => now,
    });
    expect((await links.get(8000)).url).toBe("https://p/8000/1");
    now = 29_999;
    expect((await links.get(8000)).url).toBe("https://p/8000/1");
    expect((await links.get(3000)).url).toBe("https://p/3000/2");
    now = 30_000;
    fail = true;
    await expect(links.get(8000)).rejects.toThrow("down");
    fail = false;
    expect((await links.get(8000)).url).toBe("https://p/8000/3");
  });
});
