/**
 * Host side of the agent's frame protocol (see agent-source.ts):
 * [type: 1 byte][length: u32 BE][payload]. Binary payloads travel as-is, so a
 * 100 MB git bundle costs one copy, not a base64 JSON string.
 */
export type FrameType = "H" | "Q" | "D" | "E" | "K" | "O" | "X" | "R";

/** Payload bytes per data frame. */
export const CHUNK_BYTES = 1 << 20;

export function encodeFrame(type: FrameType, payload?: Uint8Array | string): Buffer[] {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload ? Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength) : Buffer.alloc(0);
  const head = Buffer.allocUnsafe(5);
  head.write(type, 0, "latin1");
  head.writeUInt32BE(body.length, 1);
  return body.length ? [head, body] : [head];
}

/** A frame whose header declares more than its type may carry (see channel-limits.ts). */
export interface OversizedFrame {
  type: string;
  size: number;
  cap: number;
}

/**
 * Incremental parser over a queue of chunks: no quadratic concatenation for big files.
 * Each frame's declared size is checked against `cap(type)` as soon as its header is
 * in: an oversized frame stops the reader before a byte of its body is held.
 *
 * Types for which `streamed(type)` holds are delivered in pieces, as the socket's own
 * chunks arrive (one onFrame call per piece; an empty body is one empty call): their readers
 * only append (file data, command output), and gluing a 1 MiB frame out of 64 KiB
 * socket reads was a copy of every byte into a fresh buffer (half the host's CPU time
 * of a file read, measured).
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private length = 0;
  private stopped = false;
  /** Type and bytes still to come of a streamed frame whose body is being delivered. */
  private streaming?: { type: string; left: number };
  /** Set once the connection switches to raw bytes (port forwarding). */
  raw = false;

  constructor(
    private readonly onFrame: (type: string, body: Buffer) => void,
    private readonly cap: (type: string) => number = () => Infinity,
    private readonly onOversized: (frame: OversizedFrame) => void = () => {},
    private readonly streamed: (type: string) => boolean = () => false,
  ) {}

  push(chunk: Buffer) {
    if (this.stopped || !chunk.length) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
    while (!this.raw && !this.stopped) {
      if (this.streaming) {
        if (!this.length) return;
        const piece = this.takeUpTo(this.streaming.left);
        const { type } = this.streaming;
        if (!(this.streaming.left -= piece.length)) this.streaming = undefined;
        this.onFrame(type, piece);
        continue;
      }
      if (this.length < 5) return;
      const head = this.peek(5);
      const size = head.readUInt32BE(1);
      const type = String.fromCharCode(head[0]!);
      const cap = this.cap(type);
      if (size > cap) {
        this.stop();
        this.onOversized({ type, size, cap });
        return;
      }
      if (size && this.streamed(type)) {
        this.take(5);
        this.streaming = { type, left: size };
        continue;
      }
      if (this.length < 5 + size) return;
      this.take(5);
      this.onFrame(type, size ? this.take(size) : Buffer.alloc(0));
    }
  }

  /** Drops what is held and ignores everything after (the connection is being dropped). */
  stop() {
    this.stopped = true;
    this.streaming = undefined;
    this.chunks = [];
    this.length = 0;
  }

  /** Bytes received after the last frame (raw mode hand-over). */
  rest(): Buffer {
    const all = Buffer.concat(this.chunks);
    this.chunks = [];
    this.length = 0;
    return all;
  }

  /** The first `n` bytes (n ≤ length): copies only those when they span chunks, never the whole queue. */
  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    for (const chunk of this.chunks) {
      at += chunk.copy(out, at, 0, Math.min(chunk.length, n - at));
      if (at === n) break;
    }
    return out;
  }

  /** Up to `n` bytes from the first chunk, without copying. */
  private takeUpTo(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length <= n) {
      this.chunks.shift();
      this.length -= first.length;
      return first;
    }
    this.chunks[0] = first.subarray(n);
    this.length -= n;
    return first.subarray(0, n);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    this.length -= n;
    if (first.length === n) {
      this.chunks.shift();
      return first;
    }
    if (first.length > n) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const all = Buffer.concat(this.chunks);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    return all.subarray(0, n);
  }
}
