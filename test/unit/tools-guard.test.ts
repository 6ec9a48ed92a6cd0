import { describe, expect, it } from "vitest";
import { createGuard, HOST_SAFE_TOOLS, hostToolMatcher } from "../../.opencode/plugin/sandbox/opencode/guard.js";

const SANDBOXED = ["bash", "read", "write", "edit", "apply_patch", "glob", "grep", "webfetch", "preview_url"];

function guardWith(allowHostTools: string[] = []) {
  return createGuard({ sandboxed: SANDBOXED, allowHostTools });
}

describe("fail-closed guard", () => {
  it.each([...SANDBOXED, ...HOST_SAFE_TOOLS])("lets %s through", async (tool) => {
    await expect(guardWith()({ tool, sessionID: "s", callID: "c" }, { args: {} })).resolves.toBeUndefined();
  });

  it.each([
    { tool: "github_create_issue", kind: "MCP tool" },
    { tool: "list_mcp_resources", kind: "MCP resources" },
    { tool: "read_mcp_resource", kind: "MCP resources" },
    { tool: "deploy", kind: "project-local custom tool" },
    { tool: "mytools_write_host", kind: "custom tool, named export" },
    { tool: "ls", kind: "a tool OpenCode may add later" },
    { tool: "multiedit", kind: "older built-in" },
  ])("refuses $tool ($kind) and names allowHostTools", async ({ tool }) => {
    const error = await guardWith()({ tool, sessionID: "s", callID: "c" }, { args: {} }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain(`refused the tool "${tool}"`);
    expect((error as Error).message).toContain("allowHostTools");
    expect((error as Error).message).toContain("would run on the host");
  });

  it.each([
    { tool: "lsp", reason: "language servers run on the host" },
    { tool: "execute", reason: "code mode runs on the host" },
  ])("refuses experimental $tool with its reason", async ({ tool, reason }) => {
    await expect(guardWith()({ tool, sessionID: "s", callID: "c" }, { args: {} })).rejects.toThrow(reason);
  });

  it.each([
    { allow: ["deploy"], tool: "deploy", allowed: true },
    { allow: ["deploy"], tool: "deploy2", allowed: false },
    { allow: ["github_*"], tool: "github_create_issue", allowed: true },
    { allow: ["github_*"], tool: "gitlab_create_issue", allowed: false },
    { allow: ["*"], tool: "anything", allowed: true },
    { allow: ["a.b"], tool: "aXb", allowed: false },
  ])("allowHostTools $allow → $tool allowed: $allowed", async ({ allow, tool, allowed }) => {
    expect(hostToolMatcher(allow)(tool)).toBe(allowed);
    const result = guardWith(allow)({ tool, sessionID: "s", callID: "c" }, { args: {} });
    if (allowed) await expect(result).resolves.toBeUndefined();
    else await expect(result).rejects.toThrow(/allowHostTools/);
  });
});
