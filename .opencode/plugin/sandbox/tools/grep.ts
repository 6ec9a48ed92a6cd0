/** grep, as the built-in (ripgrep `--json`), run inside the session's sandbox. */
import * as path from "node:path";
import { tool } from "@opencode-ai/plugin";
import type { ToolDeps } from "./deps.js";
import { grepFiles, type SearchOptions } from "./search.js";
import { assertExternalDirectory, containsPath } from "./shared.js";
import { hostToSandbox } from "./paths.js";

export const GREP_DESCRIPTION = `- Fast content search tool that works with any codebase size
- Searches file contents using regular expressions
- Supports full regex syntax (eg. "log.*Error", "function\\s+\\w+", etc.)
- Filter files by pattern with the include parameter (eg. "*.js", "*.{ts,tsx}")
- Returns file paths and line numbers with matching lines
- Use this tool when you need to find files containing specific patterns
- If you need to identify/count the number of matches within files, use the Bash tool with \`rg\` (ripgrep) directly. Do NOT use \`grep\`.
- When you are doing an open-ended search that may require multiple rounds of globbing and grepping, use the Task tool instead
`;

const LIMIT = 100;

export function grepTool(deps: ToolDeps, options: Pick<SearchOptions, "forceFallback"> = {}) {
  return tool({
    description: GREP_DESCRIPTION,
    args: {
      pattern: tool.schema.string().describe("The regex pattern to search for in file contents"),
      path: tool.schema.string().optional().describe("The directory to search in. Defaults to the current working directory."),
      include: tool.schema.string().optional().describe('File pattern to include in the search (e.g. "*.js", "*.{ts,tsx}")'),
    },
    async execute(args, ctx) {
      const empty = { title: args.pattern, metadata: { matches: 0, truncated: false }, output: "No files found" };
      if (!args.pattern) throw new Error("pattern is required");
      await ctx.ask({
        permission: "grep",
        patterns: [args.pattern],
        always: ["*"],
        metadata: { pattern: args.pattern, path: args.path, include: args.include },
      });
      const directory = ctx.directory ?? deps.directory;
      const target = path.isAbsolute(args.path ?? directory) ? (args.path ?? directory) : path.join(directory, args.path ?? ".");
      const sandbox = await deps.sandboxFor(ctx.sessionID);
      const targetInSandbox = hostToSandbox(target, deps.directory, sandbox.projectDir);
      if (!containsPath(ctx, target)) {
        // Only paths outside the project need the kind up front (for the permission pattern).
        const stat = await sandbox.stat(targetInSandbox).catch(() => null);
        const isDir = stat?.type === "directory" || (stat?.type === "symlink" && (await isDirectory(sandbox, targetInSandbox)));
        await assertExternalDirectory(ctx, target, isDir ? "directory" : "file");
      }
      const { isDir, matches: found } = await grepFiles(sandbox, targetInSandbox, args.pattern, args.include, LIMIT, {
        signal: ctx.abort,
        ...options,
      });
      // Like the built-in, a file path (or a missing one) searches its parent directory.
      const base = isDir ? target : path.dirname(target);
      if (found.length === 0) return empty;
      const matches = found.slice(0, LIMIT).map((m) => ({ path: path.resolve(base, m.path), line: m.line, text: m.text }));
      const truncated = matches.length === LIMIT;
      const lines = [`Found ${matches.length} matches${truncated ? " (more matches available)" : ""}`];
      let current = "";
      for (const m of matches) {
        if (current !== m.path) {
          if (current !== "") lines.push("");
          current = m.path;
          lines.push(`${m.path}:`);
        }
        lines.push(`  Line ${m.line}: ${m.text}`);
      }
      if (truncated) {
        lines.push("");
        lines.push("(Results truncated. Consider using a more specific path or pattern.)");
      }
      return { title: args.pattern, metadata: { matches: matches.length, truncated }, output: lines.join("\n") };
    },
  });
}

async function isDirectory(sandbox: { readDir(p: string): Promise<unknown> }, p: string): Promise<boolean> {
  try {
    await sandbox.readDir(p);
    return true;
  } catch {
    return false;
  }
}
