/**
 * edit, as OpenCode 1.18.33's built-in: exact match first, then its tolerant matchers,
 * CRLF files edited in their own line endings, BOM kept, `replaceAll`, the built-in's
 * error texts — inside the sandbox. The replacement is inserted literally.
 */
import * as path from "node:path";
import { tool, type ToolContext } from "@opencode-ai/plugin";
import type { ToolDeps } from "./deps.js";
import { ERR_IDENTICAL, replace } from "./edit-replacers.js";
import { decodeText, fileDiff, type FileDiff, joinBom, locate, splitBom, throwIfAborted, writeAgainst } from "./file-util.js";
import { assertExternalDirectory } from "./shared.js";

export const EDIT_DESCRIPTION =
  'Performs exact string replacements in files. \n\nUsage:\n- You must use your `Read` tool at least once in the conversation before editing. This tool will error if you attempt an edit without reading the file. \n- When editing text from Read tool output, ensure you preserve the exact indentation (tabs/spaces) as it appears AFTER the line number prefix. The line number prefix format is: line number + colon + space (e.g., `1: `). Everything after that space is the actual file content to match. Never include any part of the line number prefix in the oldString or newString.\n- ALWAYS prefer editing existing files in the codebase. NEVER write new files unless explicitly required.\n- Only use emojis if the user explicitly requests it. Avoid adding emojis to files unless asked.\n- The edit will FAIL if `oldString` is not found in the file with an error "oldString not found in content".\n- The edit will FAIL if `oldString` is found multiple times in the file with an error "Found multiple matches for oldString. Provide more surrounding lines in oldString to identify the correct match." Either provide a larger string with more surrounding context to make it unique or use `replaceAll` to change every instance of `oldString`. \n- Use `replaceAll` for replacing and renaming strings across the file. This parameter is useful if you want to rename a variable for instance.\n';

const toLf = (s: string) => s.replaceAll("\r\n", "\n");
const lineEnding = (s: string) => (s.includes("\r\n") ? "\r\n" : "\n");
const toEnding = (s: string, eol: string) => (eol === "\n" ? s : s.replaceAll("\n", "\r\n"));

interface EditArgs {
  filePath: string;
  oldString: string;
  newString: string;
  replaceAll?: boolean;
}

export function editTool(deps: ToolDeps) {
  async function execute(args: EditArgs, ctx: ToolContext) {
    if (!args.filePath) throw new Error("filePath is required");
    if (args.oldString === args.newString) throw new Error(ERR_IDENTICAL);
    const { sandbox, target } = await locate(deps, ctx, args.filePath, "join");
    const file = target.display;
    const worktree = ctx.worktree || deps.directory;
    await assertExternalDirectory(ctx, file);

    let changes: FileDiff = { diff: "", additions: 0, deletions: 0 };
    await deps.locks.run(`${sandbox.id}:${target.sandbox}`, async () => {
      const ask = () =>
        ctx.ask({ permission: "edit", patterns: [path.relative(worktree, file)], always: ["*"], metadata: { filepath: file, diff: changes.diff } });

      if (args.oldString === "") {
        // Creating a file: only when nothing is there yet.
        if ((await sandbox.stat(target.sandbox)) !== null)
          throw new Error(
            "oldString cannot be empty when editing an existing file. Provide the exact text to replace, or use write for an intentional full-file replacement.",
          );
        const created = splitBom(args.newString);
        changes = fileDiff(file, "", created.text);
        await ask();
        throwIfAborted(ctx.abort);
        await sandbox.writeFile(target.sandbox, joinBom(created.text, created.bom));
        return;
      }

      await writeAgainst(deps, sandbox, target.sandbox, "read", (found) => {
        if (!found.kind) throw new Error(`File ${file} not found`);
        if (found.kind === "directory") throw new Error(`Path is a directory, not a file: ${file}`);
        const current = decodeText(found.bytes);
        const before = current.text;
        // Match and replace in the file's own line endings, whatever the model sent.
        const eol = lineEnding(before);
        const oldString = toEnding(toLf(args.oldString), eol);
        const newString = toEnding(toLf(args.newString), eol);
        const replaced = splitBom(replace(before, oldString, newString, args.replaceAll));
        const after = replaced.text;
        changes = fileDiff(file, toLf(before), toLf(after));
        return {
          data: joinBom(after, current.bom || replaced.bom),
          ask: async () => {
            await ask();
            throwIfAborted(ctx.abort);
          },
        };
      });
    });

    const { diff, additions, deletions } = changes;
    const filediff = { file, patch: diff, additions, deletions };
    ctx.metadata({ metadata: { diff, filediff, diagnostics: {} } });
    return {
      title: path.relative(worktree, file),
      output: "Edit applied successfully.",
      metadata: { diagnostics: {}, diff, filediff },
    };
  }

  return tool({
    description: EDIT_DESCRIPTION,
    args: {
      filePath: tool.schema.string().describe("The absolute path to the file to modify"),
      oldString: tool.schema.string().describe("The text to replace"),
      newString: tool.schema.string().describe("The text to replace it with (must be different from oldString)"),
      replaceAll: tool.schema.boolean().optional().describe("Replace all occurrences of oldString (default false)"),
    },
    execute,
  });
}
