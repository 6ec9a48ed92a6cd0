import { describe, expect, it } from "vitest";
import { toolsPlugin } from "../../.opencode/plugin/sandbox/opencode/tools.js";
import { ConfigSchema } from "../../.opencode/plugin/sandbox/config.js";
import { HOST_DIR, nullLogger } from "./tools-sandbox-harness.js";
import { KeyedQueue } from "../../.opencode/plugin/sandbox/util/keyed-queue.js";

const deps = {
  directory: HOST_DIR,
  sandboxFor: async () => {
    throw new Error("no sandbox in this test");
  },
  config: ConfigSchema.parse({ allowHostTools: ["github_*"] }),
  log: nullLogger,
  locks: new KeyedQueue(),
};

describe("tools plugin composition", () => {
  const hooks = toolsPlugin(deps, { otherTools: ["preview_url"] });
  const guard = hooks["tool.execute.before"]!;
  const call = (tool: string) => guard({ tool, sessionID: "s", callID: "c" }, { args: {} });

  const builtins = ["bash", "read", "write", "edit", "apply_patch", "glob", "grep", "webfetch"];

  it("overrides every built-in that reads, writes, executes, searches or fetches — and nothing else", () => {
    // Besides the overrides: bash's two companions for its background mode (not built-in ids).
    expect(Object.keys(hooks.tool!).sort()).toEqual([...builtins, "bash_output", "bash_stop"].sort());
  });

  it.each(["bash_output", "bash_stop"])("the guard lets the sandboxed %s through", async (id) => {
    await expect(call(id)).resolves.toBeUndefined();
  });

  it.each(builtins)("the guard lets the sandboxed %s through", async (id) => {
    await expect(call(id)).resolves.toBeUndefined();
  });

  it("lets the plugin's other tools and the config's allowHostTools through", async () => {
    await expect(call("preview_url")).resolves.toBeUndefined();
    await expect(call("github_search")).resolves.toBeUndefined();
    await expect(call("slack_post")).rejects.toThrow(/allowHostTools/);
  });
});
