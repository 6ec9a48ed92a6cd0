/** Tells the model, briefly, where its tools run. */
import type { Hooks } from "@opencode-ai/plugin";

export const SANDBOX_PROMPT_MARKER = "<sandbox>";

export function sandboxPrompt(directory: string): string {
  return [
    SANDBOX_PROMPT_MARKER,
    "Your tools (bash, read, write, edit, apply_patch, glob, grep, webfetch) run in an isolated sandbox, not on the user's machine.",
    `The project is checked out there; refer to it as ${directory} (or with relative paths) as usual. Other absolute paths such as /tmp are the sandbox's own.`,
    "Your changes are committed to a git branch the user reviews when you finish; you do not need to push.",
    "To run a server, start it in the background so the call returns: the bash tool with `background: true` returns a process id at once (read its output with bash_output, stop it with bash_stop), or `npm run dev > /tmp/dev.log 2>&1 &`.",
    "When a server starts listening, the bash result gives the link the user can open, and the user is shown it; the preview_url tool gives the link for any port. Links work while the sandbox runs; when the sandbox is started again, its servers are not running until you start them again.",
    "</sandbox>",
  ].join("\n");
}

export function systemPromptPlugin(directory: string): Hooks {
  const text = sandboxPrompt(directory);
  return {
    async "experimental.chat.system.transform"(_input, output) {
      output.system.push(text);
    },
  };
}
