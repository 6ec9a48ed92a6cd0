/**
 * How the CLI speaks: results on stdout (one line per thing, or JSON with --json),
 * problems on stderr, and exit codes — 0 done, 1 failed (a check, a sync, a missing
 * session), 2 the command line itself was wrong.
 */
import { words, type Level, type Notice } from "../service/notices.js";

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** A failure the command already explained: main prints the message and exits with `code`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code: number = EXIT.failed,
  ) {
    super(message);
  }
}

const MARK: Record<Level, string> = { success: "✔", info: "·", warning: "!", error: "✘" };

export function mark(level: Level): string {
  return MARK[level];
}

export function out(line = ""): void {
  process.stdout.write(line + "\n");
}

export function err(line: string): void {
  process.stderr.write(line + "\n");
}

export function json(value: unknown): void {
  out(JSON.stringify(value, null, 2));
}

/** The service's notices in the words every face shares; returns the worst level told. */
export function renderNotices(notices: Notice[], write?: (line: string) => void): Level | undefined {
  let worst: Level | undefined;
  const order: Level[] = ["success", "info", "warning", "error"];
  for (const notice of notices.splice(0)) {
    const w = words(notice);
    if (!w) continue;
    (write ?? (w.level === "error" ? err : out))(`${mark(w.level)} ${w.text}`);
    if (!worst || order.indexOf(w.level) > order.indexOf(worst)) worst = w.level;
  }
  return worst;
}

/** A short commit id. */
export const short = (sha: string | undefined) => sha?.slice(0, 12);

/** A size for people: 1.5 GiB, 12.0 MiB, 512 B. */
export function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  for (; n >= 1024 && i < units.length - 1; i++) n /= 1024;
  return i ? `${n.toFixed(1)} ${units[i]}` : `${n} B`;
}
