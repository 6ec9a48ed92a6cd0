/**
 * apply_patch, as OpenCode 1.18.33's built-in (given to gpt-* models instead of edit/write):
 * the whole patch is parsed and verified first, one `edit` permission ask covers every file,
 * then the files change — inside the sandbox, never in the user's checkout.
 */
import * as path from "node:path";
import { tool, type ToolContext } from "@opencode-ai/plugin";
import { isSandboxError, type Sandbox } from "../providers/provider.js";
import type { ToolDeps } from "./deps.js";
import { fileDiff, joinBom, kindOf, readTextWithBom, removeFile, splitBom, throwIfAborted } from "./file-util.js";
import { deriveNewContents, parsePatch, type Hunk } from "./patch-parser.js";
import { resolveToolPath, type ToolPath } from "./paths.js";
import { assertExternalDirectory } from "./shared.js";

export const APPLY_PATCH_DESCRIPTION = `Use the \`apply_patch\` tool to edit files. Your patch language is a stripped\u2011down, file\u2011oriented diff format designed to be easy to parse and safe to apply. You can think of it as a high\u2011level envelope:

*** Begin Patch
[ one or more file sections ]
*** End Patch

Within that envelope, you get a sequence of file operations.
You MUST include a header to specify the action you are taking.
Each operation starts with one of three headers:

*** Add File: <path> - create a new file. Every following line is a + line (the initial contents).
*** Delete File: <path> - remove an existing file. Nothing follows.
*** Update File: <path> - patch an existing file in place (optionally with a rename).

Example patch:

\`\`\`
*** Begin Patch
*** Add File: hello.txt
+Hello world
*** Update File: src/app.py
*** Move to: src/main.py
@@ def greet():
-print("Hi")
+print("Hello, world!")
*** Delete File: obsolete.txt
*** End Patch
\`\`\`

It is important to remember:

- You must include a header with your intended action (Add/Delete/Update)
- You must prefix new lines with \`+\` even when creating a new file
`;

interface Change {
  type: "add" | "update" | "move" | "delete";
  file: ToolPath;
  move?: ToolPath;
  oldContent: string;
  newContent: string;
  bom: boolean;
  diff: string;
  additions: number;
  deletions: number;
}

const verification = (detail: unknown) => new Error(`apply_patch verification failed: ${detail}`);
const posix = (p: string) => p.replaceAll("\\", "/");

export function applyPatchTool(deps: ToolDeps) {
  /** Every change computed and checked before anything is written (the built-in's verification pass). */
  async function verify(sandbox: Sandbox, ctx: ToolContext, hunks: Hunk[]): Promise<Change[]> {
    // The built-in resolves every patch path (absolute ones too) against the project directory.
    const at = (p: string): ToolPath => {
      const mapped = resolveToolPath(p, deps.directory, sandbox.projectDir, "resolve");
      return { ...mapped, display: mapped.host };
    };
    const changes: Change[] = [];
    for (const hunk of hunks) {
      const file = at(hunk.path);
      await assertExternalDirectory(ctx, file.display);
      if (hunk.type === "add") {
        const contents = hunk.contents.length === 0 || hunk.contents.endsWith("\n") ? hunk.contents : `${hunk.contents}\n`;
        const next = splitBom(contents);
        const d = fileDiff(file.display, "", next.text);
        changes.push({ type: "add", file, oldContent: "", newContent: next.text, bom: next.bom, ...d });
      } else if (hunk.type === "update") {
        const kind = await kindOf(sandbox, file.sandbox).catch(() => undefined);
        if (kind !== "file") throw verification(`Failed to read file to update: ${file.display}`);
        const current = await readTextWithBom(sandbox, file.sandbox);
        let derived;
        try {
          derived = deriveNewContents(file.display, hunk.chunks, joinBom(current.text, current.bom));
        } catch (error) {
          throw verification(error);
        }
        const d = fileDiff(file.display, current.text, derived.content);
        const move = hunk.movePath ? at(hunk.movePath) : undefined;
        if (move) await assertExternalDirectory(ctx, move.display);
        changes.push({
          type: move ? "move" : "update",
          file,
          move,
          oldContent: current.text,
          newContent: derived.content,
          bom: derived.bom,
          ...d,
        });
      } else {
        let current;
        try {
          current = await readTextWithBom(sandbox, file.sandbox);
        } catch (error) {
          // The built-in surfaces its filesystem error here; this is its wording (Effect PlatformError).
          const tag = isSandboxError(error, "is_directory", "not_directory") ? "BadResource" : isSandboxError(error, "permission_denied") ? "PermissionDenied" : "NotFound";
          throw verification(`${tag}: FileSystem.readFile (${file.display})`);
        }
        const d = fileDiff(file.display, current.text, "");
        changes.push({
          type: "delete",
          file,
          oldContent: current.text,
          newContent: "",
          bom: current.bom,
          diff: d.diff,
          additions: 0,
          deletions: current.text.split("\n").length,
        });
      }
    }
    return changes;
  }

  async function execute(args: { patchText: string }, ctx: ToolContext) {
    if (!args.patchText) throw new Error("patchText is required");
    // Parsed before touching the sandbox, so a malformed patch never boots one.
    let hunks: Hunk[];
    try {
      hunks = parsePatch(args.patchText);
    } catch (error) {
      throw verification(error);
    }
    if (hunks.length === 0) {
      if (args.patchText.replace(/\r\n/g, "\n").replace(/\r/g, "\n").trim() === "*** Begin Patch\n*** End Patch")
        throw new Error("patch rejected: empty patch");
      throw verification("no hunks found");
    }
    const sandbox = await deps.sandboxFor(ctx.sessionID);
    const changes = await verify(sandbox, ctx, hunks);
    const worktree = ctx.worktree || deps.directory;
    const rel = (p: ToolPath) => posix(path.relative(worktree, p.display));

    const diff = changes.map((c) => c.diff + "\n").join("");
    const files = changes.map((c) => ({
      filePath: c.file.display,
      relativePath: rel(c.move ?? c.file),
      type: c.type,
      patch: c.diff,
      additions: c.additions,
      deletions: c.deletions,
      ...(c.move ? { movePath: c.move.display } : {}),
    }));
    const patterns = changes.map((c) => rel(c.file));
    await ctx.ask({ permission: "edit", patterns, always: ["*"], metadata: { filepath: patterns.join(", "), diff, files } });
    throwIfAborted(ctx.abort);

    for (const c of changes) {
      switch (c.type) {
        case "add":
        case "update":
          await sandbox.writeFile(c.file.sandbox, joinBom(c.newContent, c.bom));
          break;
        case "move":
          await sandbox.writeFile(c.move!.sandbox, joinBom(c.newContent, c.bom));
          await removeFile(sandbox, c.file.sandbox, ctx.abort);
          break;
        case "delete":
          await removeFile(sandbox, c.file.sandbox, ctx.abort);
          break;
      }
    }

    const summary = changes.map((c) => {
      if (c.type === "add") return `A ${rel(c.file)}`;
      if (c.type === "delete") return `D ${rel(c.file)}`;
      return `M ${rel(c.move ?? c.file)}`;
    });
    const output = `Success. Updated the following files:\n${summary.join("\n")}`;
    return { title: output, metadata: { diff, files, diagnostics: {} }, output };
  }

  return tool({
    description: APPLY_PATCH_DESCRIPTION,
    args: {
      patchText: tool.schema.string().describe("The full patch text that describes all changes to be made"),
    },
    execute,
  });
}
