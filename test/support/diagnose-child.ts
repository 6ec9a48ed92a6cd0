/**
 * Prints the local provider's diagnosis (what `doctor` shows) as one JSON line, run
 * as whichever user starts it (BUN_BE_BUN=1 <opencode binary> test/support/diagnose-child.ts).
 * Input: env OCSB_CHILD = JSON { root }.
 */
import { silentLogger } from "../../.opencode/plugin/sandbox/core/logger.js";
import { LocalProvider } from "../../.opencode/plugin/sandbox/providers/local/index.js";

const input = JSON.parse(process.env.OCSB_CHILD ?? "{}") as { root: string };
const provider = new LocalProvider({ root: input.root, network: "none", memoryMb: 256, maxProcesses: 128, maxOpenFiles: 1024, log: silentLogger });
process.stdout.write(JSON.stringify({ diagnosis: await provider.diagnose(), limits: await provider.limits() }) + "\n");
process.exit(0);
