import * as path from "node:path";
import type { Sandbox } from "../providers/provider.js";
import type { ToolDeps } from "./deps.js";
import { hostToSandbox } from "./paths.js";
import { shellScript } from "../util/shell.js";

/** Instruction files the built-in picks up from the read file's directories (first found per directory). */
const INSTRUCTION_FILES = ["AGENTS.md", "CLAUDE.md", "CONTEXT.md"];

/**
 * AGENTS.md/CLAUDE.md/CONTEXT.md in the directories between the file and the project root,
 * once per session — the built-in appends them as a <system-reminder> (it reads them from
 * the host; here they come from the sandbox, where the agent's edits are).
 */
export async function nearbyInstructions(
  deps: ToolDeps,
  sandbox: Sandbox,
  claimed: Set<string>,
  hostFile: string,
): Promise<{ filepath: string; content: string }[]> {
  const root = path.resolve(deps.directory);
  const dirs: string[] = [];
  for (let dir = path.dirname(hostFile); dir.startsWith(root) && dir !== root; dir = path.dirname(dir)) dirs.push(dir);
  if (dirs.length === 0) return [];
  const inSandbox = (p: string) => hostToSandbox(p, deps.directory, sandbox.projectDir);
  // One command asks about every candidate at once: a remote sandbox pays per round trip.
  const candidates = dirs.map((dir) => INSTRUCTION_FILES.map((name) => path.join(dir, name)));
  const asked = candidates.flat().map(inSandbox);
  const found = await sandbox
    .exec(shellScript('for f; do [ -e "$f" ] && printf "%s\\n" "$f"; done; true', ...asked), { timeoutMs: 30_000 })
    .then((r) => new Set(r.exitCode === 0 ? r.output.split("\n") : []), () => new Set<string>());
  const hits: string[] = [];
  candidates.forEach((level) => {
    const hit = level.find((c) => found.has(inSandbox(c)));
    if (!hit || hit === hostFile || claimed.has(hit)) return;
    claimed.add(hit);
    hits.push(hit);
  });
  const contents = await Promise.all(
    hits.map((hit) =>
      sandbox
        .readFile(inSandbox(hit))
        .then((bytes) => new TextDecoder().decode(bytes))
        .catch(() => ""),
    ),
  );
  return hits.flatMap((hit, i) => (contents[i] ? [{ filepath: hit, content: `Instructions from: ${hit}\n${contents[i]}` }] : []));
}
