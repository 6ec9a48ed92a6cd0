/**
 * The CLI's commands and how a run ends: each command is one file here; this wires
 * them up and turns failures into messages and exit codes.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command, CommanderError } from "commander";
import { ConfigError } from "../config.js";
import { applyCommand } from "./apply.js";
import { diffCommand } from "./diff.js";
import { doctorCommand } from "./doctor.js";
import { initCommand } from "./init.js";
import { logsCommand } from "./logs.js";
import { previewCommand } from "./preview.js";
import { CliError, err, EXIT } from "./output.js";
import { pruneCommand, uninstallCommand } from "./prune.js";
import { statusCommand } from "./status.js";
import { syncCommand } from "./sync.js";

function version(): string {
  // Four levels up from both the source (.opencode/plugin/sandbox/cli) and the build (dist/plugin/sandbox/cli).
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "../../../../package.json"), "utf8")) as { version: string };
  return pkg.version;
}

export function program(): Command {
  const program = new Command("opencode-sandboxed")
    .description("See and manage the sandboxes opencode-sandboxed runs for this project's OpenCode sessions.")
    .version(version())
    .showHelpAfterError("(add --help for usage)")
    .exitOverride();
  for (const command of [initCommand(), doctorCommand(), statusCommand(), syncCommand(), diffCommand(), applyCommand(), logsCommand(), pruneCommand(), previewCommand(), uninstallCommand()])
    program.addCommand(command.exitOverride());
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      process.exitCode = error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    } else if (error instanceof CliError) {
      if (error.message) err(error.message);
      process.exitCode = error.code;
    } else if (error instanceof ConfigError) {
      err(error.message);
      process.exitCode = EXIT.failed;
    } else {
      err(`opencode-sandboxed: ${(error as Error).message ?? error}`);
      process.exitCode = EXIT.failed;
    }
  }
}
