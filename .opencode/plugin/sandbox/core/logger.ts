/**
 * daytona.log: `[ISO time] [LEVEL] [session] message`. Writes are queued and never
 * awaited by callers; the file rotates at a size bound; registered secrets are
 * replaced before anything reaches the disk.
 */
import { appendFile, mkdir, rename, stat } from "node:fs/promises";
import { dirname } from "node:path";

export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export interface Logger {
  debug(message: string, session?: string): void;
  info(message: string, session?: string): void;
  warn(message: string, session?: string): void;
  error(message: string, session?: string): void;
  /** Never write this value (an API key, a preview token) to the log. */
  addSecret(value: string | undefined): void;
  /** Resolves once everything logged so far is on disk. */
  flush(): Promise<void>;
}

const MIN_SECRET_LENGTH = 6;
// Token shapes that must not be logged even when nobody registered them.
const TOKEN_PATTERNS = [/\bdtn_[A-Za-z0-9_-]{8,}/g, /(authorization:\s*bearer\s+)[^\s"']+/gi, /(x-daytona-preview-token[=:]\s*)[^\s&"']+/gi];

export interface FileLoggerOptions {
  path: string;
  level?: LogLevel;
  maxBytes?: number;
}

export class FileLogger implements Logger {
  private readonly secrets = new Set<string>();
  private queue: Promise<void> = Promise.resolve();
  private written = -1;
  private readonly maxBytes: number;
  level: LogLevel;

  constructor(private readonly options: FileLoggerOptions) {
    this.level = options.level ?? "info";
    this.maxBytes = options.maxBytes ?? 5 * 1024 * 1024;
  }

  addSecret(value: string | undefined) {
    if (value && value.length >= MIN_SECRET_LENGTH) this.secrets.add(value);
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join("[REDACTED]");
    for (const pattern of TOKEN_PATTERNS)
      out = out.replace(pattern, (match, prefix?: string) =>
        typeof prefix === "string" && match.startsWith(prefix) ? `${prefix}[REDACTED]` : "[REDACTED]",
      );
    return out;
  }

  debug(m: string, s?: string) { this.write("debug", m, s); }
  info(m: string, s?: string) { this.write("info", m, s); }
  warn(m: string, s?: string) { this.write("warn", m, s); }
  error(m: string, s?: string) { this.write("error", m, s); }

  flush() {
    return this.queue;
  }

  private write(level: LogLevel, message: string, session?: string) {
    if (ORDER[level] < ORDER[this.level]) return;
    const line = this.redact(`[${new Date().toISOString()}] [${level.toUpperCase()}] [${session ?? "-"}] ${message}`) + "\n";
    this.queue = this.queue.then(() => this.append(line)).catch(() => {});
  }

  private async append(line: string) {
    const { path } = this.options;
    if (this.written < 0) {
      await mkdir(dirname(path), { recursive: true });
      this.written = await stat(path).then((s) => s.size, () => 0);
    }
    if (this.written + line.length > this.maxBytes) {
      await rename(path, `${path}.1`).catch(() => {});
      this.written = 0;
    }
    await appendFile(path, line);
    this.written += Buffer.byteLength(line);
  }
}

/** For code paths that run before a logger exists, and for tests. */
export const silentLogger: Logger = {
  debug() {}, info() {}, warn() {}, error() {}, addSecret() {}, flush: async () => {},
};
