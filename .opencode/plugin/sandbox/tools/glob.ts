/** glob, as the built-in (ripgrep `--files --glob`), run inside the session's sandbox. */
import * as path from "node:path";
import { tool } from "@opencode-ai/plugin";
import type { ToolDeps } from "./deps.js";
import { globFiles, SearchError, type SearchOptions } from "./search.js";
import { assertExternalDirectory } from "./shared.js";
import { hostToSandbox } from "./paths.js";

export const GLOB_DESCRIPTION = `- Fast file pattern matching tool that works with any codebase size
- Supports glob patterns like "**/*.js" or "src/**/*.ts"
- Returns matching file paths
- Use this tool when you need to find files by name patterns
- When you are doing an open-ended search that may require multiple rounds of globbing and grepping, use the Task tool instead
- You have the capability to call multiple tools in a single response. It is always better to speculatively perform multiple searches as a batch that are potentially useful.
`;

const LIMIT = 100;

export function globTool(deps: ToolDeps, options: Pick<SearchOptions, "forceFallback"> = {}) {
  return tool({
    description: GLOB_DESCRIPTION,
    args: {
      pattern: tool.schema.string().describe("The glob pattern to match files against"),
      path: tool.schema
        .string()
        .optional()
        .describe(
          'The directory to search in. If not specified, the current working directory will be used. IMPORTANT: Omit this field to use the default directory. DO NOT enter "undefined" or "null" - simply omit it for the default behavior. Must be a valid directory path if provided.',
        ),
    },
    async execute(args, ctx) {
      await ctx.ask({
        permission: "glob",
        patterns: [args.pattern],
        always: ["*"],
        metadata: { pattern: args.pattern, path: args.path },
      });
      const directory = ctx.directory ?? deps.directory;
      let search = args.path ?? directory;
      search = path.isAbsolute(search) ? search : path.resolve(directory, search);
      await assertExternalDirectory(ctx, search, "directory");

      const sandbox = await deps.sandboxFor(ctx.sessionID);
      const inSandbox = hostToSandbox(search, deps.directory, sandbox.projectDir);
      let files: string[];
      try {
        files = await globFiles(sandbox, inSandbox, args.pattern, LIMIT, { signal: ctx.abort, ...options });
      } catch (error) {
        if (error instanceof SearchError && error.message === "not a directory")
          throw new Error(`glob path must be a directory: ${search}`);
        throw error;
      }
      // The built-in counts exactly `limit` results as truncated (its service cuts at the limit).
      files = files.slice(0, LIMIT);
      const truncated = files.length === LIMIT;
      const lines: string[] = [];
      if (files.length === 0) lines.push("No files found");
      else {
        lines.push(...files.map((f) => path.resolve(search, f)));
        if (truncated) {
          lines.push("");
          lines.push(`(Results are truncated: showing first ${LIMIT} results. Consider using a more specific path or pattern.)`);
        }
      }
      return {
        title: path.relative(ctx.worktree ?? directory, search),
        metadata: { count: files.length, truncated },
        output: lines.join("\n"),
      };
    },
  });
}
