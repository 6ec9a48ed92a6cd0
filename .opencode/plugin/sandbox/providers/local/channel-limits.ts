/**
 * What the host allows the sandbox's end of the agent channel: frame sizes (checked
 * from a frame's header, before its body is buffered) and host-side deadlines (the
 * agent, or whatever took its place, may never answer). Deadlines only catch a hang:
 * each is far above what a working agent needs (measured here: a request costs
 * ~2 ms, files move at 40–100 MiB/s through the agent on a 2-core machine).
 */
import type { FrameType } from "./protocol.js";

const KiB = 1024;
const MiB = 1024 * KiB;

export interface ChannelLimits {
  /** Connect until the agent's hello. */
  helloMs: number;
  /** Added to an exec's own timeout (the agent then kills the command and reports): also how long an abort may take. */
  execMarginMs: number;
  /** A file, stat, readdir or port-forward request, before its bytes are counted. */
  requestMs: number;
  /** File bytes are allowed this slow (1 MiB/s: 40x below the slowest transfer measured). */
  fileBytesPerSecond: number;
  /** The shutdown request (stop() kills from the host after it). */
  shutdownMs: number;
  /** Open preview streams per sandbox (each is a host socket and a host fd pair). */
  previewStreams: number;
  /** A preview stream with no byte in either direction for this long is closed. */
  previewIdleMs: number;
}

export const DEFAULT_CHANNEL_LIMITS: ChannelLimits = {
  helloMs: 10_000,
  execMarginMs: 30_000,
  requestMs: 60_000,
  fileBytesPerSecond: 1 * MiB,
  shutdownMs: 10_000,
  previewStreams: 128,
  // A dev server's quiet HMR socket is idle too; its client reconnects when this closes it.
  previewIdleMs: 15 * 60_000,
};

export function channelLimits(overrides?: Partial<ChannelLimits>): ChannelLimits {
  return { ...DEFAULT_CHANNEL_LIMITS, ...overrides };
}

/**
 * Largest body the host accepts per frame type from the agent. The agent sends data
 * in 1 MiB chunks and command output as its pipes yield it (≤ 1 MiB even with an
 * enlarged pipe); a result is JSON (a readdir of ~250,000 entries fits in 16 MiB).
 * Types the host never receives have no room at all.
 */
const FRAME_CAPS: Partial<Record<FrameType, number>> = {
  H: 4 * KiB,
  R: 64 * KiB,
  X: 16 * MiB,
  D: 4 * MiB,
  O: 4 * MiB,
};

/** Largest body accepted for a frame of `type` from the agent, or -1 when that type never comes from it. */
export function frameCap(type: string): number {
  return FRAME_CAPS[type as FrameType] ?? -1;
}

/** The deadline for moving `bytes` of a file through the channel. */
export function fileDeadlineMs(limits: ChannelLimits, bytes: number): number {
  return limits.requestMs + Math.ceil((bytes / limits.fileBytesPerSecond) * 1000);
}
