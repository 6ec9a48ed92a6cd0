/** `logs [--session S] [--follow]`: the plugin's log (the same file OpenCode's plugin writes), filtered by session. */
import { open, stat } from "node:fs/promises";
import { watch } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import { logPath } from "../core/paths.js";
import { CliError, out } from "./output.js";

/** Lines are `[time] [LEVEL] [session] message`; "-" when no session. */
const matches = (line: string, session: string | undefined) => !session || line.split("] [", 3)[2]?.startsWith(`${session}]`) === true;

/** Reads from byte `from` to the end; returns the lines complete so far and where the rest starts. */
async function readFrom(path: string, from: number): Promise<{ lines: string[]; next: number }> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    if (size <= from) return { lines: [], next: size < from ? 0 : from }; // shrunk: rotated, read the new file from its start
    const buffer = Buffer.alloc(size - from);
    await handle.read(buffer, 0, buffer.length, from);
    const text = buffer.toString("utf8");
    const end = text.lastIndexOf("\n") + 1;
    return { lines: text.slice(0, end).split("\n").slice(0, -1), next: from + Buffer.byteLength(text.slice(0, end)) };
  } finally {
    await handle.close();
  }
}

/** Prints what is appended until interrupted. Change events and a slow poll both wake it (watch misses some file systems' writes). */
async function follow(path: string, from: number, session: string | undefined): Promise<void> {
  let offset = from;
  let reading = Promise.resolve();
  const wake = () =>
    (reading = reading.then(async () => {
      const read = await readFrom(path, offset).catch(() => ({ lines: [], next: offset }));
      offset = read.next;
      for (const line of read.lines) if (matches(line, session)) out(line);
    }));
  const watcher = watch(path, wake);
  const timer = setInterval(wake, 1000);
  await new Promise<void>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => resolve());
  });
  clearInterval(timer);
  watcher.close();
}

export function logsCommand(): Command {
  return new Command("logs")
    .description("print the plugin's log ($XDG_DATA_HOME/opencode/log/daytona.log)")
    .option("-s, --session <id>", "only lines about this session")
    .option("-n, --lines <n>", "only the last n lines", (v) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError("a whole number");
      return Number(v);
    })
    .option("-f, --follow", "keep printing lines as they are written (Ctrl-C ends)")
    .action(async (opts: { session?: string; lines?: number; follow?: boolean }) => {
      const path = logPath();
      const exists = await stat(path).then(() => true, () => false);
      if (!exists) throw new CliError(`No log yet at ${path}: the plugin has not run on this machine (or XDG_DATA_HOME differs).`);
      const { lines, next } = await readFrom(path, 0);
      const shown = lines.filter((l) => matches(l, opts.session));
      for (const line of opts.lines === undefined ? shown : shown.slice(-opts.lines)) out(line);
      if (opts.follow) await follow(path, next, opts.session);
    });
}
