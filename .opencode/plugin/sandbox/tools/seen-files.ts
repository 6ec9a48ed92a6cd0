/**
 * What this plugin instance last read or wrote in each sandbox file. A write or edit
 * starts from it instead of reading the file again (a remote sandbox pays a round trip
 * per read) and writes with compare-and-swap against it: a file changed since — by a
 * command, another session, anyone — is refused, read again and re-asked, never
 * overwritten. Bounded: small files only, the most recent few.
 */
export const SEEN_MAX_BYTES = 256 * 1024;
const SEEN_MAX_FILES = 64;

export class SeenFiles {
  private readonly files = new Map<string, Uint8Array>();

  private key(sandboxId: string, path: string) {
    return `${sandboxId}\0${path}`;
  }

  get(sandboxId: string, path: string): Uint8Array | undefined {
    return this.files.get(this.key(sandboxId, path));
  }

  /** The content just read or written (undefined: forget it). */
  set(sandboxId: string, path: string, content: Uint8Array | undefined) {
    const key = this.key(sandboxId, path);
    this.files.delete(key);
    if (!content || content.byteLength > SEEN_MAX_BYTES) return;
    this.files.set(key, content);
    // Insertion order is recency order: the oldest goes first.
    if (this.files.size > SEEN_MAX_FILES) this.files.delete(this.files.keys().next().value!);
  }
}
