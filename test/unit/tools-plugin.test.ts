import { describe, expect, it } from "vitest";
import { toolsPlugin } from "../../.opencode/plugin/sandbox/plugins/tools.js";
import { ConfigSchema } from "../../.opencode/plugin/sandbox/config.js";
import { HOST_DIR, nullLogger } from "./tools-sandbox-harness.js";

const deps = {
  directory: HOST_DIR,
  sandboxFor: async () => {
    throw new Error("no sandbox in this test");
  },
  config: ConfigSchema.parse({ allowHostTools: ["github_*"] }),
  log: nullLogger,
};

describe("tools plugin composition", () => {
  const hooks = toolsPlugin(deps);
  const guard = hooks["tool.execute.before"]!;
  const call = (tool: string) => guard({ tool, sessionID: "s", callID: "c" }, { args: {} });

  it("overrides the built-ins that execute, search or fetch", () => {
    expect(Object.keys(hooks.tool!)).toEqual(expect.arrayContaining(["bash", "glob", "grep", "webfetch"]));
  });

  it.each(["bash", "read", "write", "edit", "apply_patch", "glob", "grep", "webfetch"])(
    "%s is sandboxed by this plugin or refused — never run on the host",
    async (id) => {
      if (hooks.tool![id]) await expect(call(id)).resolves.toBeUndefined();
      else await expect(call(id)).rejects.toThrow(/refused/);
    },
  );

  it("lets the plugin's other tools and the config's allowHostTools through", async () => {
    await expect(call("preview_url")).resolves.toBeUndefined();
    await expect(call("github_search")).resolves.toBeUndefined();
    await expect(call("slack_post")).rejects.toThrow(/allowHostTools/);
  });
});
