import { describe, expect, it } from "vitest";
import { words } from "../../.opencode/plugin/sandbox/service/notices.js";

describe("preview_ready notice", () => {
  it("tells the port and the link, once per session, port and link", () => {
    const w = words({ kind: "preview_ready", sessionID: "ses_1", port: 8000, url: "http://127.0.0.1:41234" });
    expect(w).toEqual({ text: "Port 8000 is listening in the sandbox: http://127.0.0.1:41234", level: "info", once: "preview:ses_1:8000:http://127.0.0.1:41234" });
    expect(words({ kind: "preview_ready", sessionID: "ses_1", port: 8000, url: "http://127.0.0.1:5" })?.once).not.toBe(w?.once);
  });
});
