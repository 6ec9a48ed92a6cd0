/**
 * The resident agent: runs INSIDE the sandbox as the sandbox's user (node or Bun,
 * whichever runtime the provider found), listens on a unix socket in the bound run
 * directory (which the host then moves out of the sandbox's reach: socket.ts) and
 * serves exec / file / port-forward requests. File operations happen
 * here, inside the sandbox's mount namespace, so a symlink the sandbox made can
 * never resolve to a host file and there is no check-then-open race on the host.
 *
 * Kept as a string so the package needs no asset copying; written to disk at start.
 * Plain JavaScript (CommonJS: node starts it ~10 ms faster than ESM), node:
 * builtins only — it must run under node and Bun.
 *
 * Frames (both directions): [type: 1 byte][length: u32 BE][payload]. Types:
 *   H hello (agent → host, JSON, sent first: the host speaks only after it)
 *   Q request (JSON)   D data   E end of data   K kill (exec)
 *   O output (exec)    X result (JSON)          R error (JSON {code, message})
 */
export const AGENT_PROTOCOL_VERSION = 1;
export const AGENT_MAGIC = "opencode-sandbox-agent";

export const AGENT_SOURCE = String.raw`
"use strict";
const net = require("node:net");
const fs = require("node:fs");
const fsp = require("node:fs/promises");
const path = require("node:path");
const { spawn } = require("node:child_process");
const { randomBytes, createHash } = require("node:crypto");

const SOCKET = process.argv[2];
// Under Bun the agent makes itself non-dumpable (prctl PR_SET_DUMPABLE, 0): the commands,
// its children with its uid, then cannot open its /proc/<pid>/mem or fds, nor trace it.
// Before it listens, so before any command. Node cannot call prctl: there the seccomp
// filter's refusals (ptrace, process_vm_*, pidfd_getfd) are what keep commands out of it.
if (process.versions.bun) {
  try {
    const { dlopen } = require("bun:ffi");
    for (const lib of ["libc.so.6", "libc.musl-" + (process.arch === "arm64" ? "aarch64" : "x86_64") + ".so.1"]) {
      try { dlopen(lib, { prctl: { args: ["i32", "u64", "u64", "u64", "u64"], returns: "i32" } }).symbols.prctl(4, 0, 0, 0, 0); break; } catch {}
    }
  } catch {}
}
// Commands like "pkill node" / "killall node" (to stop a dev server) must not take the
// sandbox down with its agent: another name, and polite signals are ignored.
try { process.title = "sandbox-agent"; } catch {}
for (const sig of ["SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2"]) { try { process.on(sig, () => {}); } catch {} }
const CHUNK = 1 << 20;
process.umask(0o022);

function frame(type, payload) {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload ?? Buffer.alloc(0);
  const head = Buffer.allocUnsafe(5);
  head.write(type, 0, "latin1");
  head.writeUInt32BE(body.length, 1);
  return [head, body];
}
function send(sock, type, payload) {
  if (sock.destroyed) return true;
  const [head, body] = frame(type, payload);
  sock.write(head);
  return body.length ? sock.write(body) : true;
}
const json = (sock, type, value) => send(sock, type, JSON.stringify(value));
const fail = (sock, err) => json(sock, "R", { code: err && err.code ? err.code : "EIO", message: String(err && err.message ? err.message : err) });

// Incremental frame reader over a chunk queue (no quadratic concat for big files).
class Reader {
  constructor(onFrame) { this.chunks = []; this.len = 0; this.onFrame = onFrame; this.raw = false; }
  push(buf) {
    this.chunks.push(buf); this.len += buf.length;
    while (!this.raw && this.len >= 5) {
      const head = this.peek(5);
      const size = head.readUInt32BE(1);
      if (this.len < 5 + size) return;
      this.take(5);
      this.onFrame(String.fromCharCode(head[0]), size ? this.take(size) : Buffer.alloc(0));
    }
  }
  peek(n) { return this.chunks[0].length >= n ? this.chunks[0].subarray(0, n) : Buffer.concat(this.chunks).subarray(0, n); }
  take(n) {
    if (this.chunks[0].length === n) { this.len -= n; return this.chunks.shift(); }
    if (this.chunks[0].length > n) { const c = this.chunks[0]; this.chunks[0] = c.subarray(n); this.len -= n; return c.subarray(0, n); }
    const all = Buffer.concat(this.chunks); this.chunks = all.length > n ? [all.subarray(n)] : []; this.len -= n; return all.subarray(0, n);
  }
  rest() { const all = Buffer.concat(this.chunks); this.chunks = []; this.len = 0; return all; }
}

function fileType(s) {
  return s.isSymbolicLink() ? "symlink" : s.isDirectory() ? "directory" : s.isFile() ? "file" : "other";
}

function handle(sock) {
  let state = null; // per-connection state of the running request
  const reader = new Reader((type, body) => {
    try {
      if (type === "Q" && !state) {
        const req = JSON.parse(body.toString("utf8"));
        state = { req };
        start(sock, state, reader);
      } else if (state && state.onFrame) state.onFrame(type, body);
    } catch (err) { fail(sock, err); sock.end(); }
  });
  sock.on("data", (buf) => reader.push(buf));
  sock.on("error", () => {});
  sock.on("close", () => { if (state && state.onClose) state.onClose(); });
  json(sock, "H", { magic: "${AGENT_MAGIC}", version: ${AGENT_PROTOCOL_VERSION}, pid: process.pid, uid: process.getuid() });
}

function start(sock, st, reader) {
  const req = st.req;
  switch (req.op) {
    case "ping": json(sock, "X", { pid: process.pid, uid: process.getuid() }); return;
    case "exec": return execOp(sock, st, req);
    case "read": return readOp(sock, st, req);
    case "write": return writeOp(sock, st, req);
    case "stat":
      fsp.lstat(req.path).then(
        (s) => json(sock, "X", { stat: { type: fileType(s), size: s.size, mtimeMs: s.mtimeMs } }),
        (err) => (err.code === "ENOENT" ? json(sock, "X", { stat: null }) : fail(sock, err)),
      );
      return;
    case "readdir":
      fsp.readdir(req.path, { withFileTypes: true }).then(
        (list) => json(sock, "X", { entries: list.map((e) => ({ name: e.name, type: fileType(e) })) }),
        (err) => fail(sock, err),
      );
      return;
    case "forward": return forwardOp(sock, st, req, reader);
    case "shutdown":
      json(sock, "X", {});
      // Every process of this sandbox's user in its pid namespace (init is exempt), then us:
      // bwrap's init follows its only child out and the namespace goes with it.
      setTimeout(() => { try { process.kill(-1, "SIGKILL"); } catch {} process.exit(0); }, 5);
      return;
    default: fail(sock, { code: "EINVAL", message: "unknown op " + req.op });
  }
}

function execOp(sock, st, req) {
  let child;
  try {
    child = spawn("/bin/sh", ["-c", req.cmd], { cwd: req.cwd, env: req.env, detached: true, stdio: ["pipe", "pipe", "pipe"] });
  } catch (err) { fail(sock, err); return; }
  let done = false, timedOut = false, aborted = false, timer;
  const killGroup = () => { try { process.kill(-child.pid, "SIGKILL"); } catch {} try { child.kill("SIGKILL"); } catch {} };
  // The command, not the agent, is what the OOM killer should pick first.
  if (child.pid) fs.writeFile("/proc/" + child.pid + "/oom_score_adj", "500", () => {});
  let received = 0;
  const out = (buf) => { received += buf.length; if (!done) send(sock, "O", buf); };
  child.stdout.on("data", out);
  child.stderr.on("data", out);
  child.stdin.on("error", () => {});
  let open = 2;
  const closed = () => { open--; };
  child.stdout.on("close", closed);
  child.stderr.on("close", closed);
  if (req.timeoutMs > 0) timer = setTimeout(() => { timedOut = true; killGroup(); }, req.timeoutMs);
  st.onFrame = (type, body) => {
    if (type === "D") child.stdin.write(body);
    else if (type === "E") child.stdin.end();
    else if (type === "K") { aborted = true; killGroup(); }
  };
  st.onClose = () => { if (!done) { aborted = true; killGroup(); } };
  child.on("error", (err) => {
    if (done) return;
    done = true; clearTimeout(timer); fail(sock, err);
  });
  child.on("exit", (code, signal) => {
    clearTimeout(timer);
    const finish = () => {
      if (done) return;
      done = true;
      const killed = timedOut || aborted;
      const exitCode = killed ? null : code ?? (signal ? 128 + (({ SIGKILL: 9, SIGTERM: 15, SIGINT: 2, SIGSEGV: 11, SIGABRT: 6, SIGPIPE: 13, SIGHUP: 1 })[signal] ?? 1) : 1);
      json(sock, "X", { exitCode, timedOut, aborted });
      // The host closes the connection: ending it here could make the host's late writes (stdin, kill) fail with EPIPE before it has read the result.
      // Keep draining what background jobs print so they never see EPIPE.
      child.stdout.resume(); child.stderr.resume();
    };
    // What the command wrote before it exited is in the pipes until a poll phase reads
    // it: finish once a whole event-loop turn (check phase to check phase, so a poll
    // phase lies between) brought no new bytes — counted in turns, not milliseconds, so
    // a slow or loaded machine loses nothing. A background job that keeps writing only
    // delays the result up to the cap.
    const cap = Date.now() + 250;
    let seen = -1;
    const wait = () => {
      if (open <= 0 || received === seen || Date.now() >= cap) return finish();
      seen = received;
      setImmediate(wait);
    };
    setImmediate(wait);
  });
}

// Only regular files are read: a FIFO with no writer would hold the request until the
// host's deadline (so it is opened without blocking), a device never ends.
const SPECIAL = [["isFIFO", "a FIFO"], ["isCharacterDevice", "a character device"], ["isBlockDevice", "a block device"], ["isSocket", "a socket"]];

function readOp(sock, st, req) {
  let gone = false;
  st.onClose = () => { gone = true; };
  fs.open(req.path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY, (err, fd) => {
    if (err) return fail(sock, err);
    fs.fstat(fd, (err2, s) => {
      if (err2 || gone || !s.isFile()) {
        fs.close(fd, () => {});
        if (err2) return fail(sock, err2);
        if (gone) return;
        if (s.isDirectory()) return fail(sock, Object.assign(new Error("is a directory"), { code: "EISDIR" }));
        const kind = SPECIAL.find(([test]) => s[test]());
        return fail(sock, Object.assign(new Error(kind ? kind[1] : "not a regular file"), { code: "ENOTREG" }));
      }
      // Refused from its size, before a byte moves (the host would stop it at the cap anyway).
      if (typeof req.max === "number" && s.size > req.max) {
        fs.close(fd, () => {});
        return fail(sock, Object.assign(new Error("larger than " + req.max + " bytes"), { code: "EFBIG" }));
      }
      const stream = fs.createReadStream(req.path, { fd, highWaterMark: CHUNK });
      stream.on("data", (buf) => { if (!send(sock, "D", buf)) { stream.pause(); sock.once("drain", () => stream.resume()); } });
      stream.on("error", (e) => { fail(sock, e); });
      stream.on("end", () => { json(sock, "X", {}); });
      st.onClose = () => stream.destroy();
    });
  });
}

function writeOp(sock, st, req) {
  const target = req.path;
  const tmp = path.join(path.dirname(target), "." + path.basename(target) + ".ocsb-" + randomBytes(6).toString("hex"));
  let fh = null, chain = Promise.resolve(), failed = null, finished = false;
  const opened = fsp.mkdir(path.dirname(target), { recursive: true })
    .then(() => fsp.open(tmp, "wx", 0o644))
    .then((h) => { fh = h; });
  chain = opened.catch((e) => { failed = e; });
  const cleanup = () => { if (fh) fh.close().catch(() => {}); fsp.unlink(tmp).catch(() => {}); };
  st.onFrame = (type, body) => {
    if (type === "D") {
      sock.pause();
      chain = chain.then(async () => { if (!failed) await fh.write(body); }).catch((e) => { failed = e; }).finally(() => sock.resume());
    } else if (type === "E") {
      finished = true;
      chain = chain.then(async () => {
        if (failed) throw failed;
        // Keep the mode of a file being replaced (scripts stay executable).
        const prev = await fsp.stat(target).catch(() => null);
        if (prev && prev.isDirectory()) throw Object.assign(new Error("Is a directory"), { code: "EISDIR" });
        // Reading a FIFO for the compare below would wait for a writer that never comes.
        if (prev && !prev.isFile()) {
          const kind = SPECIAL.find(([test]) => prev[test]());
          throw Object.assign(new Error(kind ? kind[1] : "not a regular file"), { code: "ENOTREG" });
        }
        // A compare-and-swap write: only over the content the host expects ("absent": nothing there).
        if (req.expect) {
          const now = prev ? createHash("sha256").update(await fsp.readFile(target)).digest("hex") : "absent";
          if (now !== req.expect) throw Object.assign(new Error("changed since it was read"), { code: "ECHANGED" });
        }
        if (prev) await fh.chmod(prev.mode & 0o7777).catch(() => {});
        await fh.close(); fh = null;
        await fsp.rename(tmp, target);
        json(sock, "X", {});
      }).catch((e) => { cleanup(); fail(sock, e); });
    }
  };
  st.onClose = () => { if (!finished) chain.then(cleanup); };
}

function forwardOp(sock, st, req, reader) {
  const tryConnect = (hosts) => {
    const host = hosts[0];
    const tcp = net.connect({ host, port: req.port });
    tcp.once("connect", () => {
      tcp.removeAllListeners("error");
      json(sock, "X", { host });
      reader.raw = true;
      const rest = reader.rest();
      if (rest.length) tcp.write(rest);
      sock.removeAllListeners("data");
      sock.pipe(tcp); tcp.pipe(sock);
      tcp.on("error", () => sock.destroy());
      sock.on("error", () => tcp.destroy());
      sock.on("close", () => tcp.destroy());
    });
    tcp.once("error", (err) => (hosts.length > 1 ? tryConnect(hosts.slice(1)) : (fail(sock, err))));
  };
  tryConnect(["127.0.0.1", "::1"]);
}

try { fs.unlinkSync(SOCKET); } catch {}
// The host stops reading stdout and stderr once it has seen "ready" (a command could
// write into them): nothing is written there afterwards, and a closed pipe is no error.
let quiet = false;
for (const s of [process.stdout, process.stderr]) s.on("error", () => {});
const server = net.createServer(handle);
server.on("error", (err) => { if (!quiet) process.stderr.write("agent: " + err.message + "\n"); process.exit(70); });
// Network "allowlist": the sandbox's only way out is the host's proxy on a unix socket;
// HTTP clients want a TCP proxy, so 127.0.0.1:<port> here forwards to it (argv[3] "<port>:<socket>").
function egressForwarder(spec, then) {
  if (!spec) return then();
  const at = spec.indexOf(":");
  const fwd = net.createServer((c) => {
    const up = net.connect(spec.slice(at + 1));
    const end = () => { c.destroy(); up.destroy(); };
    for (const s of [c, up]) { s.on("error", end); s.on("close", end); }
    c.pipe(up); up.pipe(c);
  });
  fwd.on("error", (err) => { if (!quiet) process.stderr.write("agent: egress forwarder: " + err.message + "\n"); process.exit(71); });
  fwd.listen(Number(spec.slice(0, at)), "127.0.0.1", then);
}
egressForwarder(process.argv[3], () => server.listen(SOCKET, () => { process.stdout.write("ready " + process.pid + "\n"); quiet = true; }));
process.on("uncaughtException", (err) => { if (!quiet) process.stderr.write("agent: uncaught " + (err && err.stack || err) + "\n"); });
`;
