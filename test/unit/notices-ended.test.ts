/** The words for a deleted session: where its work is, in a git repository or kept aside for a folder without git. */
import { describe, expect, it } from "vitest";
import { words } from "../../.opencode/plugin/sandbox/service/notices.js";

describe("session_ended words", () => {
  it.each([
    ["a git repository", { branch: "opencode/3" }, ["its work stays on opencode/3 (git log opencode/3)"], ["opencode-sandboxed"]],
    [
      "a folder without git",
      { branch: "opencode/3", files: true },
      ["kept aside as opencode/3", "opencode-sandboxed diff opencode/3", "opencode-sandboxed apply opencode/3"],
      ["git log"],
    ],
    ["no branch (nothing synced)", {}, ["Session deleted: its sandbox is removed."], ["git log", "opencode-sandboxed"]],
  ])("%s", (_name, extra, says, never) => {
    const text = words({ kind: "session_ended", sessionID: "ses_1", ...extra })?.text ?? "";
    for (const s of says) expect(text).toContain(s);
    for (const s of never) expect(text).not.toContain(s);
  });
});
