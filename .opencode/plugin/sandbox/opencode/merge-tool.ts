/** `sandbox_merge`: bring a local ref of the user's repository into the running session's sandbox. */
import { tool } from "@opencode-ai/plugin";
import { isGitSyncError } from "../git/errors.js";
import type { MergeResult } from "../git/service.js";

export function sandboxMergeTool(merge: (sessionID: string, ref: string) => Promise<MergeResult>) {
  return tool({
    description:
      "Merge a branch, tag or commit from the user's local git repository into the sandbox's current branch " +
      "(use when the user asks to bring in their latest local work, e.g. \"merge my latest main\"). " +
      "On conflicts nothing is changed: the merge is aborted and the conflicting files are listed — tell the user; do not guess a resolution.",
    args: {
      ref: tool.schema.string().min(1).describe("A ref of the user's repository, e.g. main, origin/main, v1.2, or a commit id"),
    },
    async execute(args, context) {
      try {
        const result = await merge(context.sessionID, args.ref);
        if (result.kind === "conflict")
          return {
            title: `merge ${args.ref}: conflicts`,
            output: `${result.message}\nConflicting files:\n${result.conflicts.map((f) => `- ${f}`).join("\n")}`,
            metadata: { conflicts: result.conflicts },
          };
        return { title: `merge ${args.ref}`, output: result.message, metadata: { head: result.head } };
      } catch (error) {
        if (isGitSyncError(error)) return { title: `merge ${args.ref}: failed`, output: `Could not merge: ${error.message}` };
        throw error;
      }
    },
  });
}
