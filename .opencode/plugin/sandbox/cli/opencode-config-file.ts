/**
 * The project's opencode.json(c), edited in place: this plugin's entry added to
 * `plugin` (or its spec replaced, its options kept), everything else — other keys,
 * comments, formatting — left as it was.
 */
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { applyEdits, modify, parse, printParseErrorCode, type ParseError } from "jsonc-parser";
import { writeAtomic } from "../util/write-atomic.js";
import { isThisPlugin, specOf } from "./plugin-entry.js";

/** A configuration file init cannot edit safely; the message names the file and the problem. */
export class ConfigFileError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}; correct it, then run init again`);
  }
}

export type ConfigEdit = {
  path: string;
  spec: string;
} & ({ kind: "created" | "added" | "unchanged" } | { kind: "replaced"; previous: string });

/** The file OpenCode reads in `root`: opencode.jsonc if there is one, else opencode.json. */
export async function projectConfigFile(root: string): Promise<{ path: string; text?: string }> {
  for (const name of ["opencode.jsonc", "opencode.json"]) {
    const path = join(root, name);
    const text = await readFile(path, "utf8").catch(() => undefined);
    if (text !== undefined) return { path, text };
  }
  return { path: join(root, "opencode.json") };
}

function indentOf(text: string): { insertSpaces: boolean; tabSize: number } {
  const m = /\n([ \t]+)\S/.exec(text);
  if (m?.[1].startsWith("\t")) return { insertSpaces: false, tabSize: 1 };
  return { insertSpaces: true, tabSize: m ? m[1].length : 2 };
}

/**
 * Lists `spec` in the project's configuration. An entry of this plugin already there is
 * kept (`want` undefined), or given `want` as its spec when it names another.
 */
export async function listPlugin(root: string, want: string | undefined, fallback: string): Promise<ConfigEdit> {
  const { path, text } = await projectConfigFile(root);
  if (text === undefined) {
    const spec = want ?? fallback;
    await writeAtomic(path, JSON.stringify({ $schema: "https://opencode.ai/config.json", plugin: [spec] }, null, 2) + "\n", { mode: 0o644 });
    return { path, spec, kind: "created" };
  }
  const errors: ParseError[] = [];
  const config = parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length) {
    const e = errors[0];
    const line = text.slice(0, e.offset).split("\n").length;
    throw new ConfigFileError(path, `not valid JSON(C): ${printParseErrorCode(e.error)} on line ${line}`);
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) throw new ConfigFileError(path, "the configuration is not a JSON object");
  const plugins = (config as { plugin?: unknown }).plugin;
  if (plugins !== undefined && !Array.isArray(plugins)) throw new ConfigFileError(path, `"plugin" is not a list`);
  const formattingOptions = { ...indentOf(text), eol: text.includes("\r\n") ? "\r\n" : "\n" };
  const write = async (edits: ReturnType<typeof modify>) => writeAtomic(path, applyEdits(text, edits), { mode: 0o644 });

  const index = (plugins ?? []).findIndex((e) => {
    const s = specOf(e);
    return s !== undefined && isThisPlugin(s, dirname(path));
  });
  if (index < 0) {
    const spec = want ?? fallback;
    await write(plugins ? modify(text, ["plugin", -1], spec, { formattingOptions, isArrayInsertion: true }) : modify(text, ["plugin"], [spec], { formattingOptions }));
    return { path, spec, kind: "added" };
  }
  const entry = plugins![index];
  const previous = specOf(entry)!;
  if (want === undefined || want === previous) return { path, spec: previous, kind: "unchanged" };
  await write(modify(text, Array.isArray(entry) ? ["plugin", index, 0] : ["plugin", index], want, { formattingOptions }));
  return { path, spec: want, kind: "replaced", previous };
}
