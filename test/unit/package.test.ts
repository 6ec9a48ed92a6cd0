import { execFile, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const project = JSON.parse(readFileSync(join(root, "project.json"), "utf8"));

describe("package", () => {
  it.each(Object.entries(project.targets as Record<string, { options: { command: string } }>))(
    "Nx target %s runs a command that exists",
    (_name, target) => {
      const command = target.options.command;
      const script = /^npm (?:run )?(\S+)$/.exec(command)?.[1];
      expect(script, `target command "${command}" should be an npm script`).toBeDefined();
      const body: string | undefined = pkg.scripts[script!];
      expect(body, `npm script "${script}"`).toBeDefined();
      // Every program the script starts is installed.
      for (const part of body!.split("&&")) {
        const bin = part.trim().split(/\s+/)[0];
        if (["rm", "mv", "node", "npm"].includes(bin)) continue;
        expect(existsSync(join(root, "node_modules/.bin", bin)), `${bin} in node_modules/.bin`).toBe(true);
      }
    },
  );

  it("pins OpenCode exactly", () => {
    expect(pkg.dependencies["@opencode-ai/plugin"]).toBe("1.18.33");
    expect(pkg.devDependencies["opencode-ai"]).toBe("1.18.33");
    for (const [name, version] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies }))
      expect(version, name).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("imports the Daytona SDK only lazily", () => {
    const grep = spawnSync("grep", ["-rln", "@daytonaio/sdk", join(root, ".opencode/plugin")], { encoding: "utf8" });
    // Type-only imports vanish when compiled; anything else must be a dynamic import().
    for (const file of grep.stdout.split("\n").filter(Boolean)) expect(readFileSync(file, "utf8")).not.toMatch(/^import (?!type ).*@daytonaio\/sdk/m);
  });

  it("npm pack ships the build (the guard init places too), README and LICENSE, not tests", async () => {
    const { stdout } = await promisify(execFile)("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root });
    const files: string[] = JSON.parse(stdout)[0].files.map((f: { path: string }) => f.path);
    expect(files).toEqual(expect.arrayContaining(["README.md", "LICENSE", "package.json", "dist/plugin/index.js", "dist/plugin/index.d.ts", "dist/plugin/sandbox/guard/opencode-sandboxed-guard.js"]));
    expect(files.filter((f) => f.startsWith("test/") || f.startsWith(".opencode/") || f.startsWith("bench/"))).toEqual([]);
  });
});
