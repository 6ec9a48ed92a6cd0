/**
 * The links PortWatch told, per sandbox, in a file beside the plugin's state: a new
 * OpenCode process (e.g. `opencode run --session` resuming a sandbox that was stopped)
 * can then say which of them no longer listen. Read once per sandbox and process,
 * written only when what was told changes.
 */
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeAtomic } from "../util/write-atomic.js";

export interface ToldPorts {
  load(sandboxId: string): Promise<Map<number, string>>;
  save(sandboxId: string, told: Map<number, string>): Promise<void>;
}

export function toldPortsIn(dir: string): ToldPorts {
  const file = (id: string) => join(dir, `${id.replace(/[^A-Za-z0-9_.-]/g, "_")}.json`);
  return {
    async load(id) {
      try {
        const data = JSON.parse(await readFile(file(id), "utf8")) as Record<string, unknown>;
        return new Map(
          Object.entries(data)
            .filter((e): e is [string, string] => /^\d+$/.test(e[0]) && typeof e[1] === "string")
            .map(([port, url]) => [Number(port), url]),
        );
      } catch {
        return new Map(); // none yet, or unreadable: nothing to tell
      }
    },
    async save(id, told) {
      await mkdir(dir, { recursive: true });
      await writeAtomic(file(id), JSON.stringify(Object.fromEntries(told)));
    },
  };
}
