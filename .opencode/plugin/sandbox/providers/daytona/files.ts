/**
 * Files in a Daytona sandbox, each operation one request where it can be. Small files
 * travel inside one command both ways (a write is atomic: a temporary file renamed over
 * the target; a read answers "missing" or "a directory" in the same request); large ones
 * are uploaded beside the target and renamed, or downloaded. Stat and directory listings
 * are commands, so they see symlinks as symlinks.
 */
import { randomBytes } from "node:crypto";
import { posix } from "node:path";
import { SandboxError, type DirEntry, type ExecOptions, type ExecResult, type FileStat, type FileType } from "../provider.js";
import { shellScript } from "../../util/shell.js";

/** Up to this size a write travels inside the command (as base64). */
export const INLINE_WRITE_BYTES = 48 * 1024;
/** Up to this size a read comes back inside the command's answer (as base64). */
export const INLINE_READ_BYTES = 1024 * 1024;
export const MAX_READ_BYTES = 512 * 1024 * 1024;

type Exec = (command: string, options?: ExecOptions) => Promise<ExecResult>;

export interface FileTransport {
  download(path: string): Promise<Buffer>;
  upload(data: Buffer, path: string): Promise<void>;
}

// $3 = "inline": the content is $4 (base64); otherwise it was uploaded to $2 already.
// $5: what the file must hold now — "absent", a sha256, or "" (anything).
const WRITE = `p="$1"; t="$2"
[ -d "$p" ] && { rm -f "$t"; echo "is a directory"; exit 21; }
if [ -n "$5" ]; then
  if [ -e "$p" ]; then c=$(sha256sum < "$p" | cut -d" " -f1); else c=absent; fi
  [ "$c" = "$5" ] || { rm -f "$t"; echo "changed"; exit 17; }
fi
mkdir -p "$(dirname "$p")" || exit 13
if [ "$3" = inline ]; then printf %s "$4" | base64 -d > "$t" || { rm -f "$t"; exit 13; }; fi
mv -f "$t" "$p" || { rm -f "$t"; exit 13; }`;

const READ = `p="$1"
[ -d "$p" ] && exit 21
[ -e "$p" ] || exit 2
[ -r "$p" ] || exit 13
s=$(wc -c < "$p") || exit 13
[ "$s" -gt ${INLINE_READ_BYTES} ] && { echo "@@big $s"; exit 0; }
echo "@@inline"
base64 < "$p" | tr -d '\\n'`;

const STAT = `[ -e "$1" ] || [ -L "$1" ] || exit 2
if [ -L "$1" ]; then t=symlink; elif [ -d "$1" ]; then t=directory; elif [ -f "$1" ]; then t=file; else t=other; fi
echo "$t $(stat -c '%s %Y' -- "$1" 2>/dev/null || echo '0 0')"`;

const LIST = `[ -e "$1" ] || exit 2
[ -d "$1" ] || exit 20
cd -- "$1" || exit 13
for f in * .[!.]* ..?*; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  if [ -L "$f" ]; then t=symlink; elif [ -d "$f" ]; then t=directory; elif [ -f "$f" ]; then t=file; else t=other; fi
  printf '%s/%s\\0' "$t" "$f"
done`;

function failure(code: number | null, path: string, output: string): SandboxError {
  if (code === 2) return new SandboxError("file_not_found", `File not found: ${path}`);
  if (code === 20) return new SandboxError("not_directory", `Not a directory: ${path}`);
  if (code === 21) return new SandboxError("is_directory", `Is a directory: ${path}`);
  if (code === 17) return new SandboxError("changed", `Changed since it was read: ${path}`);
  return new SandboxError("permission_denied", `Cannot access ${path}: ${output.trim().slice(0, 300)}`);
}

export class DaytonaFiles {
  constructor(
    private readonly exec: Exec,
    private readonly transport: FileTransport,
  ) {}

  async read(path: string): Promise<Uint8Array> {
    const r = await this.exec(shellScript(READ, path));
    if (r.exitCode !== 0) throw failure(r.exitCode, path, r.output);
    const newline = r.output.indexOf("\n");
    const head = r.output.slice(0, newline);
    if (head === "@@inline") return new Uint8Array(Buffer.from(r.output.slice(newline + 1), "base64"));
    if (!head.startsWith("@@big ")) throw new SandboxError("transient", `Reading ${path}: an answer that is not a file's content`);
    if (Number(head.slice(6)) > MAX_READ_BYTES) throw new SandboxError("bad_input", `${path} is larger than ${MAX_READ_BYTES} bytes`);
    const data = await this.transport.download(path);
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  }

  /** `expect`: "absent" or the sha256 (hex) the file must hold now (see WriteOptions). */
  async write(path: string, data: Uint8Array | string, expect?: string): Promise<void> {
    const bytes = Buffer.from(data);
    const tmp = posix.join(posix.dirname(path), `.${posix.basename(path)}.opencode-${randomBytes(4).toString("hex")}`);
    const inline = bytes.length <= INLINE_WRITE_BYTES;
    if (!inline) await this.transport.upload(bytes, tmp);
    const r = await this.exec(shellScript(WRITE, path, tmp, inline ? "inline" : "uploaded", inline ? bytes.toString("base64") : "", expect ?? ""));
    if (r.exitCode !== 0) throw failure(r.exitCode, path, r.output);
  }

  async stat(path: string): Promise<FileStat | null> {
    const r = await this.exec(shellScript(STAT, path));
    if (r.exitCode === 2) return null;
    if (r.exitCode !== 0) throw failure(r.exitCode, path, r.output);
    const [type, size, mtime] = r.output.trim().split(" ");
    return { type: type as FileType, size: Number(size) || 0, mtimeMs: (Number(mtime) || 0) * 1000 };
  }

  async list(path: string): Promise<DirEntry[]> {
    const r = await this.exec(shellScript(LIST, path));
    if (r.exitCode !== 0) throw failure(r.exitCode, path, r.output);
    return r.output
      .split("\0")
      .filter(Boolean)
      .map((line) => {
        const slash = line.indexOf("/");
        return { type: line.slice(0, slash) as FileType, name: line.slice(slash + 1) };
      });
  }

  async remove(path: string): Promise<void> {
    const r = await this.exec(shellScript('rm -rf -- "$1"', path));
    if (r.exitCode !== 0) throw failure(r.exitCode, path, r.output);
  }
}
