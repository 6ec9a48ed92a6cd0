/** What a tool may use. Tools never learn which provider runs the sandbox. */
import type { Config } from "../config.js";
import type { Logger } from "../core/logger.js";
import type { Sandbox } from "../providers/provider.js";
import type { Notify } from "../service/notices.js";
import type { KeyedQueue } from "../util/keyed-queue.js";
import type { SeenFiles } from "./seen-files.js";

export interface ToolDeps {
  /** The host project directory — the path the model sees in its context. */
  directory: string;
  /** The live sandbox of this session (a subagent gets its root session's). */
  sandboxFor(sessionID: string): Promise<Sandbox>;
  config: Config;
  log: Logger;
  /** Serialises writes to one file across the tools of this plugin instance. */
  locks: KeyedQueue;
  /** What this plugin instance last read or wrote per file: writes skip a read and compare-and-swap. */
  seen?: SeenFiles;
  /** Tells the user (a toast): e.g. a server's link. */
  notify?: Notify;
}
