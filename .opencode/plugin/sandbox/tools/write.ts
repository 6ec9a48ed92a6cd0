/**
 * write, as OpenCode 1.18.33's built-in: creates parent directories, keeps an existing
 * file's BOM, asks `edit` permission with the diff, answers "Wrote file successfully." —
 * inside the sandbox.
 */
import * as path from "node:path";
import { tool, type ToolContext } from "@opencode-ai/plugin";
import type { ToolDeps } from "./deps.js";
import { decodeText, fileDiff, joinBom, locate, splitBom, throwIfAborted, writeAgainst } from "./file-util.js";
import { assertExternalDirectory } from "./shared.js";

export const WRITE_DESCRIPTION = `Writes a file to the local filesystem.

Usage:
- This tool will overwrite the existing file if there is one at the provided path.
- If this is an existing file, you MUST use the Read tool first to read the file's contents. This tool will fail if you did not read the file first.
- ALWAYS prefer editing existing files in the codebase. NEVER write new files unless explicitly required.
- NEVER proactively create documentation files (*.md) or README files. Only create documentation files if explicitly requested by the User.
- Only use emojis if the user explicitly requests it. Avoid writing emojis to files unless asked.
`;

export function writeTool(deps: ToolDeps) {
  async function execute(args: { content: string; filePath: string }, ctx: ToolContext) {
    const { sandbox, target } = await locate(deps, ctx, args.filePath, "join");
    const file = target.display;
    const worktree = ctx.worktree || deps.directory;
    await assertExternalDirectory(ctx, file);

    let exists = false;
    await deps.locks.run(`${sandbox.id}:${target.sandbox}`, async () => {
      // A file this plugin has not seen is taken to be new (OpenCode has the model read a file
      // before it overwrites it); the compare-and-swap catches it when it is not.
      const before = await writeAgainst(deps, sandbox, target.sandbox, "absent", (found) => {
        // The built-in fails reading the old content; this is its (Effect PlatformError) wording.
        if (found.kind === "directory") throw new Error(`BadResource: FileSystem.readFile (${file})`);
        const old = found.kind === "file" ? decodeText(found.bytes) : { bom: false, text: "" };
        const next = splitBom(args.content);
        const { diff } = fileDiff(file, old.text, next.text);
        return {
          data: joinBom(next.text, old.bom || next.bom),
          ask: async () => {
            await ctx.ask({ permission: "edit", patterns: [path.relative(worktree, file)], always: ["*"], metadata: { filepath: file, diff } });
            throwIfAborted(ctx.abort);
          },
        };
      });
      exists = before.kind !== undefined;
    });

    return {
      title: path.relative(worktree, file),
      output: "Wrote file successfully.",
      metadata: { diagnostics: {}, filepath: file, exists },
    };
  }

  return tool({
    description: WRITE_DESCRIPTION,
    args: {
      content: tool.schema.string().describe("The content to write to the file"),
      filePath: tool.schema.string().describe("The absolute path to the file to write (must be absolute, not relative)"),
    },
    execute,
  });
}
