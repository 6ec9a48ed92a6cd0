import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { previewUrlTool } from "../../.opencode/plugin/sandbox/tools/preview-url.js";
import { fakeCtx, makeEnv, run, type Env } from "./tools-sandbox-harness.js";

let env: Env;
beforeAll(async () => {
  env = await makeEnv({ wrap: (s) => Object.assign(Object.create(s), { previewUrl: async (port: number) => ({ url: `https://${port}-abc.preview.example/?token=t` }) }) });
});
afterAll(() => env.cleanup());

describe("preview_url", () => {
  it("shows the link in its title (what the TUI shows for the call) and its output", async () => {
    const { ctx, metadata } = fakeCtx();
    const res = await run(previewUrlTool(env.deps), { port: 8000 }, ctx);
    expect(res.title).toBe("Port 8000: https://8000-abc.preview.example/?token=t");
    expect(res.output).toBe("https://8000-abc.preview.example/?token=t");
    expect(res.metadata).toEqual({ url: "https://8000-abc.preview.example/?token=t", port: 8000 });
    expect(metadata.at(-1)?.title).toBe(res.title);
  });

  it("names the headers a client needs when the link carries any", async () => {
    const withHeader = await makeEnv({ wrap: (s) => Object.assign(Object.create(s), { previewUrl: async () => ({ url: "https://p.example", headers: { "x-token": "t" } }) }) });
    try {
      const res = await run(previewUrlTool(withHeader.deps), { port: 3000 }, fakeCtx().ctx);
      expect(res.title).toBe("Port 3000: https://p.example");
      expect(res.output).toMatch(/^https:\/\/p\.example\n\(requests need the header x-token;/);
    } finally {
      await withHeader.cleanup();
    }
  });
});
