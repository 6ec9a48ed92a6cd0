/**
 * Hostile input to the built CLI, as data: arguments a user could be tricked into
 * running (pasted from a web page, a script) and a state file naming odd branches.
 * `@O` is a folder beside the project: a marker there would be a command run on the
 * host. Each case: the exit code (0 done, 1 failed, 2 bad usage) and the message.
 */

export interface CliCase {
  class: string;
  name: string;
  args: string[];
  /** Sessions in the project's state file before the run (see hostile-cli.test.ts). */
  state?: "hostile-branch";
  code: number;
  /** Matched against stderr + stdout. */
  expect: RegExp;
}

export const CLI_CASES: CliCase[] = [
  { class: "CLI arguments", name: "sync --upload-pack=<command>", args: ["sync", "--upload-pack=touch @O/pwned"], code: 2, expect: /unknown option '--upload-pack=touch @O\/pwned'/ },
  { class: "CLI arguments", name: "a session named --upload-pack after --", args: ["sync", "--", "--upload-pack=touch @O/pwned"], code: 1, expect: /No session of this project has a sandbox/ },
  { class: "CLI arguments", name: "apply -x", args: ["apply", "-x"], code: 2, expect: /unknown option '-x'/ },
  { class: "CLI arguments", name: "preview port 0", args: ["preview", "ses", "0"], code: 2, expect: /'0' is invalid for argument 'port'\. a TCP port \(1-65535\)/ },
  { class: "CLI arguments", name: "preview port 99999", args: ["preview", "ses", "99999"], code: 2, expect: /'99999' is invalid for argument 'port'/ },
  { class: "CLI arguments", name: "preview port abc", args: ["preview", "ses", "abc"], code: 2, expect: /'abc' is invalid for argument 'port'/ },
  { class: "CLI arguments", name: "preview --start of a command, a path and no port", args: ["preview", "--start", "touch @O/pwned", "../../.."], code: 2, expect: /A repository preview needs the repository and --port/ },
  { class: "CLI arguments", name: "logs -n -5", args: ["logs", "-n", "-5"], code: 2, expect: /argument '-5' is invalid\. a whole number/ },
  { class: "CLI arguments", name: "logs -n 1e99", args: ["logs", "-n", "1e99"], code: 2, expect: /argument '1e99' is invalid\. a whole number/ },
  { class: "CLI arguments", name: "prune --older-than garbage", args: ["prune", "--older-than", "garbage"], code: 2, expect: /argument 'garbage' is invalid\. an age such as 7d/ },
  { class: "CLI arguments", name: "prune --grace -1", args: ["prune", "--grace", "-1"], code: 2, expect: /argument '-1' is invalid\. a whole number of minutes/ },
  { class: "CLI arguments", name: "a session argument of 100 KB", args: ["diff", "s".repeat(100_000)], code: 1, expect: /No session of this project has a sandbox/ },
  { class: "CLI arguments", name: "a session id with a newline and an option", args: ["sync", "ses\n--force"], code: 1, expect: /No session of this project has a sandbox/ },
  // The state file is the plugin's own, but the CLI must not hand what it holds to git as options either.
  { class: "CLI arguments", name: "apply of a session whose branch looks like an option", args: ["apply", "ses_x", "--no-sync"], state: "hostile-branch", code: 1, expect: /work is on the branch --output=@O\/pwned/ },
  { class: "CLI arguments", name: "diff of a session whose branch looks like an option", args: ["diff", "ses_x", "--no-sync"], state: "hostile-branch", code: 1, expect: /has no synced work yet/ },
  { class: "CLI arguments", name: "sync of a session whose sandbox is gone and branch looks like an option", args: ["sync", "ses_x"], state: "hostile-branch", code: 1, expect: /sandbox sb-nope is gone/ },
];
