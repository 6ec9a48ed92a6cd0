import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { harness, type Harness } from "../support/local-harness.js";

let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(async () => {
  await h?.cleanup();
});

describe("local provider smoke", () => {
  it("creates a sandbox and runs a command", async () => {
    const t0 = Date.now();
    const sb = await h.provider.create({ labels: { a: "1" } });
    const r = await sb.exec("id; pwd; echo $HOME; ls /; cat /proc/self/uid_map");
    console.log(Date.now() - t0, r);
    expect(r.exitCode).toBe(0);
    await sb.writeFile("x/y.txt", "hello");
    expect(Buffer.from(await sb.readFile("/workspace/x/y.txt")).toString()).toBe("hello");
    console.log(await sb.stat("x"), await sb.readDir("x"));
  });
});
