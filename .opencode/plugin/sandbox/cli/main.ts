#!/usr/bin/env node
/** `opencode-sandboxed <command>` (package bin). */
import { main } from "./program.js";

await main(process.argv);
// Every command has closed what it opened; a handle a library left open must not keep the CLI alive.
process.exit();
