/**
 * Which TCP ports listen in the sandbox, reported by the same command that runs a
 * `bash` call (no extra request): shell added before and after the user's command
 * reads /proc/net/tcp{,6} and prints one marker line tagged with a per-call random
 * nonce. The command's own output cannot forge it — it never learns the nonce — and
 * the marker is cut out of what the model and the user see.
 */
import { randomBytes } from "node:crypto";
import { shq } from "./shared.js";

/** How long a call that left processes running waits for one of them to listen (a server starting). */
export const PORT_WAIT_MS = 5000;

/** What one call saw: ports listening before the user's command ran, and after it. */
export interface PortReport {
  before: number[];
  after: number[];
}

// Shell functions. awk reads /proc in one go (a shell's read takes a byte per system call; cat,
// unlike awk, goes on past a process that ended meanwhile);
// the loops without it are the fallback for sandboxes that lack awk.
//  ocs_ports: L = listening ports (hex) of tcp and tcp6.
//  ocs_now:   N = uptime in hundredths of a second (no leading zero: it would read as octal).
//  ocs_sid:   X = session of process $1.
//  ocs_alive: a process of session W_SID still runs that is not this shell, its child or its ancestor.
//  ocs_scan:  both of the above (L, and A=1 when alive) in one pass: the common case costs one pipeline.
//             Its own cat and awk are grandchildren of this shell (through the command substitution).
//  ocs_new:   L holds a port OCS_BEFORE does not.
const FUNCTIONS = `ocs_ports() { L=; for f in /proc/net/tcp /proc/net/tcp6; do [ -r "$f" ] || continue; while read -r _ a _ s _; do [ "$s" = 0A ] && L="\${L:+$L }\${a##*:}"; done < "$f"; done; }
ocs_now() { read -r u _ < /proc/uptime; N=\${u%.*}\${u#*.}; while [ "\${N#0}" != "$N" ] && [ -n "\${N#0}" ]; do N=\${N#0}; done; }
ocs_sid() { X=; read -r st 2>/dev/null < "/proc/$1/stat" || return 1; st=\${st##*) }; set -- $st; X=$4; }
ocs_alive() { [ -n "$W_SID" ] || return 1; for d in /proc/[0-9]*; do read -r st 2>/dev/null < "$d/stat" || continue; st=\${st##*) }; set -- $st; [ "$4" = "$W_SID" ] || continue; [ "$2" = "$$" ] && continue; case " $OCS_MINE " in *" \${d#/proc/} "*) continue;; esac; return 0; done; return 1; }
if command -v awk >/dev/null 2>&1; then
ocs_ports() { L=$(awk '$4 == "0A" { sub(/.*:/, "", $2); printf "%s%s", s, $2; s = " " }' /proc/net/tcp /proc/net/tcp6 2>/dev/null); }
ocs_alive() { [ -n "$W_SID" ] || return 1; cat /proc/[0-9]*/stat 2>/dev/null | awk -v sid="$W_SID" -v me="$$" -v mine=" $OCS_MINE " '{ p = $1; s = $0; sub(/.*\\) /, "", s); split(s, a, " "); if (a[4] == sid && a[2] != me && index(mine, " " p " ") == 0) { found = 1; exit } } END { exit !found }'; }
fi
ocs_scan() { ocs_ports; A=; ocs_alive && A=1; }
if command -v awk >/dev/null 2>&1; then
ocs_scan() { S=$(cat /proc/net/tcp /proc/net/tcp6 /proc/[0-9]*/stat 2>/dev/null | awk -v sid="$W_SID" -v me="$$" -v mine=" $OCS_MINE " '$1 ~ /^[0-9]+:$/ { if ($4 == "0A") { sub(/.*:/, "", $2); l = l s $2; s = " " } next } $1 ~ /^[0-9]+$/ { t = $0; sub(/.*\\) /, "", t); split(t, f, " "); up[$1] = f[2]; if (f[4] == sid && index(mine, " " $1 " ") == 0) c[$1] = f[2] } END { for (p in c) if (c[p] != me && up[c[p]] != me) { a = 1; break } print l "|" a }'); L=\${S%|*}; A=\${S##*|}; }
fi
ocs_new() { for x in $L; do case " $OCS_BEFORE " in *" $x "*) ;; *) return 0;; esac; done; return 1; }`;

export interface PortProbe {
  readonly nonce: string;
  /** Runs first: notes the ports listening before the command (unless told them), and when it started. */
  prelude(): string;
  /**
   * Runs after the command (its exit code in $r): when processes it started still run and no
   * new port listens yet, waits for one (bounded by PORT_WAIT_MS and by `limitMs` since the
   * prelude), then prints the marker.
   */
  epilogue(limitMs: number): string;
  /** For a process started apart (background mode): the prelude it runs before the user's command. */
  backgroundPrelude(): string;
  /** The command that waits for that process's port, as epilogue() does, and prints the marker. */
  backgroundWatch(): string;
  /** The output without the marker, and the report when the marker was there. */
  parse(output: string): { output: string; report?: PortReport };
  /** Streamed output to show while the command runs: no marker, not even a part of one. */
  visible(output: string): string;
}

const hexPorts = (text: string) => [...new Set(text.split(/\s+/).filter(Boolean).map((h) => parseInt(h, 16)))].filter((p) => p > 0).sort((a, b) => a - b);

const hex = (port: number) => port.toString(16).toUpperCase().padStart(4, "0");

export interface PortProbeOptions {
  nonce?: string;
  /** The ports the last report of this sandbox saw: then the command needs no look of its own before it runs. */
  known?: number[];
}

export function portProbe({ nonce = randomBytes(12).toString("hex"), known }: PortProbeOptions = {}): PortProbe {
  const tag = `__ocs_ports_${nonce}__`;
  const head = `\n${tag} `;
  const state = `/tmp/.opencode-ports/${nonce}`;
  const wait = (limit: string) => `OCS_MINE=" $$ "; p=$$
while read -r st 2>/dev/null < "/proc/$p/stat"; do st=\${st##*) }; set -- $st; p=$2; [ "$p" -gt 1 ] 2>/dev/null || break; OCS_MINE="$OCS_MINE $p"; done
ocs_scan
if ! ocs_new && [ -n "$A" ]; then
  ocs_now; e=$((N + ${Math.ceil(PORT_WAIT_MS / 10)})); ${limit}
  while [ "$N" -lt "$e" ]; do sleep 0.1; ocs_scan; ocs_new && break; [ -n "$A" ] || break; ocs_now; done
fi
printf '\\n%s %s|%s\\n' ${shq(tag)} "$L" "$OCS_BEFORE"`;
  return {
    nonce,
    prelude: () => `${FUNCTIONS}
${known ? `OCS_BEFORE=${shq(known.map(hex).join(" "))}` : "ocs_ports; OCS_BEFORE=$L"}; ocs_now; OCS_T0=$N`,
    epilogue: (limitMs) => `ocs_sid $$; W_SID=$X
${wait(`l=$((OCS_T0 + ${Math.max(0, Math.floor(limitMs / 10))})); [ "$e" -gt "$l" ] && e=$l`)}
exit $r`,
    // The process notes the ports before it runs the command, then its pid (which says "ready").
    backgroundPrelude: () => `${FUNCTIONS}
{ mkdir -p /tmp/.opencode-ports && ocs_ports && printf '%s\\n' "$L" > ${shq(`${state}.before`)} && echo $$ > ${shq(`${state}.pid`)}; } 2>/dev/null`,
    backgroundWatch: () => `${FUNCTIONS}
ocs_now; e=$((N + ${Math.ceil(PORT_WAIT_MS / 10)}))
while [ ! -f ${shq(`${state}.pid`)} ] && [ "$N" -lt "$e" ]; do sleep 0.05; ocs_now; done
read -r pid 2>/dev/null < ${shq(`${state}.pid`)}; read -r OCS_BEFORE 2>/dev/null < ${shq(`${state}.before`)}
rm -f ${shq(`${state}.pid`)} ${shq(`${state}.before`)}
W_SID=; [ -n "$pid" ] && ocs_sid "$pid" && W_SID=$X
${wait("")}`,
    parse(output) {
      const at = output.lastIndexOf(head);
      if (at < 0) return { output };
      const end = output.indexOf("\n", at + head.length);
      if (end < 0) return { output };
      const [after = "", before = ""] = output.slice(at + head.length, end).split("|");
      return { output: output.slice(0, at) + output.slice(end + 1), report: { before: hexPorts(before), after: hexPorts(after) } };
    },
    visible(output) {
      let text = output;
      for (let at = text.indexOf(head); at >= 0; at = text.indexOf(head)) {
        const end = text.indexOf("\n", at + head.length);
        if (end < 0) return text.slice(0, at);
        text = text.slice(0, at) + text.slice(end + 1);
      }
      // A marker just beginning to arrive.
      for (let n = Math.min(head.length - 1, text.length); n > 0; n--) if (head.startsWith(text.slice(-n))) return text.slice(0, -n);
      return text;
    },
  };
}
