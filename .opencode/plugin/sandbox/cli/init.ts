/**
 * `init`: sets a project up for opencode-sandboxed — lists the plugin in its
 * opencode.json(c), places the fail-safe guard in its .opencode/plugin/, then proves
 * the plugin loads by starting the user's OpenCode headless and finding the plugin's
 * start-up record. Idempotent: a second run changes nothing and proves it again.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Command } from "commander";
import { placeGuard, type GuardPlacement } from "./guard-file.js";
import { listPlugin, type ConfigEdit } from "./opencode-config-file.js";
import { probeOpencode, type Probe } from "./opencode-probe.js";
import { CliError, EXIT, err, out } from "./output.js";
import { onPath } from "./host-checks.js";
import { PACKAGE_NAME } from "./plugin-entry.js";
import { locateProject } from "./project.js";

/** A spec the user gave that init cannot use; the message says what was wrong. */
export class PluginSpecError extends CliError {
  constructor(spec: string, problem: string) {
    super(`--plugin ${spec}: ${problem}`, EXIT.usage);
  }
}

/**
 * What OpenCode gets in `plugin` for what the user typed: an npm spec as is; a path to
 * the package (a directory) or its entry file as a file:// URL of the entry.
 */
export function pluginSpec(input: string, cwd: string): string {
  const pathLike = input.startsWith("file:") || isAbsolute(input) || input.startsWith(".") || input.endsWith(".tgz");
  if (!pathLike) {
    if (input === PACKAGE_NAME || input.startsWith(`${PACKAGE_NAME}@`)) return input;
    throw new PluginSpecError(input, `not ${PACKAGE_NAME} (give its npm name, e.g. ${PACKAGE_NAME}@0.1.0, or a path to its package, entry file or tarball)`);
  }
  const path = input.startsWith("file://") ? new URL(input).pathname : resolve(cwd, input.replace(/^file:/, ""));
  if (!existsSync(path)) throw new PluginSpecError(input, `${path} does not exist`);
  // OpenCode 1.18 (read in its bundled code): a tarball path would be imported as a module (fails);
  // a `file:` tarball spec goes to npm's Arborist, which at OpenCode's start installs it and every
  // dependency from the registry into OpenCode's cache. Offline or behind a slow registry that
  // start did not finish within 300 s here, and meanwhile the plugin is not loaded. npm, run by
  // the user, shows its progress and errors; the installed package then loads from a path.
  if (path.endsWith(".tgz"))
    throw new PluginSpecError(
      input,
      `a tarball is not listed as is: OpenCode would install it and all its dependencies from the npm registry at start-up, ` +
        `silently (unloaded until done; a hang without the registry). Install it first (npm install ${input}), ` +
        `then pass the installed package: --plugin ./node_modules/${PACKAGE_NAME}`,
    );
  if (statSync(path).isDirectory()) {
    let pkg: { name?: string; main?: string };
    try {
      pkg = JSON.parse(readFileSync(join(path, "package.json"), "utf8"));
    } catch {
      throw new PluginSpecError(input, `${path} has no readable package.json`);
    }
    if (pkg.name !== PACKAGE_NAME || !pkg.main) throw new PluginSpecError(input, `${path} is not the ${PACKAGE_NAME} package (its package.json names ${pkg.name ?? "nothing"})`);
    const entry = resolve(path, pkg.main);
    if (!existsSync(entry)) throw new PluginSpecError(input, `${entry} does not exist (run npm run build there)`);
    return pathToFileURL(entry).href;
  }
  return pathToFileURL(path).href;
}

function configLine(e: ConfigEdit): string {
  switch (e.kind) {
    case "created":
      return `✔ ${e.path}: created, listing "${e.spec}"`;
    case "added":
      return `✔ ${e.path}: "${e.spec}" added to plugin`;
    case "replaced":
      return `✔ ${e.path}: plugin entry "${e.previous}" now "${e.spec}" (its options kept)`;
    case "unchanged":
      return `✔ ${e.path}: lists "${e.spec}" already`;
  }
}

function guardLine(g: GuardPlacement): string {
  switch (g.kind) {
    case "placed":
    case "updated":
      return `✔ guard ${g.kind} (version ${g.version}): ${g.path} — if the plugin ever fails to load, tools are refused instead of running on this machine`;
    case "unchanged":
      return `✔ guard in place (version ${g.version}): ${g.path}`;
    case "foreign":
      return `! ${g.path} exists and is not opencode-sandboxed's guard: left alone (rename it and run init again to place the guard)`;
    case "plugin_source":
      return `· guard not placed: this project's .opencode is a working copy of opencode-sandboxed itself, which loads from there`;
  }
}

/** The load check's verdict: the line to print and whether it passed. */
export function loadVerdict(probe: Probe, listed: string): { ok: boolean; line: string } {
  if (probe.kind === "failed") return { ok: false, line: `✘ OpenCode could not be started to check the plugin loads: ${probe.message}` };
  if (probe.loaded) return { ok: true, line: `✔ OpenCode loads the plugin: ${probe.loaded}` };
  const ours = probe.plugins.filter((p) => p.ours);
  if (!ours.length)
    return { ok: false, line: `✘ OpenCode's effective configuration does not list the plugin (was "${listed}" written to a file OpenCode does not read, or overridden by OPENCODE_CONFIG?)` };
  const where = ours.map((p) => `"${p.spec}"${p.source ? ` (from ${p.source})` : ""}`).join(", ");
  return {
    ok: false,
    line:
      `✘ OpenCode lists ${where} but did not load it (OpenCode says nothing about why): ` +
      `check that the package can be installed (npm view ${PACKAGE_NAME}) or that the path exists, then run init again`,
  };
}

export function initCommand(): Command {
  return new Command("init")
    .description("list the plugin in this project's opencode.json, place the fail-safe guard in .opencode/plugin/, and check that OpenCode loads the plugin")
    .option("--plugin <spec>", `what OpenCode loads: npm name (${PACKAGE_NAME}[@version]), or a path to the package (e.g. ./node_modules/${PACKAGE_NAME}, installed from a tarball) or its entry file`)
    .option("--opencode <path>", "the OpenCode to check with (default: opencode on PATH)")
    .option("--no-check", "do not start OpenCode to check that the plugin loads")
    .action(async (opts: { plugin?: string; opencode?: string; check: boolean }) => {
      const cwd = process.cwd();
      const want = opts.plugin === undefined ? undefined : pluginSpec(opts.plugin, cwd);
      const project = await locateProject(cwd);
      const root = project.worktree === "/" ? cwd : project.worktree;

      const edit = await listPlugin(root, want, PACKAGE_NAME);
      out(configLine(edit));
      out(guardLine(await placeGuard(root)));
      if (!opts.check) {
        process.exitCode = EXIT.ok;
        return;
      }
      const opencode = opts.opencode ?? (await onPath("opencode"));
      if (!opencode) throw new CliError("✘ OpenCode is not on PATH, so the plugin could not be checked: install it (npm install -g opencode-ai) or pass --opencode <path>, then run init again");
      err(`· starting OpenCode (${opencode} debug config) to check that it loads the plugin — a first start can take a minute…`);
      const verdict = loadVerdict(await probeOpencode(opencode, cwd), edit.spec);
      out(verdict.line);
      process.exitCode = verdict.ok ? EXIT.ok : EXIT.failed;
    });
}
