import * as path from "node:path";
import type { Sandbox } from "../providers/provider.js";
import type { ToolDeps } from "./deps.js";
import { hostToSandbox } from "./paths.js";

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
  // One round of stats for every level at once: each is a sandbox round trip.
  const candidates = dirs.map((dir) => INSTRUCTION_FILES.map((name) => path.join(dir, name)));
  const present = await Promise.all(candidates.flat().map((c) => sandbox.stat(inSandbox(c)).catch(() => null)));
  const hits: string[] = [];
  candidates.forEach((level, i) => {
    const hit = level.find((_, j) => present[i * INSTRUCTION_FILES.length + j] !== null);
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
