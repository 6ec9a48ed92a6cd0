/**
 * What a test needs from the machine (a command, root, a working bubblewrap). Under
 * CI=true a missing prerequisite fails, naming it — CI installs everything, so a
 * missing one is a broken set-up, never a reason to pass. Elsewhere the tests are
 * skipped with the reason in their name and on stderr.
 */
import { execFileSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { it } from "vitest";

const inCI = () => process.env.CI === "true";

/** The reason `command` cannot be run, or undefined when it is on PATH. */
export function missingCommand(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter).filter(Boolean)) {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return undefined;
    } catch {
      // next
    }
  }
  return `\`${command}\` is not on PATH`;
}

export function missingRoot(): string | undefined {
  return process.getuid?.() === 0 ? undefined : "needs root (runs as uid " + process.getuid?.() + ")";
}

/** Whether bubblewrap can make the namespaces the sandbox uses here. */
export function missingBwrap(): string | undefined {
  const missing = missingCommand("bwrap");
  if (missing) return missing;
  try {
    execFileSync("bwrap", ["--dev-bind", "/", "/", "--unshare-net", "true"], { stdio: "pipe" });
    return undefined;
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? "").trim();
    return `bubblewrap cannot create namespaces here${stderr ? `: ${stderr}` : ""}`;
  }
}

/**
 * Call inside a `describe` before its tests: when something is missing, registers one
 * test that fails (CI) or is skipped with the reason (elsewhere), and returns true —
 * the caller then registers nothing else.
 */
export function lacks(...reasons: (string | undefined)[]): boolean {
  const missing = reasons.filter((r): r is string => !!r).join("; ");
  if (!missing) return false;
  if (inCI())
    it(`prerequisite: ${missing}`, () => {
      throw new Error(`Missing prerequisite under CI=true (CI never skips): ${missing}`);
    });
  else {
    console.warn(`skipped: ${missing}`);
    it.skip(`skipped: ${missing}`, () => {});
  }
  return true;
}
