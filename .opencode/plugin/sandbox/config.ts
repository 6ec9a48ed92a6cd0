/**
 * Plugin options + environment + the project's .env → one validated Config.
 * Precedence, highest first: options from opencode.json, process environment,
 * `.env` in the project directory, defaults.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseDotenv } from "dotenv";
import { z } from "zod";
import { isDomainPattern, parseCidr } from "./providers/local/egress-policy.js";

const positiveInt = z.number().int().positive();

export const ConfigSchema = z
  .object({
    /** auto = daytona when an API key is configured, otherwise local. */
    provider: z.enum(["auto", "daytona", "local"]).default("auto"),
    daytona: z
      .object({
        apiKey: z.string().min(1).optional(),
        apiUrl: z.url({ protocol: /^https?$/ }).default("https://app.daytona.io/api"),
        target: z.string().min(1).optional(),
        snapshot: z.string().min(1).optional(),
        image: z.string().min(1).optional(),
        /** With `image`: vCPUs, memory and disk in GiB. */
        resources: z.object({ cpu: positiveInt.optional(), memory: positiveInt.optional(), disk: positiveInt.optional() }).strict().optional(),
        /** Minutes without activity before Daytona stops the sandbox; 0 never. A command in flight keeps it active. */
        autoStopMinutes: z.number().int().min(0).default(60),
        /** Minutes a stopped sandbox stays before Daytona archives it. */
        autoArchiveMinutes: z.number().int().min(1).default(7 * 24 * 60),
        /** Minutes a stopped sandbox stays before Daytona deletes it; -1 never. Work is synced to branches before. */
        autoDeleteMinutes: z.number().int().min(-1).default(14 * 24 * 60),
        public: z.boolean().default(false),
        /** Block all outbound traffic from the sandbox. */
        networkBlockAll: z.boolean().default(false),
        /** Allow outbound traffic only to these networks (CIDR, e.g. "10.0.0.0/8"). */
        networkAllowList: z.array(z.string().regex(/^[0-9a-fA-F:.]+\/\d{1,3}$/, "a CIDR such as 10.0.0.0/8")).default([]),
        /** Allow outbound traffic only to these domains (Daytona's domainAllowList). */
        domainAllowList: z.array(z.string().refine(isDomainPattern, "a domain such as registry.npmjs.org or *.github.com")).default([]),
        /** Minutes a signed preview link stays valid (a fresh one is handed out before that). */
        previewExpiryMinutes: z.number().int().min(1).max(24 * 60).default(60),
      })
      .strict()
      .refine((d) => !(d.snapshot && d.image), { message: "set either snapshot or image, not both" })
      .default({
        apiUrl: "https://app.daytona.io/api",
        autoStopMinutes: 60,
        autoArchiveMinutes: 7 * 24 * 60,
        autoDeleteMinutes: 14 * 24 * 60,
        public: false,
        networkBlockAll: false,
        networkAllowList: [],
        domainAllowList: [],
        previewExpiryMinutes: 60,
      }),
    local: z
      .object({
        /**
         * isolated: outbound through slirp4netns; this machine's addresses and private, link-local
         * and unique-local ranges unreachable. allowlist: HTTP(S) only to allowDomains, through a
         * proxy on the host. none: no network.
         */
        network: z.enum(["isolated", "allowlist", "none"]).default("isolated"),
        /** network "allowlist": domains the sandbox may reach ("registry.npmjs.org", "*.github.com"). */
        allowDomains: z.array(z.string().refine(isDomainPattern, "a domain such as registry.npmjs.org or *.github.com")).default([]),
        /** Private or link-local networks the sandbox may reach anyway (CIDR or address, e.g. "192.168.1.0/24"). */
        allowCidrs: z.array(z.string().refine((s) => parseCidr(s) !== undefined, "a CIDR such as 192.168.1.0/24 or an address")).default([]),
        memoryMb: positiveInt.default(2048),
        maxProcesses: positiveInt.default(512),
        maxOpenFiles: positiveInt.default(4096),
        /** CPU time in cores (fractions allowed, e.g. 1.5); default: the host's cores but one (cgroup; enforced as root or with a delegated cgroup). */
        cpus: z.number().positive().max(4096).optional(),
        /** Disk for the workspace and HOME, in MiB (default 8192); a sparse image per sandbox, enforced as root only. */
        diskMiB: z.number().int().min(16).optional(),
        /** Files and directories the workspace and HOME may hold (default 1,000,000); enforced as root only. */
        inodes: z.number().int().min(256).optional(),
        /** Size of /tmp and of /dev/shm inside, in MiB (default 512; RAM). */
        tmpMiB: positiveInt.optional(),
      })
      .strict()
      .default({ network: "isolated", allowDomains: [], allowCidrs: [], memoryMb: 2048, maxProcesses: 512, maxOpenFiles: 4096 }),
    /** Extra environment for commands in the sandbox. Host variables are never passed through. */
    sandboxEnv: z
      .record(
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "a variable name (letters, digits and _, not starting with a digit)"),
        // No process can be given a NUL in its environment: every command would fail.
        z.string().refine((v) => !v.includes("\0"), "a value without NUL bytes"),
      )
      .default({}),
    /** Names of `sandboxEnv` entries whose values must never reach the log. */
    secretEnv: z.array(z.string()).default([]),
    sync: z
      .object({
        enabled: z.boolean().default(true),
        /** Branches are `<branchPrefix>/<N>`. */
        branchPrefix: z
          .string()
          .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/, "a git branch name such as opencode")
          .default("opencode"),
        /** Globs of git-ignored files to copy into the sandbox anyway (e.g. ".env"). */
        copyIgnored: z.array(z.string().min(1)).default([]),
        debounceMs: z.number().int().min(0).default(300),
        /** A project without git: its files (not counting ignored ones) are copied into a sandbox up to this many MB. */
        filesLimitMb: positiveInt.default(100),
        /**
         * MiB one sync may bring back from a sandbox: the bundle downloaded, the objects it
         * adds (unpacked), the files it writes into a checked-out branch. Beyond it the sync is
         * refused and the work stays in the sandbox (a committed node_modules, a zip bomb).
         */
        sizeBudgetMb: positiveInt.default(100),
      })
      .strict()
      .default({ enabled: true, branchPrefix: "opencode", copyIgnored: [], debounceMs: 300, filesLimitMb: 100, sizeBudgetMb: 100 }),
    /**
     * Off by default. When set, the plugin prunes this project's sandboxes by itself when
     * it starts (after syncing their work; kept when that fails): ones unused for longer
     * than maxAgeDays, and the least recently used ones while all together take more than
     * maxTotalGiB. `opencode run` sessions are never deleted by OpenCode: this bounds them.
     */
    retention: z
      .object({ maxAgeDays: z.number().positive().optional(), maxTotalGiB: z.number().positive().optional() })
      .strict()
      .default({}),
    /** Tool ids allowed to run on the host although the plugin does not sandbox them. */
    allowHostTools: z.array(z.string().min(1)).default([]),
    logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;
export type ResolvedProvider = "daytona" | "local";

/** Environment variables and the option each one sets. */
export const ENV_OPTIONS: Record<string, string> = {
  DAYTONA_API_KEY: "daytona.apiKey",
  DAYTONA_API_URL: "daytona.apiUrl",
  DAYTONA_TARGET: "daytona.target",
  DAYTONA_SNAPSHOT: "daytona.snapshot",
  OPENCODE_SANDBOX_PROVIDER: "provider",
  OPENCODE_SANDBOX_NETWORK: "local.network",
  OPENCODE_SANDBOX_LOG_LEVEL: "logLevel",
};

export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`opencode-sandboxed: invalid configuration — ${problems.join("; ")}`);
  }
}

type Tree = Record<string, unknown>;

function setPath(tree: Tree, path: string, value: unknown) {
  const keys = path.split(".");
  let node = tree;
  for (const key of keys.slice(0, -1)) node = (node[key] ??= {}) as Tree;
  node[keys.at(-1)!] = value;
}

function isPlainObject(v: unknown): v is Tree {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function merge(low: Tree, high: Tree): Tree {
  const out: Tree = { ...low };
  for (const [k, v] of Object.entries(high)) {
    const value = isPlainObject(v) && Object.hasOwn(out, k) && isPlainObject(out[k]) ? merge(out[k] as Tree, v) : v;
    // An own property even for "__proto__" (JSON.parse makes one): assigned, it would
    // become the prototype and pass options around the schema's unknown-key check.
    Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function fromVariables(vars: Record<string, string | undefined>): Tree {
  const tree: Tree = {};
  for (const [name, option] of Object.entries(ENV_OPTIONS)) {
    const value = vars[name];
    if (value !== undefined && value !== "") setPath(tree, option, value);
  }
  return tree;
}

/** Only the keys this plugin knows are taken from .env; nothing is copied into process.env. */
export function readDotenv(directory: string): Record<string, string> {
  try {
    return parseDotenv(readFileSync(join(directory, ".env")));
  } catch {
    return {};
  }
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing";
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function valueAt(tree: unknown, path: PropertyKey[]): unknown {
  let node = tree;
  for (const key of path) node = isPlainObject(node) || Array.isArray(node) ? (node as Tree)[key as string] : undefined;
  return node;
}

function problem(issue: z.core.$ZodIssue, input: unknown): string {
  const path = issue.path.map(String).join(".");
  if (issue.code === "unrecognized_keys")
    return `unknown option${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${path ? `${path}.` : ""}${k}"`).join(", ")}`;
  const got = describe(valueAt(input, issue.path));
  let expected = issue.message;
  if (issue.code === "invalid_value") expected = `one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
  else if (issue.code === "invalid_type") expected = /^[aeiou]/.test(issue.expected) ? `an ${issue.expected}` : `a ${issue.expected}`;
  else if (issue.code === "too_small")
    expected =
      issue.origin === "number"
        ? `a number ${issue.inclusive ? ">=" : ">"} ${issue.minimum}`
        : `at least ${issue.minimum} ${issue.origin === "string" ? "character(s)" : "item(s)"}`;
  else if (issue.code === "invalid_format" && issue.format === "url") expected = "an http(s) URL";
  else if (issue.code === "invalid_format" && issue.format === "regex") expected = issue.message;
  else if (issue.code === "too_big")
    expected = issue.origin === "number" || issue.origin === "int" ? `a number ${issue.inclusive ? "<=" : "<"} ${issue.maximum}` : `at most ${issue.maximum} item(s)`;
  else if (issue.code === "invalid_key") return `option "${path}" has a name that is not allowed; expected ${issue.issues[0]?.message ?? "another name"}`;
  return `option "${path}" is ${got}; expected ${expected}`;
}

export interface ConfigSources {
  options?: Record<string, unknown>;
  env?: Record<string, string | undefined>;
  /** Project directory: its `.env` is read. */
  directory?: string;
}

export function loadConfig({ options = {}, env = process.env, directory }: ConfigSources): Config {
  // opencode.json can hold anything after the plugin's name: a string, a list, null.
  if (!isPlainObject(options)) throw new ConfigError([`the plugin options are ${describe(options === null ? null : options)}; expected an object such as { "provider": "local" }`]);
  const dotenv = directory ? fromVariables(readDotenv(directory)) : {};
  // Numbers and booleans in variables arrive as strings; options from JSON keep their types.
  const input = merge(merge(dotenv, fromVariables(env)), options);
  const parsed = ConfigSchema.safeParse(input);
  if (!parsed.success) throw new ConfigError(parsed.error.issues.map((i) => problem(i, input)));
  return parsed.data;
}

export function resolveProvider(config: Config): ResolvedProvider {
  if (config.provider !== "auto") return config.provider;
  return config.daytona.apiKey ? "daytona" : "local";
}
