/**
 * Invalid plugin options, as data: what opencode.json (or the environment, or the
 * project's .env) could hold. Each must fail at start-up as a ConfigError whose message
 * names the option and what it accepts — never a stack trace, never a silently wrong
 * setting — and the plugin must still load and say so when a tool needs the sandbox.
 */

export interface OptionCase {
  class: string;
  name: string;
  /** The plugin options (JSON text, as opencode.json holds them: `__proto__` is a key there). */
  options: string;
  env?: Record<string, string>;
  /** The project's .env file. */
  dotenv?: string;
  /** Matched against the ConfigError's message. */
  expect: RegExp;
}

export const OPTION_CASES: OptionCase[] = [
  { class: "invalid plugin option", name: "an unknown provider", options: `{"provider": "docker"}`, expect: /option "provider" is "docker"; expected one of "auto", "daytona", "local"/ },
  { class: "invalid plugin option", name: "a misspelt option", options: `{"providr": "local"}`, expect: /unknown option "providr"/ },
  { class: "invalid plugin option", name: "a __proto__ key smuggling a provider", options: `{"__proto__": {"provider": "local"}}`, expect: /unknown option "__proto__"/ },
  { class: "invalid plugin option", name: "a nested __proto__ key", options: `{"local": {"__proto__": {"memoryMb": 1}}}`, expect: /unknown option "local.__proto__"/ },
  { class: "invalid plugin option", name: "options that are a string", options: `"local"`, expect: /the plugin options are "local"; expected an object/ },
  { class: "invalid plugin option", name: "options that are null", options: `null`, expect: /the plugin options are null; expected an object/ },
  { class: "invalid plugin option", name: "options that are a list", options: `["local"]`, expect: /the plugin options are \["local"\]; expected an object/ },
  { class: "invalid plugin option", name: "negative memory", options: `{"local": {"memoryMb": -1}}`, expect: /option "local.memoryMb" is -1; expected a number > 0/ },
  { class: "invalid plugin option", name: "memory as a string", options: `{"local": {"memoryMb": "2048"}}`, expect: /option "local.memoryMb" is "2048"; expected a number/ },
  { class: "invalid plugin option", name: "memory of 1e300", options: `{"local": {"memoryMb": 1e300}}`, expect: /option "local.memoryMb" is 1e\+300; expected a number < 9007199254740991/ },
  { class: "invalid plugin option", name: "5,000 CPUs", options: `{"local": {"cpus": 5000}}`, expect: /option "local.cpus" is 5000; expected a number <= 4096/ },
  { class: "invalid plugin option", name: "a branch prefix that is an option", options: `{"sync": {"branchPrefix": "--upload-pack=touch /tmp/x"}}`, expect: /option "sync.branchPrefix" is "--upload-pack=touch \/tmp\/x"; expected a git branch name such as opencode/ },
  { class: "invalid plugin option", name: "a branch prefix climbing out of refs/heads", options: `{"sync": {"branchPrefix": "../../HEAD"}}`, expect: /option "sync.branchPrefix" is "\.\.\/\.\.\/HEAD"; expected a git branch name/ },
  { class: "invalid plugin option", name: "a sandboxEnv name with a dash", options: `{"sandboxEnv": {"BAD-NAME": "x"}}`, expect: /option "sandboxEnv.BAD-NAME" has a name that is not allowed; expected a variable name/ },
  { class: "invalid plugin option", name: "a sandboxEnv value with a NUL", options: `{"sandboxEnv": {"A": "x\\u0000y"}}`, expect: /option "sandboxEnv.A" is "x\\u0000y"; expected a value without NUL bytes/ },
  { class: "invalid plugin option", name: "a Daytona URL that is a file", options: `{"daytona": {"apiUrl": "file:///etc/passwd"}}`, expect: /option "daytona.apiUrl" is "file:\/\/\/etc\/passwd"; expected an http\(s\) URL/ },
  { class: "invalid plugin option", name: "an allow-list domain of *", options: `{"local": {"network": "allowlist", "allowDomains": ["*"]}}`, expect: /option "local.allowDomains.0" is "\*"; expected a domain such as registry.npmjs.org/ },
  { class: "invalid plugin option", name: "a CIDR that is not one", options: `{"local": {"allowCidrs": ["999.1.1.1/99"]}}`, expect: /option "local.allowCidrs.0" is "999.1.1.1\/99"; expected a CIDR such as 192.168.1.0\/24/ },
  { class: "invalid plugin option", name: "an empty allowHostTools entry", options: `{"allowHostTools": [""]}`, expect: /option "allowHostTools.0" is ""; expected at least 1 character/ },
  { class: "invalid plugin option", name: "secretEnv as a string", options: `{"secretEnv": "TOKEN"}`, expect: /option "secretEnv" is "TOKEN"; expected an array/ },
  { class: "invalid plugin option", name: "both a Daytona snapshot and an image", options: `{"daytona": {"snapshot": "a", "image": "b"}}`, expect: /set either snapshot or image, not both/ },
  { class: "invalid plugin option", name: "a network mode from the environment", options: `{}`, env: { OPENCODE_SANDBOX_NETWORK: "open" }, expect: /option "local.network" is "open"; expected one of "isolated", "allowlist", "none"/ },
  { class: "invalid plugin option", name: "a provider from the project's .env", options: `{}`, dotenv: "OPENCODE_SANDBOX_PROVIDER=evil\n", expect: /option "provider" is "evil"/ },
];
