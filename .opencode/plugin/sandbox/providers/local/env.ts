/**
 * The environment of commands in the sandbox: built from scratch, never copied from
 * OpenCode's (which holds model API keys, DAYTONA_API_KEY, …). A few harmless host
 * values are taken by name (locale, terminal, time zone) when they look like values.
 */
import { SandboxError } from "../provider.js";
import { SANDBOX_HOME, SANDBOX_PATH, SANDBOX_USER } from "./constants.js";

const FROM_HOST = ["LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TERM", "TZ", "COLORTERM"];
const SAFE_VALUE = /^[A-Za-z0-9_.:/+@-]{1,64}$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {
    PATH: SANDBOX_PATH,
    HOME: SANDBOX_HOME,
    USER: SANDBOX_USER,
    LOGNAME: SANDBOX_USER,
    SHELL: "/bin/bash",
    TMPDIR: "/tmp",
    LANG: "C.UTF-8",
  };
  for (const name of FROM_HOST) {
    const value = process.env[name];
    if (value && SAFE_VALUE.test(value)) env[name] = value;
  }
  return env;
}

export function checkEnv(env: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env ?? {})) {
    if (!NAME.test(name) || typeof value !== "string" || value.includes("\0"))
      throw new SandboxError("bad_input", `Invalid environment variable for the sandbox: ${JSON.stringify(name)}`);
    out[name] = value;
  }
  return out;
}
