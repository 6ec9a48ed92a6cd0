/**
 * The agent channel broke a rule the host enforces: the sandbox (or something in it)
 * answered too late, sent an oversized or malformed frame, or something other than
 * the agent answered. Never "not_running" once a request was sent: the caller must
 * not retry a command elsewhere that may have run.
 */
import { SandboxError, type SandboxErrorKind } from "../provider.js";

export type ChannelFault = "deadline" | "oversized_frame" | "protocol" | "impostor";

export class ChannelError extends SandboxError {
  constructor(
    readonly fault: ChannelFault,
    message: string,
    kind: SandboxErrorKind = "transient",
  ) {
    super(kind, message);
  }
}
