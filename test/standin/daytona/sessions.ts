/**
 * `{toolbox}/{id}/process/session…` — like apps/daemon/pkg/session (v0.190): a session is
 * one long-lived shell (bash) in its own process group, reading commands from its stdin
 * (here a FIFO opened read-write, so it never sees EOF). Each command is written to a
 * file and sourced in that shell (`cd` and `export` carry over to the next command;
 * commands of one session run one after another), with stdout/stderr labelled line by
 * line (\x01\x01\x01 / \x02\x02\x02 prefixes) into one log and the exit code written to
 * a file only after both labellers saw EOF — so `server &` without redirections leaves
 * its command without an exit code while the server runs, as on Daytona.
 * As there, a command is sourced, not run in a subshell: `exit N` ends the session's
 * shell and the command never gets an exit code.
 * Sync execute polls the exit-code file (50 ms); runAsync answers 202 `{cmdId}` at once.
 * Delete: SIGTERM to the session's process group, SIGKILL after 5 s, log dir removed.
 * Output shapes depend on the X-Daytona-SDK-Version header exactly as the daemon decides
 * (combined text below 0.27, server-side demux from 0.167: JSON with `output` — the raw
 * labelled log — plus `stdout` and `stderr`).
 *
 * The command runs with stdin from /dev/null (sendInput and the async stdin holder are
 * not emulated), and WebSocket log following is not served.
 */
import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Sandbox } from "../../../.opencode/plugin/sandbox/providers/provider.js";
import { daemonError, json, readJson, sleep, type Reply } from "./http.js";

const ROOT = "/tmp/.daytona-standin/sessions";
const OUT = "\x01\x01\x01";
const ERR = "\x02\x02\x02";
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

interface SessionCommand {
  id: string;
  command: string;
  exitCode?: number;
}

interface Session {
  id: string;
  dir: string;
  commands: Map<string, SessionCommand>;
  /** Writes into the shell's FIFO, one at a time. */
  queue: Promise<unknown>;
  ended: boolean;
}

function version(req: IncomingMessage): number[] | undefined {
  const raw = req.headers["x-daytona-sdk-version"];
  const v = Array.isArray(raw) ? raw[0] : raw;
  if (!v) return undefined;
  return v.split(/[.-]/).slice(0, 3).map((n) => Number(n) || 0);
}
const below = (v: number[], ref: number[]) => {
  for (let i = 0; i < 3; i++) if ((v[i] ?? 0) !== ref[i]) return (v[i] ?? 0) < ref[i]!;
  return false;
};

/** The daemon's DemuxLogBytes. */
export function demux(log: string): { stdout: string; stderr: string } {
  let stdout = "";
  let stderr = "";
  let pos = 0;
  const next = (from: number) => {
    const a = log.indexOf(OUT, from);
    const b = log.indexOf(ERR, from);
    const m = Math.min(a < 0 ? Infinity : a, b < 0 ? Infinity : b);
    return m === Infinity ? log.length : m;
  };
  while (pos < log.length) {
    if (log.startsWith(OUT, pos) || log.startsWith(ERR, pos)) {
      const end = next(pos + 3);
      if (log.startsWith(OUT, pos)) stdout += log.slice(pos + 3, end);
      else stderr += log.slice(pos + 3, end);
      pos = end;
    } else pos++;
  }
  return { stdout, stderr };
}

export class Sessions {
  private readonly bySandbox = new Map<string, Map<string, Session>>();
  private counter = 0;

  /** The sandbox's boot ended (stop, delete): its sessions are gone with their processes. */
  forget(sandboxId: string): void {
    for (const s of this.bySandbox.get(sandboxId)?.values() ?? []) s.ended = true;
    this.bySandbox.delete(sandboxId);
  }

  private of(sandboxId: string) {
    let m = this.bySandbox.get(sandboxId);
    if (!m) this.bySandbox.set(sandboxId, (m = new Map()));
    return m;
  }

  /** `rest` is the path after `/process/session`, split. */
  async handle(sandboxId: string, local: Sandbox, workDir: string, method: string, rest: string[], req: IncomingMessage, path: string): Promise<Reply> {
    const sessions = this.of(sandboxId);
    const notFound = (what: string) => daemonError(404, "NOT_FOUND", `not found: ${what} not found`, path, method);
    const v = version(req);
    const combined = v ? below(v, [0, 27, 0]) : req.headers["x-daytona-split-output"] !== "true";
    const serverDemux = !!v && !below(v, [0, 167, 0]);

    if (rest.length === 0 && method === "POST") {
      const body = await readJson<{ sessionId?: unknown }>(req);
      if (!body || typeof body.sessionId !== "string" || !body.sessionId)
        return daemonError(400, "INVALID_REQUEST_BODY", "sessionId is required", path, method);
      if (sessions.has(body.sessionId)) return daemonError(409, "CONFLICT", "session already exists", path, method);
      const session: Session = { id: body.sessionId, dir: `${ROOT}/s${++this.counter}`, commands: new Map(), queue: Promise.resolve(), ended: false };
      sessions.set(session.id, session);
      const d = q(session.dir);
      const shell = "$( [ -x /bin/bash ] && echo /bin/bash || echo /bin/sh )";
      const r = await local.exec(
        `set -e; mkdir -p ${d}; rm -f ${d}/in ${d}/pid; mkfifo ${d}/in; sh=${shell}; ` +
          `setsid "$sh" -c 'echo $$ > "$1/pid"; exec "$0" <>"$1/in" >/dev/null 2>&1' "$sh" ${d} </dev/null >/dev/null 2>&1 & ` +
          `i=0; while [ ! -s ${d}/pid ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i+1)); done; cat ${d}/pid`,
        { cwd: workDir },
      );
      if (r.exitCode !== 0) {
        sessions.delete(session.id);
        return daemonError(400, "BAD_REQUEST", `failed to start session shell: ${r.output}`, path, method);
      }
      return { status: 201 };
    }
    if (rest.length === 0 && method === "GET") return json(200, await Promise.all([...sessions.values()].map((s) => this.dto(local, s))));

    const session = sessions.get(rest[0]!);
    if (rest[0] === "entrypoint") return notFound("session");
    if (!session) return notFound("session");

    if (rest.length === 1 && method === "GET") return json(200, await this.dto(local, session));
    if (rest.length === 1 && method === "DELETE") {
      sessions.delete(session.id);
      session.ended = true;
      const d = q(session.dir);
      await local.exec(
        // dash's kill takes no "--": "-<pgid>" addresses the process group.
        `p=$(cat ${d}/pid 2>/dev/null) || exit 0; kill -TERM -"$p" 2>/dev/null; i=0; ` +
          `while kill -0 -"$p" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; kill -KILL -"$p" 2>/dev/null; rm -rf ${d}; true`,
      );
      return { status: 204 };
    }
    if (rest.length === 2 && rest[1] === "exec" && method === "POST") {
      const body = await readJson<{ command?: unknown; runAsync?: unknown; async?: unknown }>(req);
      if (!body || typeof body.command !== "string" || !body.command.trim())
        return daemonError(400, "BAD_REQUEST", "command cannot be empty", path, method);
      const runAsync = body.runAsync === true || body.async === true;
      const cmd: SessionCommand = { id: randomUUID(), command: body.command };
      session.commands.set(cmd.id, cmd);
      const dir = `${session.dir}/${cmd.id}`;
      await local.writeFile(`${dir}/cmd.sh`, body.command);
      const wrapper = this.wrapper(dir);
      session.queue = session.queue.then(() => local.exec(`cat > ${q(session.dir)}/in`, { stdin: wrapper }));
      await session.queue;
      if (runAsync) return json(202, { cmdId: cmd.id });
      for (;;) {
        if (session.ended) return daemonError(400, "BAD_REQUEST", "session cancelled", path, method);
        const code = await this.exitCode(local, session, cmd);
        if (code !== undefined) break;
        await sleep(50);
      }
      const log = await this.log(local, dir);
      if (combined) return json(200, { cmdId: cmd.id, output: log.replaceAll(OUT, "").replaceAll(ERR, ""), exitCode: cmd.exitCode });
      return json(200, { cmdId: cmd.id, output: log, exitCode: cmd.exitCode, ...(serverDemux ? demux(log) : {}) });
    }
    if (rest[1] === "command" && rest[2]) {
      const cmd = session.commands.get(rest[2]);
      if (!cmd) return notFound("command");
      if (rest.length === 3 && method === "GET") {
        await this.exitCode(local, session, cmd);
        return json(200, { id: cmd.id, command: cmd.command, ...(cmd.exitCode !== undefined ? { exitCode: cmd.exitCode } : {}) });
      }
      if (rest.length === 4 && rest[3] === "logs" && method === "GET") {
        let log: string;
        try {
          log = await this.log(local, `${session.dir}/${cmd.id}`);
        } catch {
          return notFound("log file");
        }
        if (serverDemux && !combined) return json(200, { output: log, ...demux(log) });
        const text = combined ? log.replaceAll(OUT, "").replaceAll(ERR, "") : log;
        return { status: 200, headers: { "content-type": "text/plain; charset=utf-8" }, body: text };
      }
    }
    return { status: 404, headers: { "content-type": "text/plain" }, body: "404 page not found" };
  }

  private async exitCode(local: Sandbox, session: Session, cmd: SessionCommand): Promise<number | undefined> {
    if (cmd.exitCode !== undefined) return cmd.exitCode;
    try {
      const raw = Buffer.from(await local.readFile(`${session.dir}/${cmd.id}/exit_code`)).toString("utf8").trim();
      if (raw !== "" && Number.isInteger(Number(raw))) cmd.exitCode = Number(raw);
    } catch {
      // not written yet
    }
    return cmd.exitCode;
  }

  private async log(local: Sandbox, dir: string): Promise<string> {
    return Buffer.from(await local.readFile(`${dir}/output.log`)).toString("utf8");
  }

  private async dto(local: Sandbox, s: Session) {
    const commands = [];
    for (const c of s.commands.values()) {
      await this.exitCode(local, s, c);
      commands.push({ id: c.id, command: c.command, ...(c.exitCode !== undefined ? { exitCode: c.exitCode } : {}) });
    }
    return { sessionId: s.id, commands };
  }

  /** Written into the session shell: runs the command file with labelled output, then records the exit code. */
  private wrapper(dir: string): string {
    const d = q(dir);
    const label = (prefix: string, fifo: string) =>
      `( while IFS= read -r _sl || [ -n "$_sl" ]; do printf '${prefix}%s\\n' "$_sl"; done < ${d}/${fifo} ) >> ${d}/output.log 2>/dev/null &`;
    return [
      "{",
      `: > ${d}/output.log; rm -f ${d}/o ${d}/e; mkfifo ${d}/o ${d}/e`,
      label("\\001\\001\\001", "o"),
      "_sr1=$!",
      label("\\002\\002\\002", "e"),
      "_sr2=$!",
      `{ . ${d}/cmd.sh; } < /dev/null > ${d}/o 2> ${d}/e`,
      "_sec=$?",
      'wait "$_sr1" "$_sr2"',
      `echo "$_sec" > ${d}/exit_code.tmp && mv ${d}/exit_code.tmp ${d}/exit_code`,
      `rm -f ${d}/o ${d}/e`,
      "}",
      "",
    ].join("\n");
  }
}
