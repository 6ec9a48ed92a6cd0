/** Tells the model, briefly, where its tools run. */
import type { Hooks } from "@opencode-ai/plugin";

export const SANDBOX_PROMPT_MARKER = "<sandbox>";

export function sandboxPrompt(directory: string): string {
  return [
    SANDBOX_PROMPT_MARKER,
    "Your tools (bash, read, write, edit, apply_patch, glob, grep, webfetch) run in an isolated sandbox, not on the user's machine.",
    `The project is checked out there; refer to it as ${directory} (or with relative paths) as usual. Other absolute paths such as /tmp are the sandbox's own.`,
    "Your changes are committed to a git branch the user reviews when you finish; you do not need to push.",
    "To run a server, start it in the background so the command returns, e.g. `npm run dev > /tmp/dev.log 2>&1 &`, then call the preview_url tool with its port to get a link the user can open.",
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
