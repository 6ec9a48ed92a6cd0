/**
 * `npm run demo [-- --keep]`: the whole product on this machine, offline, in one
 * command (see demo.ts). Exit code 0 when every step worked.
 */
import { parseArgs } from "node:util";
import { runDemo } from "./demo.js";

const USAGE = `Usage: npm run demo [-- --keep]

Runs real OpenCode with an offline scripted model, the local sandbox and a throw-away
git repository: the agent writes a small web app and starts it, the preview link
answers, and its work is shown on the branch opencode/1. No account, no key.

  --keep   keep the throw-away repository (its path is printed)
  --help   this text`;

function options(): { keep: boolean } | undefined {
  try {
    const { values } = parseArgs({ options: { keep: { type: "boolean", default: false }, help: { type: "boolean", default: false } } });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    return { keep: values.keep };
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return undefined;
  }
}

async function main(): Promise<number> {
  const opts = options();
  if (!opts) return 2;
  const interrupted = new AbortController();
  // Ctrl-C: the demo stops OpenCode and cleans up (every step of it bounded). Repeats are
  // ignored: a terminal's Ctrl-C reaches this process both directly and relayed by tsx.
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.on(signal, () => {
      if (interrupted.signal.aborted) return;
      console.log(`\n${signal}: stopping`);
      interrupted.abort();
    });
  return runDemo({ ...opts, color: !!process.stdout.isTTY, write: (line) => console.log(line), signal: interrupted.signal });
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(`✖ ${(error as Error).stack ?? error}`);
    process.exit(1);
  },
);
