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
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private length = 0;
  private stopped = false;
  /** Set once the connection switches to raw bytes (port forwarding). */
  raw = false;

  constructor(
    private readonly onFrame: (type: string, body: Buffer) => void,
    private readonly cap: (type: string) => number = () => Infinity,
    private readonly onOversized: (frame: OversizedFrame) => void = () => {},
  ) {}

  push(chunk: Buffer) {
    if (this.stopped) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
    while (!this.raw && !this.stopped && this.length >= 5) {
      const head = this.peek(5);
      const size = head.readUInt32BE(1);
      const type = String.fromCharCode(head[0]!);
      const cap = this.cap(type);
      if (size > cap) {
        this.stop();
        this.onOversized({ type, size, cap });
        return;
      }
      if (this.length < 5 + size) return;
      this.take(5);
      this.onFrame(type, size ? this.take(size) : Buffer.alloc(0));
    }
  }

  /** Drops what is held and ignores everything after (the connection is being dropped). */
  stop() {
    this.stopped = true;
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

  private peek(n: number): Buffer {
    const first = this.chunks[0]!;
    return first.length >= n ? first.subarray(0, n) : Buffer.concat(this.chunks).subarray(0, n);
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
